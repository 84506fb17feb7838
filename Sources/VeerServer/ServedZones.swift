import Authority
import DNSSEC
import DNSWire
import Synchronization
import Traffic
import ZoneFile

/// One set of loaded zones, split for the two sides: `data` is what the query path answers
/// from; `config` and `targets` (ids, roles, checks) stay on the control side. The parsed
/// `Zone`s are not kept: `data` holds all that is served, and a million-record zone's parsed
/// records would cost as much again.
struct ServedZones: Sendable {
    let zoneCount: Int
    let data: ZoneData
    let config: [WeightedNameConfig]
    let targets: [HealthMonitor.Target]
    /// The DNSSEC records of `data`'s signed zones (nil: none signed); replaced when they
    /// are renewed (`ZoneSets.resigned`).
    var signatures: ZoneSignatures?
    /// When `signatures` are next due for renewal (Unix seconds, serial arithmetic).
    var refreshAt: UInt32?

    /// With a shared store: each zone's serial and digest, for the others to compare
    /// (`ZoneSummaries`); nil without one.
    /// (Their key tags follow the keys each renewal signs with: `ZoneSets.resigned`.)
    var summaries: [String: ZoneSummary]?

    /// The zones as served; with `signing`, the zones that have keys signed (throws when
    /// their keys or signing fail).
    init(_ zones: [Zone], slots: SlotRegistry, signing: ZoneSigning? = nil, summarize: Bool = false) throws {
        zoneCount = zones.count
        data = ZoneData(zones: zones) { slots.slot(owner: $0, endpoint: $1) }
        var keys: [DomainName: [KeyRecord]] = [:]
        if let signing { (signatures, refreshAt, keys) = try signing.sign(data) }
        summaries = summarize ? ZoneSummaries.of(zones, keyTags: { keys[$0]?.map(\.tag) ?? [] }) : nil
        config = WeightedNameConfig.served(by: zones) { slots.slot(owner: $0, endpoint: $1) }
        targets = servedWeightedNames(zones).flatMap { name in
            name.endpoints.compactMap { endpoint in
                HealthMonitor.Target(name: NameKey(name.owner), endpoint: endpoint,
                                     slot: slots.slot(owner: name.owner, endpoint: endpoint.id))
            }
        }
    }
}

/// The loaded zone sets by number, from the reloader's hand-over until the publish that
/// adopts a newer one. Which set is served is the plane's to say (`ControlPlane.zones`,
/// carried by every publish); this only keeps them.
final class ZoneSets: Sendable {
    private let sets: Mutex<(byNumber: [Int: ServedZones], last: Int)>

    /// Holds the zones the server started with, as number 0.
    init(_ first: ServedZones) {
        sets = Mutex(([0: first], 0))
    }

    /// Keeps `served` under a new number, for the `.reload` that names it to the plane.
    func add(_ served: ServedZones) -> Int {
        sets.withLock { sets in
            sets.last += 1
            sets.byNumber[sets.last] = served
            return sets.last
        }
    }

    /// New signatures for set `number` (renewed); nothing when the set is gone already.
    func resigned(_ number: Int, _ signatures: ZoneSignatures?, refreshAt: UInt32?, keys: [DomainName: [KeyRecord]]) {
        sets.withLock { sets in
            sets.byNumber[number]?.signatures = signatures
            sets.byNumber[number]?.refreshAt = refreshAt
            if let summaries = sets.byNumber[number]?.summaries {
                sets.byNumber[number]?.summaries = ZoneSummaries.keyTags(summaries, keys)
            }
        }
    }

    /// Lets go of a set the plane did not take.
    func remove(_ number: Int) {
        sets.withLock { _ = $0.byNumber.removeValue(forKey: number) }
    }

    /// The set numbered `number`; the plane names only sets it was handed and did not let go.
    func zones(_ number: Int) -> ServedZones {
        sets.withLock { $0.byNumber[number]! }
    }

    /// The set numbered `number` if it is still kept (a renewal may finish after a reload).
    func zonesIfKept(_ number: Int) -> ServedZones? {
        sets.withLock { $0.byNumber[number] }
    }

    /// Lets go of every set older than `number`, once it is adopted: no publish names them again.
    func release(before number: Int) {
        sets.withLock { sets in sets.byNumber = sets.byNumber.filter { $0.key >= number } }
    }
}
