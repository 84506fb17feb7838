import Authority
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

    init(_ zones: [Zone], slots: SlotRegistry) {
        zoneCount = zones.count
        data = ZoneData(zones: zones) { slots.slot(owner: $0, endpoint: $1) }
        config = WeightedNameConfig.served(by: zones) { slots.slot(owner: $0, endpoint: $1) }
        targets = servedWeightedNames(zones).flatMap { name in
            name.endpoints.compactMap { endpoint in
                HealthMonitor.Target(name: NameKey(name.owner), endpoint: endpoint,
                                     slot: slots.slot(owner: name.owner, endpoint: endpoint.id))
            }
        }
    }
}
