import Synchronization

/// Answers served per endpoint slot, counted by one server thread and summed by readers.
///
/// Only the owning thread writes, so an increment is a relaxed load and store (no locked
/// read-modify-write, no contention); readers on other threads load relaxed and sum every
/// thread's block (per-thread counters summed on read, as gdnsd's stats do).
public final class ServedCounters: @unchecked Sendable {
    /// Slots this block can count; a thread that meets a higher slot gets a new, larger block.
    public let capacity: Int
    private let values: UnsafeMutablePointer<Atomic<UInt64>>

    public init(capacity: Int) {
        self.capacity = capacity
        values = .allocate(capacity: max(capacity, 1))
        for i in 0..<max(capacity, 1) { (values + i).initialize(to: Atomic(0)) }
    }

    deinit {
        values.deinitialize(count: max(capacity, 1))
        values.deallocate()
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

    public init() {}

    /// A new query-counter block for one thread, registered for summing.
    public func makeQueryBlock() -> QueryCounters {
        let block = QueryCounters()
        queryBlocks.withLock { $0.append(block) }
        return block
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
public final class QueryCounters: @unchecked Sendable {
    /// Response codes counted one by one (the 4-bit header RCODE); BADVERS shows as its
    /// header part, 0.
    public static let rcodes = 16
    /// Index of the "dropped" counter of a transport.
    static let dropped = rcodes
    static let perTransport = rcodes + 1

    private let values: UnsafeMutablePointer<Atomic<UInt64>>

    public init() {
        values = .allocate(capacity: 2 * Self.perTransport)
        for i in 0..<(2 * Self.perTransport) { (values + i).initialize(to: Atomic(0)) }
    }

    deinit {
        values.deinitialize(count: 2 * Self.perTransport)
        values.deallocate()
    }

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
