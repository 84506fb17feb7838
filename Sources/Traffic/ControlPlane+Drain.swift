/// When the old gateway can go: each endpoint's last answer and the longest TTL it went out
/// with, from the served counters, merged with what the other servers saw. An endpoint at
/// weight 0 is "in caches until" its last answer plus that TTL, then "drained since".
extension ControlPlane {
    /// The served totals by slot at `now`. An answer of an endpoint at configured weight 0 is
    /// published, so the status records show it; the others only update the watch.
    mutating func served(_ totals: [UInt64], now: Moment) -> [Effect] {
        var drainedMoved = false
        let zero = drainable
        drain.observe(totals: totals, ttl: servedTTL, now: now.wall) { slot in
            if slot < zero.count && zero[slot] { drainedMoved = true }
        }
        guard drainedMoved else { return [] }
        drainRevision += 1
        return [published()]
    }

    /// Another server's view of the endpoints at weight 0, by name and endpoint id.
    mutating func servedElsewhere(_ seen: [EndpointKey: DrainWatch.Seen]) -> [Effect] {
        var moved = false
        for name in config {
            for endpoint in name.endpoints {
                guard let other = seen[EndpointKey(name: name.key, id: endpoint.id)] else { continue }
                moved = drain.merge(endpoint.slot, other) || moved
            }
        }
        guard moved else { return [] }
        drainRevision += 1
        return [published()]
    }

    /// What is known of the endpoints whose configured weight is 0: the ones being drained.
    public var drained: [EndpointKey: DrainWatch.Seen] {
        var result: [EndpointKey: DrainWatch.Seen] = [:]
        for name in effective.names {
            for endpoint in name.endpoints where endpoint.configured == 0 {
                if let seen = drain.seen(endpoint.config.slot) { result[EndpointKey(name: name.key, id: endpoint.config.id)] = seen }
            }
        }
        return result
    }

    /// By slot: the TTL answers carry now (the records' longest, capped by `ttl-shift=` while
    /// the name moves), and whether the endpoint's configured weight is 0. Recomputed with the
    /// effective weights, not per sample.
    static func drainTables(_ effective: EffectiveWeights) -> (ttl: [UInt32], zero: [Bool]) {
        var ttl = [UInt32](repeating: 0, count: effective.slotCount)
        var zero = [Bool](repeating: false, count: effective.slotCount)
        for name in effective.names {
            for endpoint in name.endpoints where endpoint.config.slot < effective.slotCount {
                let slot = endpoint.config.slot
                ttl[slot] = name.ttlCap != 0 ? min(name.ttlCap, endpoint.config.ttl) : endpoint.config.ttl
                zero[slot] = endpoint.configured == 0
            }
        }
        return (ttl, zero)
    }
}
