import Synchronization

/// Answers served per endpoint slot, counted by one server thread and summed by readers.
///
/// Only the owning thread writes, so an increment is a relaxed load and store (no locked
/// read-modify-write, no contention); readers on other threads load relaxed and sum every
/// thread's block (per-thread counters summed on read, as gdnsd's stats do).
public final class ServedCounters: Sendable {
    /// Slots this block can count; a thread that meets a higher slot gets a new, larger block.
    public let capacity: Int
    private let words: AtomicWords
    private var values: UnsafeMutablePointer<Atomic<UInt64>> { words.base }

    public init(capacity: Int) {
        self.capacity = capacity
        words = AtomicWords(count: capacity)
    }

    /// Counts one answer for `slot`. Call only from the owning thread.
    @inline(__always)
    public func increment(_ slot: Int) {
        let counter = values + slot
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// The count for `slot` (0 past the capacity).
    public func value(_ slot: Int) -> UInt64 {
        slot < capacity ? (values + slot).pointee.load(ordering: .relaxed) : 0
    }
}

/// Every thread's counter blocks, old ones included (a block that was outgrown keeps its
/// final counts, and the new block starts at zero, so sums stay right).
public final class CounterRegistry: Sendable {
    private let blocks = Mutex<[ServedCounters]>([])
    private let queryBlocks = Mutex<[QueryCounters]>([])
    /// Answers of `select=client` names by slot and key kind: `slot * 2` from ECS, `+ 1` from
    /// the resolver's address.
    private let kindBlocks = Mutex<[ServedCounters]>([])
    private let samplers = Mutex<[CohortSampler]>([])

    public init() {}

    /// A new block of by-key-kind counters for one thread (capacity in slots).
    public func makeKindBlock(capacity: Int) -> ServedCounters {
        let block = ServedCounters(capacity: 2 * capacity)
        kindBlocks.withLock { $0.append(block) }
        return block
    }

    /// Per slot 0..<count: answers keyed by ECS and by resolver address, summed over threads.
    public func kindTotals(count: Int) -> [(ecs: UInt64, resolver: UInt64)] {
        kindBlocks.withLock { all in
            (0..<count).map { slot in
                all.reduce((ecs: UInt64(0), resolver: UInt64(0))) { sum, block in
                    (sum.ecs &+ block.value(2 * slot), sum.resolver &+ block.value(2 * slot + 1))
                }
            }
        }
    }

    /// A new cohort sampler for one thread.
    public func makeSampler() -> CohortSampler {
        let sampler = CohortSampler()
        samplers.withLock { $0.append(sampler) }
        return sampler
    }

    /// Every thread's sampled keys, merged by (key, slot).
    public func cohortSamples() -> [CohortSample] {
        let all = samplers.withLock { $0 }
        var merged: [CohortSample] = []
        var index: [CohortKey: [Int: Int]] = [:]
        for sampler in all {
            for sample in sampler.entries() {
                if let at = index[sample.key]?[sample.slot] {
                    merged[at] = CohortSample(key: sample.key, slot: sample.slot, count: merged[at].count &+ sample.count)
                } else {
                    index[sample.key, default: [:]][sample.slot] = merged.count
                    merged.append(sample)
                }
            }
        }
        return merged
    }

    /// Halves the samplers' counts (`CohortSampler.age`).
    public func ageSamples() {
        for sampler in samplers.withLock({ $0 }) { sampler.age() }
    }

    /// A new query-counter block for one thread, registered for summing.
    public func makeQueryBlock() -> QueryCounters {
        let block = QueryCounters()
        queryBlocks.withLock { $0.append(block) }
        return block
    }

    /// Responses rate limiting held back, by kind, and those of them sent truncated, summed
    /// over threads.
    public func limitTotals() -> (limited: [UInt64], slipped: UInt64) {
        queryBlocks.withLock { all in
            var limited = [UInt64](repeating: 0, count: QueryCounters.limitKinds)
            var slipped: UInt64 = 0
            for block in all {
                for kind in 0..<QueryCounters.limitKinds { limited[kind] &+= block.limited(kind: kind) }
                slipped &+= block.slipped
            }
            return (limited, slipped)
        }
    }

