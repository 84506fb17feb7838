/// An open-addressing hash table from lowercased wire-format names to indices: the one name
/// table of Veer, used by the query path (name → node) and the zone validator (owner name →
/// owner), so both hash and compare names the same way.
///
/// Keys live back to back in one byte array, so a lookup hashes the query's name where it
/// lies (in the receive buffer's scratch copy) and compares bytes: no allocation, no String.
public struct NameTable: Sendable {
    /// Keep the table at most half full so probe sequences stay short.
    @usableFromInline static let maxLoadFactor = 2

    @usableFromInline var keyBytes: [UInt8] = []
    @usableFromInline var keyStart: [Int32] = []
    @usableFromInline var keyLength: [UInt8] = []
    @usableFromInline var values: [Int32] = []
    /// Power-of-two sized; each slot holds an entry index + 1, or 0 when empty.
    @usableFromInline var slots: [Int32]
    @usableFromInline var mask: Int

    public init(expectedCount: Int) {
        var size = 16
        while size < expectedCount * Self.maxLoadFactor { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
        // Room for the expected keys up front: a million names regrown by doubling copied
        // (and faulted in) every array again; room never written costs no memory.
        keyStart.reserveCapacity(expectedCount)
        keyLength.reserveCapacity(expectedCount)
        values.reserveCapacity(expectedCount)
        keyBytes.reserveCapacity(expectedCount * Self.typicalKeyLength)
    }

    /// A generous guess at a name's length in wire form, for reserving `keyBytes`.
    static let typicalKeyLength = 32

    public var count: Int { values.count }

    /// Eight bytes at a time (a name is a few words), each word mixed in with a multiply; a
    /// byte-at-a-time hash cost four times as many instructions per query. The last word
    /// overlaps the one before when the length is not a multiple of 8, so every byte counts
    /// and nothing past the key is read; the length is mixed in so that overlap cannot make
    /// two keys of different lengths collide by construction.
    @inlinable @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> Int {
        let count = key.count
        var h = UInt64(truncatingIfNeeded: count) &* 0x9E37_79B9_7F4A_7C15
        guard let base = key.baseAddress else { return Int(truncatingIfNeeded: h) }
        if count >= 8 {
            var i = 0
            while i + 8 < count {
                h = (h ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                h ^= h >> 29
                i += 8
            }
            h = (h ^ base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
        } else {
            var tail: UInt64 = 0
            for i in 0..<count { tail = tail << 8 | UInt64(base.load(fromByteOffset: i, as: UInt8.self)) }
            h = (h ^ tail) &* 0xFF51_AFD7_ED55_8CCD
        }
        h ^= h >> 32
        h = h &* 0xC4CE_B9FE_1A85_EC53
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// Inserts `key` (lowercased wire form) with `value`; the key must not be present.
    public mutating func insert(_ key: [UInt8], value: Int32) {
        key.withUnsafeBytes { insert($0, value: value) }
    }

    /// Inserts `key` (lowercased wire form) with `value`; the key must not be present.
    public mutating func insert(_ key: UnsafeRawBufferPointer, value: Int32) {
        if (values.count + 1) * Self.maxLoadFactor > slots.count { grow() }
        let index = Int32(values.count)
        keyStart.append(Int32(keyBytes.count))
        keyLength.append(UInt8(key.count))
        keyBytes.append(contentsOf: key)
        values.append(value)
        place(entry: index, hash: Self.hash(key))
    }

    private mutating func place(entry: Int32, hash: Int) {
        var slot = hash & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = entry + 1
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        for entry in 0..<values.count {
            let start = Int(keyStart[entry]), length = Int(keyLength[entry])
            let h = keyBytes.withUnsafeBytes { Self.hash(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
            place(entry: Int32(entry), hash: h)
        }
    }

    /// The value for `key` (lowercased wire form), or -1.
    @inlinable @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer) -> Int32 {
        var slot = Self.hash(key) & mask
        return keyBytes.withUnsafeBytes { bytes in
            while true {
                let stored = slots[slot]
                if stored == 0 { return -1 }
                let entry = Int(stored - 1)
                let length = Int(keyLength[entry])
                if length == key.count {
                    let start = Int(keyStart[entry])
                    if memcmpEqual(bytes.baseAddress! + start, key.baseAddress!, length) { return values[entry] }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    public func lookup(_ key: [UInt8]) -> Int32 {
        key.withUnsafeBytes { lookup($0) }
    }

    /// The value for `key` (lowercased wire form) if present; else inserts `key` with `value`
    /// and returns -1. Loading a zone asks this once per name: one hash and one probe
    /// sequence, where `lookup` then `insert` take two.
    public mutating func lookupOrInsert(_ key: UnsafeRawBufferPointer, value: Int32) -> Int32 {
        if (values.count + 1) * Self.maxLoadFactor > slots.count { grow() }
        let hash = Self.hash(key)
        var slot = hash & mask
        let found: Int32? = keyBytes.withUnsafeBytes { bytes in
            while true {
                let stored = slots[slot]
                if stored == 0 { return nil }
                let entry = Int(stored - 1)
                if Int(keyLength[entry]) == key.count,
                   memcmpEqual(bytes.baseAddress! + Int(keyStart[entry]), key.baseAddress!, key.count) {
                    return values[entry]
                }
                slot = (slot + 1) & mask
            }
        }
        if let found { return found }
        let index = Int32(values.count)
        keyStart.append(Int32(keyBytes.count))
        keyLength.append(UInt8(key.count))
        keyBytes.append(contentsOf: key)
        values.append(value)
        slots[slot] = index + 1
        return -1
    }
}

/// Byte equality of two ranges of `count` bytes, eight at a time; a tail of fewer than eight
/// is compared as the last eight bytes again (overlapping) when the range is that long.
@inlinable @inline(__always)
func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    var i = 0
    while i + 8 <= count {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    if i == count { return true }
    if count >= 8 {
        return a.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
