import Synchronization
import Traffic

/// What the query path answers from: zone data and weights, immutable. The control side
/// publishes a new one for every change; it never edits one in place.
public final class Snapshot: Sendable {
    public let zones: ZoneData
    public let weights: WeightTable
    /// Increases with every published change (zones, weights, health).
    public let generation: UInt64

    public init(zones: ZoneData, weights: WeightTable, generation: UInt64) {
        self.zones = zones
        self.weights = weights
        self.generation = generation
    }
}

/// The current snapshot. Readers check one atomic generation number per batch and take the
/// lock only when it moved, so the steady-state query path is lock-free (an RCU-like scheme:
/// an old snapshot lives as long as some thread still holds it).
public final class SnapshotBox: Sendable {
    private let published: Mutex<Snapshot>
    private let generationValue: Atomic<UInt64>

    public init(_ initial: Snapshot) {
        published = Mutex(initial)
        generationValue = Atomic(initial.generation)
    }

    /// The generation of the newest snapshot; one relaxed-acquire load.
    @inline(__always)
    public var generation: UInt64 { generationValue.load(ordering: .acquiring) }

    public var current: Snapshot { published.withLock { $0 } }

    /// Publishes `snapshot`, which must carry a higher generation.
    public func publish(_ snapshot: Snapshot) {
        published.withLock {
            $0 = snapshot
            generationValue.store(snapshot.generation, ordering: .releasing)
        }
    }

    /// Builds and publishes the next snapshot under the lock, so concurrent publishers
    /// cannot lose each other's changes. Returns what was published.
    @discardableResult
    public func update(_ body: (Snapshot) -> Snapshot) -> Snapshot {
        published.withLock { current in
            let next = body(current)
            current = next
            generationValue.store(next.generation, ordering: .releasing)
            return next
        }
    }
}