    /// Answered queries by (tcp, rcode) summed over threads, and dropped ones by transport.
    public func queryTotals() -> (answered: [Bool: [UInt64]], dropped: [Bool: UInt64]) {
        queryBlocks.withLock { all in
            var answered: [Bool: [UInt64]] = [false: [UInt64](repeating: 0, count: QueryCounters.rcodes),
                                              true: [UInt64](repeating: 0, count: QueryCounters.rcodes)]
            var dropped: [Bool: UInt64] = [false: 0, true: 0]
            for block in all {
                for tcp in [false, true] {
                    for rcode in 0..<QueryCounters.rcodes { answered[tcp]![rcode] &+= block.answered(tcp: tcp, rcode: rcode) }
                    dropped[tcp]! &+= block.dropped(tcp: tcp)
                }
            }
            return (answered, dropped)
        }
    }

    /// Totals for slots 0..<count in one pass, for sampling.
    public func totals(count: Int) -> [UInt64] {
        blocks.withLock { all in
            var sums = [UInt64](repeating: 0, count: count)
            for block in all {
                for slot in 0..<min(count, block.capacity) { sums[slot] &+= block.value(slot) }
            }
            return sums
        }
    }

    /// A new block for one thread, registered for summing.
    public func makeBlock(capacity: Int) -> ServedCounters {
        let block = ServedCounters(capacity: capacity)
        blocks.withLock { $0.append(block) }
        return block
    }

    /// Total answers served for `slot` across all threads since start.
    public func total(_ slot: Int) -> UInt64 {
        blocks.withLock { all in all.reduce(0) { $0 &+ $1.value(slot) } }
    }
}

/// Queries handled by one server thread, by transport and response code, plus those dropped
/// unanswered: for the metrics. One writer per block, like `ServedCounters`.
public final class QueryCounters: Sendable {
    /// Response codes counted one by one (the 4-bit header RCODE); BADVERS shows as its
    /// header part, 0.
    public static let rcodes = 16
    /// Index of the "dropped" counter of a transport.
    static let dropped = rcodes
    static let perTransport = rcodes + 1
    /// Responses rate limiting held back, by `RateLimiter.Kind`, then those sent truncated.
    public static let limitKinds = 4
    static let limitedBase = 2 * perTransport
    static let slippedIndex = limitedBase + limitKinds

    private let words = AtomicWords(count: QueryCounters.slippedIndex + 1)
    private var values: UnsafeMutablePointer<Atomic<UInt64>> { words.base }

    public init() {}

    /// Counts one answered query. `tcp` picks the transport; `rcode` is the header RCODE.
    @inline(__always)
    public func countAnswered(tcp: Bool, rcode: Int) {
        bump((tcp ? Self.perTransport : 0) + (rcode & 0xF))
    }

    /// Counts one query dropped without an answer (malformed beyond a reply, or QR=1).
    @inline(__always)
    public func countDropped(tcp: Bool) {
        bump((tcp ? Self.perTransport : 0) + Self.dropped)
    }

    /// Counts one response rate limiting held back (dropped, sent truncated, or in log-only
    /// mode only counted); `kind` is `RateLimiter.Kind.rawValue`.
    @inline(__always)
    public func countLimited(kind: Int, slipped: Bool) {
        bump(Self.limitedBase + (kind & 3))
        if slipped { bump(Self.slippedIndex) }
    }

    public func limited(kind: Int) -> UInt64 {
        (values + Self.limitedBase + (kind & 3)).pointee.load(ordering: .relaxed)
    }

    public var slipped: UInt64 { (values + Self.slippedIndex).pointee.load(ordering: .relaxed) }

    @inline(__always)
    private func bump(_ index: Int) {
        let counter = values + index
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// Answered queries with `rcode` over the transport.
    public func answered(tcp: Bool, rcode: Int) -> UInt64 {
        (values + (tcp ? Self.perTransport : 0) + (rcode & 0xF)).pointee.load(ordering: .relaxed)
    }

    public func dropped(tcp: Bool) -> UInt64 {
        (values + (tcp ? Self.perTransport : 0) + Self.dropped).pointee.load(ordering: .relaxed)
    }
}

/// Zeroed 64-bit atomics at a stable address, for counters that one thread writes with
/// relaxed stores and others read: no lock, no allocation after `init`.
final class AtomicWords: @unchecked Sendable {
    let base: UnsafeMutablePointer<Atomic<UInt64>>
    let count: Int

    init(count: Int) {
        self.count = max(count, 1)
        base = .allocate(capacity: self.count)
        for i in 0..<self.count { (base + i).initialize(to: Atomic(0)) }
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }
}
