/// Writes a DNS message into a caller-owned buffer, with name compression (RFC 1035 §4.1.4).
///
/// Made once per thread and reused with `reset(_:)`: its compression table keeps its capacity,
/// so building an answer allocates nothing.
public struct WireWriter {
    /// Compression pointers hold a 14-bit offset; names written later than this cannot be targets.
    public static let maxPointerOffset = 0x3FFF
    /// Names remembered as compression targets; answers that need more just compress less.
    public static let maxCompressionTargets = 64

    // The stored properties are usable from inlinable code so that the primitives below
    // inline into the server's answering code in another module (a call each cost more than
    // the write itself); the public view of them stays read-only.
    @usableFromInline var storage: UnsafeMutableRawBufferPointer
    @usableFromInline var written: Int = 0
    @usableFromInline var end: Int
    /// Offsets of labels already in the message that later names may point to, in place
    /// (no array to clear per message).
    private var targets = InlineArray<64, UInt16>(repeating: 0)
    /// The decompressed length of the name at each target: a name can only match a target of
    /// its own length, so most candidates are passed over without reading the message.
    private var targetLengths = InlineArray<64, UInt8>(repeating: 0)
    private var targetCount = 0
    /// A name already in the message (the echoed question) whose labels become targets the
    /// first time a name is written, or -1: most answers write no name at all.
    private var pendingName = -1
    /// A name copied into the message whose labels become targets with the pending name's
    /// (`addCompressionTargets(ofNameAt:)`), or -1.
    private var pendingCopy = -1

