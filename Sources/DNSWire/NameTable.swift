import CHints

/// An open-addressing hash table from lowercased wire-format names to indices: the one name
/// table of Veer, used by the query path (name → node) and the zone validator (owner name →
/// owner), so both hash and compare names the same way.
///
/// Keys live back to back in one byte array, so a lookup hashes the query's name where it
/// lies (in the receive buffer's scratch copy) and compares bytes: no allocation, no String.
public struct NameTable: Sendable {
    /// Keep the table at most half full so probe sequences stay short.
    @usableFromInline static let maxLoadFactor = 2

    /// Each entry back to back: its value (4 bytes, native order, unaligned) then its key.
    @usableFromInline var keyBytes: [UInt8] = []
    /// Power-of-two sized; 0 when empty, else an entry: the offset of its value in
    /// `keyBytes` (bits 0-31), its key's length (bits 32-39, never 0: a name has at least
    /// its root byte) and the top 24 bits of its key's hash (bits 40-63). A probe compares
    /// the length and hash bits in the slot before it reads any key, so the probe of a
    /// name that is not there, or past other names, touches no memory but the slots; a hit
    /// then reads one place for the key and the value. (Indices into arrays of key starts,
    /// lengths and values cost up to four cache misses per slot probed.)
    @usableFromInline var slots: [UInt64]
    @usableFromInline var mask: Int
    public private(set) var count = 0

    public init(expectedCount: Int) {
        var size = 16
        while size < expectedCount * Self.maxLoadFactor { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        // Room for the expected keys up front: a million names regrown by doubling copied
        // (and faulted in) every array again; room never written costs no memory.
        keyBytes.reserveCapacity(expectedCount * Self.typicalEntryLength)
    }

    /// A generous guess at an entry's length (value and name in wire form), for reserving `keyBytes`.
    static let typicalEntryLength = 36

    /// Bytes of the value stored before each key.
    @usableFromInline static let valueSize = 4

    /// The slot bits that must match for a key of `length` bytes with hash `hash`: its length
    /// and hash tag. A length over 255 (no name's) gets length bits 0, which no entry has.
    @inlinable @inline(__always)
    static func check(hash: Int, length: Int) -> UInt64 {
        UInt64(truncatingIfNeeded: hash) & 0xFFFF_FF00_0000_0000 | UInt64(truncatingIfNeeded: length <= 0xFF ? length : 0) << 32
    }

    /// Eight bytes at a time (a name is a few words), each word mixed in with a multiply; a
    /// byte-at-a-time hash cost four times as many instructions per query. The last word
    /// overlaps the one before when the length is not a multiple of 8, so every byte counts
    /// and nothing past the key is read; the length is mixed in so that overlap cannot make
    /// two keys of different lengths collide by construction.
    @inlinable @inline(__always)
    public static func hash(_ key: UnsafeRawBufferPointer) -> Int {
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

    /// Stores `key` and `value` at the end of `keyBytes`; returns the slot word for them.
    private mutating func append(_ key: UnsafeRawBufferPointer, value: Int32, hash: Int) -> UInt64 {
        precondition(key.count > 0 && key.count <= Int(UInt8.max) && keyBytes.count <= Int(UInt32.max) - Self.valueSize - key.count,
                     "name table key out of range")
        let start = keyBytes.count
        withUnsafeBytes(of: value) { keyBytes.append(contentsOf: $0) }
        keyBytes.append(contentsOf: key)
        count += 1
        return Self.check(hash: hash, length: key.count) | UInt64(start)
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        keyBytes.withUnsafeBytes { bytes in
            for stored in old where stored != 0 {
                let start = Int(stored & 0xFFFF_FFFF) + Self.valueSize, length = Int(stored >> 32 & 0xFF)
                var slot = Self.hash(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])) & mask
                while slots[slot] != 0 { slot = (slot + 1) & mask }
                slots[slot] = stored
            }
        }
    }

    /// The value for `key` (lowercased wire form), or -1.
    @inlinable @inline(__always)
    public func lookup(_ key: UnsafeRawBufferPointer) -> Int32 {
        let hash = Self.hash(key)
        var slot = hash & mask
        let check = Self.check(hash: hash, length: key.count)
        return keyBytes.withUnsafeBytes { bytes in
            while true {
                let stored = slots[slot]
                if stored == 0 { return -1 }
                if stored & 0xFFFF_FFFF_0000_0000 == check {
                    let entry = bytes.baseAddress! + Int(stored & 0xFFFF_FFFF)
                    if memcmpEqual(entry + Self.valueSize, key.baseAddress!, key.count) {
                        return entry.loadUnaligned(as: Int32.self)
                    }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    public func lookup(_ key: [UInt8]) -> Int32 {
        key.withUnsafeBytes { lookup($0) }
    }

    /// The value for `key` (lowercased wire form) if present; else inserts `key` with `value`
    /// and returns -1: one hash and one probe sequence per name while a zone loads. The only
    /// way in, so a name is never in the table twice.
    public mutating func lookupOrInsert(_ key: UnsafeRawBufferPointer, value: Int32) -> Int32 {
        lookupOrInsert(key, hash: Self.hash(key), value: value)
    }

    /// `lookupOrInsert` for a key whose `hash` the caller computed (to `prefetch` it first).
    public mutating func lookupOrInsert(_ key: UnsafeRawBufferPointer, hash: Int, value: Int32) -> Int32 {
        if (count + 1) * Self.maxLoadFactor > slots.count { grow() }
        var slot = hash & mask
        let check = Self.check(hash: hash, length: key.count)
        let found: Int32? = keyBytes.withUnsafeBytes { bytes in
            while true {
                let stored = slots[slot]
                if stored == 0 { return nil }
                if stored & 0xFFFF_FFFF_0000_0000 == check {
                    let entry = bytes.baseAddress! + Int(stored & 0xFFFF_FFFF)
                    if memcmpEqual(entry + Self.valueSize, key.baseAddress!, key.count) {
                        return entry.loadUnaligned(as: Int32.self)
                    }
                }
                slot = (slot + 1) & mask
            }
        }
        if let found { return found }
        slots[slot] = append(key, value: value, hash: hash)
        return -1
    }
}

extension NameTable {
    /// Starts fetching the first slot a key with `hash` probes, without waiting for it. A
    /// million names probe a table many times the size of the caches, each at a random place:
    /// looking up or inserting them one by one waited for each slot in turn (nine tenths of
    /// the time of building the table). Prefetched a few names ahead, the misses overlap.
    @inlinable @inline(__always)
    public func prefetch(hash: Int) {
        slots.withUnsafeBufferPointer { chints_prefetch($0.baseAddress! + (hash & mask)) }
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
