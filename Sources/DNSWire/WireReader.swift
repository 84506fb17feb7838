/// A bounds-checked cursor over a DNS message. Every read checks the remaining length and
/// throws a `WireError` naming the field and offset; names are decompressed with the guards
/// of RFC 1035 §4.1.4 (pointers strictly backwards, a hop cap, 63/255 octet limits, no
/// reserved label types).
///
/// The reader does not own the bytes: it must not outlive the buffer it was made from.
public struct WireReader {
    /// The most compression pointers a valid name can need: one per label, and a 255-octet
    /// name has at most 127 labels.
    public static let maxPointerHops = 127

    /// The whole message, so that compression pointers can reach anywhere before them.
    public let message: UnsafeRawBufferPointer
    /// The next byte to read.
    public private(set) var offset: Int
    /// Linear reads stop here (the end of the message, or of one RDATA).
    public let end: Int

    public init(_ message: UnsafeRawBufferPointer, offset: Int = 0, end: Int? = nil) {
        self.message = message
        self.offset = offset
        self.end = end ?? message.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    @inline(__always)
    mutating func need(_ count: Int, _ field: StaticString) throws(WireError) {
        guard count <= end - offset else { throw WireError(.truncated, field: "\(field)", offset: offset) }
    }

    public mutating func u8(_ field: StaticString) throws(WireError) -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return message[offset]
    }

    public mutating func u16(_ field: StaticString) throws(WireError) -> UInt16 {
        try need(2, field)
        defer { offset += 2 }
        return UInt16(message[offset]) << 8 | UInt16(message[offset + 1])
    }

    public mutating func u32(_ field: StaticString) throws(WireError) -> UInt32 {
        try need(4, field)
        defer { offset += 4 }
        return UInt32(message[offset]) << 24 | UInt32(message[offset + 1]) << 16
            | UInt32(message[offset + 2]) << 8 | UInt32(message[offset + 3])
    }

    public mutating func u64(_ field: StaticString) throws(WireError) -> UInt64 {
        let high = try u32(field)
        return UInt64(high) << 32 | UInt64(try u32(field))
    }

    public mutating func bytes(_ count: Int, _ field: StaticString) throws(WireError) -> [UInt8] {
        try need(count, field)
        defer { offset += count }
        return Array(message[offset..<(offset + count)])
    }

    public mutating func skip(_ count: Int, _ field: StaticString) throws(WireError) {
        try need(count, field)
        offset += count
    }

    /// Moves past a name without decoding it: labels up to the root, or up to a compression
    /// pointer. Every step consumes input, so it ends within the message.
    public mutating func skipName(_ field: StaticString) throws(WireError) {
        while true {
            let length = try u8(field)
            if length == 0 { return }
            if length & 0xC0 == 0xC0 { return try skip(1, field) }
            guard length & 0xC0 == 0 else { throw WireError(.invalid, field: "\(field)", offset: offset - 1) }
            try skip(Int(length), field)
        }
    }

    /// A reader over the next `length` bytes (one RDATA), so that its decoder cannot overrun
    /// the record; this reader moves past them.
    public mutating func sub(_ length: Int, _ field: StaticString) throws(WireError) -> WireReader {
        try need(length, field)
        defer { offset += length }
        return WireReader(message, offset: offset, end: offset + length)
    }

    /// Decompresses the name at the cursor into `out` (at least 255 bytes) and returns its
    /// wire length. With `lowercase`, ASCII letters are folded. Allocates nothing.
    public mutating func name(into out: UnsafeMutableRawBufferPointer, lowercase: Bool = false,
                              _ field: StaticString = "name") throws(WireError) -> Int {
        if let length = uncompressedName(into: out, lowercase: lowercase) { return length }
        var position = offset
        var limit = end            // linear bound; after a jump, the pointer's own position
        var resumeAt = -1          // where this reader continues after the first pointer
        var hops = 0
        var written = 0
        while true {
            guard position < limit else { throw WireError(.truncated, field: "\(field)", offset: position) }
            let length = Int(message[position])
            switch length & Int(DomainName.labelTypeMask) {
            case Int(DomainName.pointerLabel):
                guard position + 1 < limit else { throw WireError(.truncated, field: "\(field)", offset: position) }
                let target = (length & Int(DomainName.pointerOffsetMask)) << 8 | Int(message[position + 1])
                if target == position { throw WireError(.pointerLoop, field: "\(field)", offset: position) }
                if target > position { throw WireError(.forwardPointer, field: "\(field)", offset: position) }
                hops += 1
                if hops > Self.maxPointerHops { throw WireError(.pointerLoop, field: "\(field)", offset: position) }
                if resumeAt < 0 { resumeAt = position + 2 }
                limit = position
                position = target
            case 0x40, 0x80:
                throw WireError(.reservedLabelType, field: "\(field)", offset: position)
            default:
                if length == 0 {
                    guard written < DomainName.maxWireLength else {
                        throw WireError(.nameTooLong, field: "\(field)", offset: position)
                    }
                    out[written] = 0
                    written += 1
                    offset = resumeAt >= 0 ? resumeAt : position + 1
                    return written
                }
                guard position + 1 + length <= limit else {
                    throw WireError(.truncated, field: "\(field)", offset: position)
                }
                // Room for this label and the root label that must still follow.
                guard written + 1 + length + 1 <= DomainName.maxWireLength else {
                    throw WireError(.nameTooLong, field: "\(field)", offset: position)
                }
                out[written] = UInt8(length)
                for k in 1...length {
                    let byte = message[position + k]
                    out[written + k] = lowercase ? asciiLower(byte) : byte
                }
                written += 1 + length
                position += 1 + length
            }
        }
    }

