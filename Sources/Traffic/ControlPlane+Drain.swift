/// When the old gateway can go: each endpoint's last answer and the longest TTL it went out
/// with, from the served counters, merged with what the other servers saw. An endpoint at
/// weight 0 is "in caches until" its last answer plus that TTL, then "drained since".
extension ControlPlane {
    /// The served totals by slot at `now`: a change for an endpoint at weight 0 is published,
    /// so the status records show it.
    mutating func served(_ totals: [UInt64], now: Moment) -> [Effect] {
        var samples: [(key: EndpointKey, total: UInt64, ttl: UInt32)] = []
        for name in config {
            let cap = shortTTL.contains(name.key) ? name.ttlShift : nil
            for endpoint in name.endpoints {
                let ttl = cap.map { min($0, endpoint.ttl) } ?? endpoint.ttl
                samples.append((EndpointKey(name: name.key, id: endpoint.id), endpoint.slot < totals.count ? totals[endpoint.slot] : 0, ttl))
            }
        }
        let before = drained
        drain.observe(samples, now: now.wall)
        return drained == before ? [] : [published()]
    }

    /// Another server's view of the endpoints at weight 0.
    mutating func servedElsewhere(_ seen: [EndpointKey: DrainWatch.Seen]) -> [Effect] {
        let before = drained
        for (key, entry) in seen.sorted(by: { $0.key.description < $1.key.description }) { drain.merge(key, entry) }
        return drained == before ? [] : [published()]
    }

    /// What is known of the endpoints whose configured weight is 0: the ones being drained.
    public var drained: [EndpointKey: DrainWatch.Seen] {
        var result: [EndpointKey: DrainWatch.Seen] = [:]
        for name in store.names {
            for endpoint in name.endpoints where endpoint.weight == 0 {
                let key = EndpointKey(name: NameKey(name.name), id: endpoint.id)
                if let seen = drain.seen[key] { result[key] = seen }
            }
        }
        return result
    }
}
