import DNSWire
import Synchronization
import Traffic

/// What the query path answers from: zone data and weights, immutable. The control side
/// publishes a new one for every change; it never edits one in place.
public final class Snapshot: Sendable {
    public let zones: ZoneData
    public let weights: WeightTable
    /// Increases with every published change (zones, weights, health).
    public let generation: UInt64
    /// The answers to `_veer.NAME TXT` status queries, built with the snapshot.
    public let status: StatusRecords
    /// The DNSSEC records made in advance for `zones`' signed zones; nil when none is signed.
    public let signatures: ZoneSignatures?

    public init(zones: ZoneData, weights: WeightTable, generation: UInt64, status: StatusRecords = .empty,
                signatures: ZoneSignatures? = nil) {
        self.zones = zones
        self.signatures = signatures
        self.weights = weights
        self.generation = generation
        self.status = status
    }
}

/// The migration state of each weighted name as TXT strings, answered to
/// `dig TXT _veer.NAME` (from allowed sources only): one string per endpoint,
/// `endpoint=new weight=25 effective=25 health=up`, then `generation=42` and the rollout, if any.
public struct StatusRecords: Sendable {
    /// The first label of a status query.
    public static let label: [UInt8] = Array("_veer".utf8)

    private let byName: [[UInt8]: [[UInt8]]]

    public static let empty = StatusRecords(byName: [:])

    /// `strings` by weighted name; the name's lowercased wire form is the key.
    public init(_ strings: [(name: DomainName, strings: [String])]) {
        var table: [[UInt8]: [[UInt8]]] = [:]
        for entry in strings {
            table[entry.name.lowercasedWire] = entry.strings.map { Array($0.utf8.prefix(255)) }
        }
        byName = table
    }

    private init(byName: [[UInt8]: [[UInt8]]]) {
        self.byName = byName
    }

    public var isEmpty: Bool { byName.isEmpty }

    /// The strings for the weighted name `wire` (lowercased wire form), if it is one.
    public func strings(forWire wire: UnsafeRawBufferPointer) -> [[UInt8]]? {
        byName[Array(wire)]
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
}
