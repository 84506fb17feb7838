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
                                      role: endpoint.role, check: endpoint.check?.name, records: records,
                                      analyses: endpoint.analyses.map(\.name), ttl: endpoint.records.map(\.ttl).max() ?? 0)
            }, refuseWhenAllDown: name.refuseWhenAllDown, ttlShift: name.ttlShift,
               selectByClient: name.selectByClient, analyses: analyses(of: name))
        }
    }

    /// The `$ANALYSIS` declarations `name`'s endpoints use, once each, as the plane runs them.
    static func analyses(of name: WeightedName) -> [AnalysisConfig] {
        var seen: Set<String> = []
        return name.endpoints.flatMap(\.analyses).filter { seen.insert($0.name).inserted }.map { check in
            AnalysisConfig(name: check.name, host: check.host == "localhost" ? "127.0.0.1" : check.host, port: check.port,
                           pathPrefix: check.pathPrefix, intervalMs: Int64(check.intervalMs), timeoutMs: Int64(check.timeoutMs),
                           query: check.query, requests: check.requests, traffic: check.traffic,
                           rule: AnalysisRule(max: check.max, min: check.min, maxIncrease: check.maxIncrease,
                                              minRequests: check.minRequests, failureLimit: check.failureLimit,
                                              inconclusiveLimit: check.inconclusiveLimit))
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
