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

    public init() {}

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