    public var buffer: UnsafeMutableRawBufferPointer { storage }
    /// Bytes written so far.
    public var count: Int { written }
    /// Where usable space ends (the client's size limit, or the buffer).
    public var limit: Int { end }
    /// False once `maxCompressionTargets` names are remembered: a name written from then on
    /// is not one later names can point to. (Names waiting to be registered are not counted.)
    public var hasRoomForTargets: Bool { targetCount < Self.maxCompressionTargets }

    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        storage = buffer
        end = buffer.count
    }

    /// Starts a new message in `buffer`, keeping the compression table's storage.
    public mutating func reset(_ buffer: UnsafeMutableRawBufferPointer) {
        storage = buffer
        end = buffer.count
        written = 0
        targetCount = 0
        pendingName = -1
        pendingCopy = -1
    }

    /// Lowers the writable limit (e.g. to the client's UDP payload size).
    @inlinable
    public mutating func setLimit(_ newLimit: Int) { end = min(newLimit, storage.count) }

    /// Forgets everything after `mark` (to drop a record that did not fit).
    public mutating func rewind(to mark: Int) {
        written = mark
        while targetCount > 0, Int(targets[targetCount - 1]) >= mark { targetCount -= 1 }
        if pendingName >= mark { pendingName = -1 }
        if pendingCopy >= mark { pendingCopy = -1 }
    }

    @inlinable @inline(__always)
    public mutating func u8(_ value: UInt8) throws(WireError) {
        guard written < end else { throw WireError(.noSpace, field: "u8", offset: written) }
        storage[written] = value
        written += 1
    }

    @inlinable @inline(__always)
    public mutating func u16(_ value: UInt16) throws(WireError) {
        guard written + 2 <= end else { throw WireError(.noSpace, field: "u16", offset: written) }
        storage.storeBytes(of: value.bigEndian, toByteOffset: written, as: UInt16.self)
        written += 2
    }

    @inlinable @inline(__always)
    public mutating func u32(_ value: UInt32) throws(WireError) {
        guard written + 4 <= end else { throw WireError(.noSpace, field: "u32", offset: written) }
        storage.storeBytes(of: value.bigEndian, toByteOffset: written, as: UInt32.self)
        written += 4
    }

    public mutating func bytes(_ bytes: [UInt8]) throws(WireError) {
        guard written + bytes.count <= end else { throw WireError(.noSpace, field: "bytes", offset: written) }
        for (k, byte) in bytes.enumerated() { storage[written + k] = byte }
        written += bytes.count
    }

    @inlinable @inline(__always)
    public mutating func bytes(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        guard written + bytes.count <= end else { throw WireError(.noSpace, field: "bytes", offset: written) }
        if bytes.count > 0 {
            (storage.baseAddress! + written).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        written += bytes.count
    }

    /// Overwrites a 16-bit value already written (RDLENGTH, section counts).
    @inlinable @inline(__always)
    public mutating func patch16(_ value: UInt16, at offset: Int) {
        precondition(offset >= 0 && offset + 2 <= written, "patch16 outside what was written")
        storage.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// Overwrites the header (its 12 octets already written) with two stores instead of six.
    @inlinable @inline(__always)
    public mutating func patchHeader(id: UInt16, flags: UInt16, counts: (UInt16, UInt16, UInt16, UInt16)) {
        precondition(written >= Header.size, "patchHeader before the header was written")
        let first = UInt32(id) << 16 | UInt32(flags)
        let rest = UInt64(counts.0) << 48 | UInt64(counts.1) << 32 | UInt64(counts.2) << 16 | UInt64(counts.3)
        storage.storeBytes(of: first.bigEndian, toByteOffset: 0, as: UInt32.self)
        storage.storeBytes(of: rest.bigEndian, toByteOffset: 4, as: UInt64.self)
    }

    private mutating func addTarget(_ offset: Int, length: Int) {
        guard offset <= Self.maxPointerOffset, targetCount < Self.maxCompressionTargets else { return }
        targets[targetCount] = UInt16(offset)
        targetLengths[targetCount] = UInt8(truncatingIfNeeded: length)
        targetCount += 1
    }

    /// The decompressed length of the name at `offset` in what was written, or nil if it is
    /// not a well-formed name there.
    private func nameLength(at offset: Int) -> Int? {
        var position = offset
        var length = 0
        var hops = 0
        while position < written {
            let label = Int(storage[position])
            if label & Int(DomainName.labelTypeMask) == Int(DomainName.pointerLabel) {
                hops += 1
                guard hops <= WireReader.maxPointerHops, position + 1 < written else { return nil }
                position = (label & Int(DomainName.pointerOffsetMask)) << 8 | Int(storage[position + 1])
                continue
            }
            guard label & Int(DomainName.labelTypeMask) == 0 else { return nil }
            length += 1 + label
            if label == 0 { return length <= DomainName.maxWireLength ? length : nil }
            position += 1 + label
        }
        return nil
    }

    /// Makes the name at `offset` and each of its suffixes (`example.com.` inside
    /// `www.example.com.`) compression targets, when the next name is written. The name must
    /// already be in the message, uncompressed.
    public mutating func addCompressionTargets(suffixesOfNameAt offset: Int) {
        pendingName = offset
    }

    /// Makes the labels of the name at `offset`, copied into the message as `name(_:)` would
    /// have written it (labels, then perhaps a pointer), compression targets, as `name(_:)`
    /// would have made them: for a record copied in whole, so that the names written after
    /// it compress as they would after the record written name by name.
    /// Like the question's, they are registered only when a name is next written (most
    /// answers write none after a copied record).
    public mutating func addCompressionTargets(ofNameAt offset: Int) {
        if pendingName >= 0 {
            if pendingCopy >= 0 { registerPendingName() } else { pendingCopy = offset; return }
        }
        registerCopiedName(at: offset)
    }

    /// Registers the labels of the name copied at `offset` (see
    /// `addCompressionTargets(ofNameAt:)`).
    private mutating func registerCopiedName(at offset: Int) {
        guard let total = nameLength(at: offset) else { return }
        var at = offset
        while at < written, storage[at] != 0, storage[at] & DomainName.labelTypeMask == 0 {
            addTarget(at, length: total - (at - offset))
            at += 1 + Int(storage[at])
        }
    }

    /// Registers the pending name's labels (see `addCompressionTargets(suffixesOfNameAt:)`).
    /// Then the copied name's, when one is pending.
    private mutating func registerPendingName() {
        let start = pendingName
        pendingName = -1
        if let total = nameLength(at: start) {
            var offset = start
            while offset < written, storage[offset] != 0, storage[offset] & DomainName.labelTypeMask == 0 {
                addTarget(offset, length: total - (offset - start))
                offset += 1 + Int(storage[offset])
            }
        }
        if pendingCopy >= 0 {
            let copy = pendingCopy
            pendingCopy = -1
            registerCopiedName(at: copy)
        }
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
        if compress && pendingName >= 0 { registerPendingName() }
        var total = 0
        while wire[total] != 0 { total += 1 + Int(wire[total]) }
        total += 1
        var suffix = 0
        while wire[suffix] != 0 {
            if compress, let target = findTarget(wire, from: suffix, length: total - suffix) {
                try bytes(UnsafeRawBufferPointer(rebasing: wire[0..<suffix]))
                rememberLabels(start: written - suffix, wire: wire, upTo: suffix, length: total)
                try u16(DomainName.pointerFlags | UInt16(targets[target]))
                return
            }
            suffix += 1 + Int(wire[suffix])
        }
        let start = written
        try bytes(UnsafeRawBufferPointer(rebasing: wire[0...suffix]))
        if compress { rememberLabels(start: start, wire: wire, upTo: suffix, length: total) }
    }

    /// Registers the labels before `end` of the name `wire` (decompressed length `length`),
    /// just written at `start`.
    private mutating func rememberLabels(start: Int, wire: UnsafeRawBufferPointer, upTo end: Int, length: Int) {
        var k = 0
        while k < end {
            addTarget(start + k, length: length - k)
            k += 1 + Int(wire[k])
        }
    }

    /// The index of a remembered target whose name equals `wire[from...]` (`length` bytes),
    /// ignoring case.
    private func findTarget(_ wire: UnsafeRawBufferPointer, from start: Int, length: Int) -> Int? {
        for k in 0..<targetCount where Int(targetLengths[k]) == length
            && nameInMessage(at: Int(targets[k]), equals: wire, from: start) {
            return k
        }
        return nil
    }

    /// Compares the (possibly compressed) name at `offset` in our own output with `wire[from...]`.
    private func nameInMessage(at offset: Int, equals wire: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var position = offset
        var k = start
        var hops = 0
        while true {
            let length = Int(storage[position])
            if length & Int(DomainName.labelTypeMask) == Int(DomainName.pointerLabel) {
                hops += 1
                guard hops <= WireReader.maxPointerHops else { return false }
                position = (length & Int(DomainName.pointerOffsetMask)) << 8 | Int(storage[position + 1])
                continue
            }
            guard length == Int(wire[k]) else { return false }
            if length == 0 { return true }
            for j in 1...length where asciiLower(storage[position + j]) != asciiLower(wire[k + j]) {
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
