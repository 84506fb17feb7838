import DNSWire
import Traffic
import ZoneFile

extension WeightedNameConfig {
    /// What the control side needs of each weighted name `zones` serve (ids, weights,
    /// roles, checks, which address records an endpoint has), with the slots `slot` gives
    /// the same endpoints in the query path's `ZoneData`.
    public static func served(by zones: [Zone], slot: (DomainName, String) -> Int) -> [WeightedNameConfig] {
        servedWeightedNames(zones).map { name in
            WeightedNameConfig(key: NameKey(name.owner), endpoints: name.endpoints.map { endpoint in
                var records: EndpointConfig.Records = []
                if endpoint.records.contains(where: { $0.type == .a }) { records.insert(.a) }
                if endpoint.records.contains(where: { $0.type == .aaaa }) { records.insert(.aaaa) }
                return EndpointConfig(id: endpoint.id, slot: slot(name.owner, endpoint.id), zoneWeight: endpoint.weight,
                                      role: endpoint.role, check: endpoint.check?.name, records: records)
            }, refuseWhenAllDown: name.refuseWhenAllDown, ttlShift: name.ttlShift,
               selectByClient: name.selectByClient)
        }
    }
}

/// The weighted names answered: a name is served by the deepest zone that contains it, as
/// `ZoneData` answers it.
public func servedWeightedNames(_ zones: [Zone]) -> [WeightedName] {
    zones.flatMap { zone in
        zone.weighted.filter { name in
            let deepest = zones.filter { name.owner.isSubdomain(of: $0.origin) }.max { $0.origin.labelCount < $1.origin.labelCount }
            return deepest?.origin == zone.origin
        }
    }
}
