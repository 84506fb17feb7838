import Synchronization

/// The client keys one server thread answered `select=client` names for, with counts: what
/// `status NAME`, the metrics and `--dry-run` read to show cohorts. A fixed table, written
/// by its thread only (relaxed loads and stores, no lock, no allocation per query), read by
/// the control side.
///
/// Direct-mapped by a hash of (key, slot). A key that finds its entry adds one; one that
/// finds another key's entry takes one from it and takes the entry over when it reaches 0.
/// Heavy keys keep their entries and light ones churn (a deterministic cousin of
/// HeavyKeeper), so the table holds the top keys and a sample of the rest.
public final class CohortSampler: Sendable {
    /// Entries per thread: 64 KiB, enough for the few hundred keys that carry most traffic.
    public static let entries = 4096
    /// Meta word: slot in the top 24 bits, count in the low 40.
    static let countBits: UInt64 = 40
    static let countMask: UInt64 = (1 << 40) - 1

    /// Per entry: the key's raw word, then its meta word.
    private let storage = AtomicWords(count: 2 * CohortSampler.entries)
    private var words: UnsafeMutablePointer<Atomic<UInt64>> { storage.base }

    public init() {}

    /// Counts one answer to `key` from `slot`. Call only from the owning thread.
    @inline(__always)
    public func record(_ key: CohortKey, slot: Int) {
        let index = Int(truncatingIfNeeded: Cohort.mix(key.raw &+ UInt64(slot)) & UInt64(Self.entries - 1))
        let keyWord = words + 2 * index
        let metaWord = keyWord + 1
        let meta = metaWord.pointee.load(ordering: .relaxed)
        let count = meta & Self.countMask
        let slotBits = UInt64(truncatingIfNeeded: slot) << Self.countBits
        if count > 0 && keyWord.pointee.load(ordering: .relaxed) == key.raw && meta & ~Self.countMask == slotBits {
            if count < Self.countMask { metaWord.pointee.store(meta &+ 1, ordering: .relaxed) }
        } else if count <= 1 {
            keyWord.pointee.store(key.raw, ordering: .relaxed)
            metaWord.pointee.store(slotBits | 1, ordering: .relaxed)
        } else {
            metaWord.pointee.store(meta &- 1, ordering: .relaxed)
        }
    }

    /// Every entry in use: (key, slot, count). An entry being rewritten while read may be
    /// skipped; the counts are a sample, not an account.
    public func entries() -> [CohortSample] {
        var out: [CohortSample] = []
        for index in 0..<Self.entries {
            let meta = (words + 2 * index + 1).pointee.load(ordering: .relaxed)
            let key = (words + 2 * index).pointee.load(ordering: .relaxed)
            guard meta & Self.countMask > 0, (words + 2 * index + 1).pointee.load(ordering: .relaxed) == meta else { continue }
            out.append(CohortSample(key: CohortKey(raw: key), slot: Int(meta >> Self.countBits), count: meta & Self.countMask))
        }
        return out
    }

    /// Halves every count, so the table follows what is seen now ("recent" keys). Racing
    /// the owner's increments loses at most a few counts.
    public func age() {
        for index in 0..<Self.entries {
            let metaWord = words + 2 * index + 1
            let meta = metaWord.pointee.load(ordering: .relaxed)
            let count = meta & Self.countMask
            guard count > 0 else { continue }
            metaWord.pointee.store(meta & ~Self.countMask | count / 2, ordering: .relaxed)
        }
    }
}

/// One sampled client key: the endpoint slot it was answered with and how often.
public struct CohortSample: Sendable, Equatable {
    public let key: CohortKey
    public let slot: Int
    public let count: UInt64

    public init(key: CohortKey, slot: Int, count: UInt64) {
        self.key = key
        self.slot = slot
        self.count = count
    }
}
