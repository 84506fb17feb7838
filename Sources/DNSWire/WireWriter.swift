/// Writes a DNS message into a caller-owned buffer, with name compression (RFC 1035 §4.1.4).
///
/// Made once per thread and reused with `reset(_:)`: its compression table keeps its capacity,
/// so building an answer allocates nothing.
public struct WireWriter {
    /// Compression pointers hold a 14-bit offset; names written later than this cannot be targets.
    public static let maxPointerOffset = 0x3FFF
    /// Names remembered as compression targets; answers that need more just compress less.
    public static let maxCompressionTargets = 64

    public private(set) var buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far.
    public private(set) var count: Int = 0
    /// Where usable space ends (the client's size limit, or the buffer).
    public private(set) var limit: Int
    /// Offsets of labels already in the message that later names may point to.
    private var targets: [UInt16] = []

    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
        self.limit = buffer.count
        targets.reserveCapacity(Self.maxCompressionTargets)
    }

    /// Starts a new message in `buffer`, keeping the compression table's storage.
    public mutating func reset(_ buffer: UnsafeMutableRawBufferPointer) {
        self.buffer = buffer
        self.limit = buffer.count
        count = 0
        targets.removeAll(keepingCapacity: true)
    }

    /// Lowers the writable limit (e.g. to the client's UDP payload size).
    public mutating func setLimit(_ newLimit: Int) { limit = min(newLimit, buffer.count) }

    /// Forgets everything after `mark` (to drop a record that did not fit).
    public mutating func rewind(to mark: Int) {
        count = mark
        while let last = targets.last, Int(last) >= mark { targets.removeLast() }
    }

    @inline(__always)
    public mutating func u8(_ value: UInt8) throws(WireError) {
        guard count < limit else { throw WireError(.noSpace, field: "u8", offset: count) }
        buffer[count] = value
        count += 1
    }

    @inline(__always)
    public mutating func u16(_ value: UInt16) throws(WireError) {
        guard count + 2 <= limit else { throw WireError(.noSpace, field: "u16", offset: count) }
        buffer[count] = UInt8(value >> 8)
        buffer[count + 1] = UInt8(value & 0xFF)
        count += 2
    }

    @inline(__always)
    public mutating func u32(_ value: UInt32) throws(WireError) {
        guard count + 4 <= limit else { throw WireError(.noSpace, field: "u32", offset: count) }
        buffer[count] = UInt8(value >> 24)
        buffer[count + 1] = UInt8((value >> 16) & 0xFF)
        buffer[count + 2] = UInt8((value >> 8) & 0xFF)
        buffer[count + 3] = UInt8(value & 0xFF)
        count += 4
    }

    public mutating func bytes(_ bytes: [UInt8]) throws(WireError) {
        guard count + bytes.count <= limit else { throw WireError(.noSpace, field: "bytes", offset: count) }
        for (k, byte) in bytes.enumerated() { buffer[count + k] = byte }
        count += bytes.count
    }

    public mutating func bytes(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard count + bytes.count <= limit else { throw WireError(.noSpace, field: "bytes", offset: count) }
        if bytes.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + bytes.count)]).copyMemory(from: bytes)
        }
        count += bytes.count
    }

    /// Overwrites a 16-bit value already written (RDLENGTH, section counts).
    public mutating func patch16(_ value: UInt16, at offset: Int) {
        buffer[offset] = UInt8(value >> 8)
        buffer[offset + 1] = UInt8(value & 0xFF)
    }

    /// Marks the name that starts at `offset` (already in the message, e.g. the echoed
    /// question) as a compression target.
    public mutating func addCompressionTarget(_ offset: Int) {
        guard offset <= Self.maxPointerOffset, targets.count < Self.maxCompressionTargets else { return }
        targets.append(UInt16(offset))
    }

    /// Writes `name` (uncompressed wire form), pointing to an earlier copy of its longest
    /// possible suffix when `compress` is set.
    public mutating func name(_ wire: [UInt8], compress: Bool = true) throws(WireError) {
        var failure: WireError?
        wire.withUnsafeBytes { raw in
            do throws(WireError) { try name(raw, compress: compress) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public mutating func name(_ name: DomainName, compress: Bool = true) throws(WireError) {
        try self.name(name.wire, compress: compress)
    }

    /// Writes a name given as uncompressed wire bytes.
    public mutating func name(_ wire: UnsafeRawBufferPointer, compress: Bool = true) throws(WireError) {
        var suffix = 0
        while wire[suffix] != 0 {
            if compress, let target = findTarget(wire, from: suffix) {
                try bytes(UnsafeRawBufferPointer(rebasing: wire[0..<suffix]))
                rememberLabels(start: count - suffix, wire: wire, upTo: suffix)
                try u16(0xC000 | UInt16(target))
                return
            }
            suffix += 1 + Int(wire[suffix])
        }
        let start = count
        try bytes(UnsafeRawBufferPointer(rebasing: wire[0...suffix]))
        if compress { rememberLabels(start: start, wire: wire, upTo: suffix) }
    }

    private mutating func rememberLabels(start: Int, wire: UnsafeRawBufferPointer, upTo end: Int) {
        var k = 0
        while k < end {
            addCompressionTarget(start + k)
            k += 1 + Int(wire[k])
        }
    }

    /// A remembered offset whose name equals `wire[from...]`, ignoring case.
    private func findTarget(_ wire: UnsafeRawBufferPointer, from start: Int) -> Int? {
        for target in targets where nameInMessage(at: Int(target), equals: wire, from: start) {
            return Int(target)
        }
        return nil
    }

    /// Compares the (possibly compressed) name at `offset` in our own output with `wire[from...]`.
    private func nameInMessage(at offset: Int, equals wire: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var position = offset
        var k = start
        var hops = 0
        while true {
            let length = Int(buffer[position])
            if length & 0xC0 == 0xC0 {
                hops += 1
                guard hops <= WireReader.maxPointerHops else { return false }
                position = (length & 0x3F) << 8 | Int(buffer[position + 1])
                continue
            }
            guard length == Int(wire[k]) else { return false }
            if length == 0 { return true }
            for j in 1...length where asciiLower(buffer[position + j]) != asciiLower(wire[k + j]) {
                return false
            }
            position += 1 + length
            k += 1 + length
        }
    }
}

extension WireWriter {
    /// Runs `body` with a writer over a temporary buffer of `capacity` bytes and returns what
    /// it wrote (for tests and tools; the server writes into its own reused buffers).
    public static func build(capacity: Int = 65535, _ body: (inout WireWriter) throws(WireError) -> Void) throws(WireError) -> [UInt8] {
        var result: Result<[UInt8], WireError> = .success([])
        withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 1) { buffer in
            var writer = WireWriter(buffer)
            do throws(WireError) {
                try body(&writer)
                result = .success(Array(buffer[0..<writer.count]))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }
}