    /// The common case, a name without compression pointers (every question a resolver
    /// sends), read by `plainName(in:at:into:lowercase:)`.
    @inline(__always)
    private mutating func uncompressedName(into out: UnsafeMutableRawBufferPointer, lowercase: Bool) -> Int? {
        let total = Self.plainName(in: UnsafeRawBufferPointer(rebasing: message[..<end]), at: offset, into: out, lowercase: lowercase)
        guard total > 0 else { return nil }
        offset += total
        return total
    }

    /// Copies the name at `offset` of `message` into `out` (lowercased when asked) if it has
    /// no compression pointer, and returns its length; 0, having written nothing, for anything
    /// else — a pointer, a reserved label type, a label past the end, a name over 255 octets
    /// — which `name(into:lowercase:_:)` then reads or rejects with the precise error.
    /// Inlinable, so the question of every query is read without a call: the label lengths
    /// are walked first, then the name is copied eight bytes at a time.
    @inlinable @inline(__always)
    public static func plainName(in message: UnsafeRawBufferPointer, at offset: Int,
                                 into out: UnsafeMutableRawBufferPointer, lowercase: Bool) -> Int {
        guard offset >= 0, let from = message.baseAddress.map({ $0 + offset }), let to = out.baseAddress else { return 0 }
        let available = message.count - offset
        var scan = 0
        while true {
            guard scan < available else { return 0 }
            let length = Int(from.load(fromByteOffset: scan, as: UInt8.self))
            if length == 0 { break }
            guard length <= DomainName.maxLabelLength else { return 0 }
            scan += 1 + length
            // Stop at the longest legal name rather than walking the rest of the message.
            guard scan < DomainName.maxWireLength else { return 0 }
        }
        let total = scan + 1
        guard out.count >= total else { return 0 }
        // The name's total bytes lie inside the message and fit in `out`; length octets
        // (≤ 63) are below "A", so lowercasing leaves them alone.
        guard lowercase else {
            to.copyMemory(from: from, byteCount: total)
            return total
        }
        var k = 0
        while k + 8 <= total {
            (to + k).storeBytes(of: asciiLower(word: from.loadUnaligned(fromByteOffset: k, as: UInt64.self)), as: UInt64.self)
            k += 8
        }
        if k < total {
            if total >= 8 {
                // The last eight bytes again, overlapping what was copied: no byte loop.
                (to + total - 8).storeBytes(
                    of: asciiLower(word: from.loadUnaligned(fromByteOffset: total - 8, as: UInt64.self)), as: UInt64.self)
            } else {
                while k < total {
                    (to + k).storeBytes(of: asciiLower(from.load(fromByteOffset: k, as: UInt8.self)), as: UInt8.self)
                    k += 1
                }
            }
        }
        return total
    }

    /// Decompresses the name at the cursor.
    public mutating func name(_ field: StaticString = "name") throws(WireError) -> DomainName {
        var result: Result<DomainName, WireError> = .success(.root)
        withUnsafeTemporaryAllocation(byteCount: DomainName.maxWireLength, alignment: 1) { buffer in
            do throws(WireError) {
                let length = try self.name(into: buffer, field)
                result = .success(DomainName(uncheckedWire: Array(buffer[0..<length])))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }
}

extension WireReader {
    /// Runs `body` with a reader over `bytes`.
    public static func with<R>(_ bytes: [UInt8], _ body: (inout WireReader) throws(WireError) -> R) throws(WireError) -> R {
        var result: Result<R, WireError>!
        bytes.withUnsafeBytes { raw in
            var reader = WireReader(raw)
            do throws(WireError) { result = .success(try body(&reader)) } catch { result = .failure(error) }
        }
        return try result.get()
    }
}
