import DNSSEC
import DNSWire
import Traffic
import ZoneFile

/// What a server publishes of each zone it serves, so the cluster can tell two servers
/// serving different data apart (README "The expected cluster").
enum ZoneSummaries {
    /// Zone origin → serial and SHA-256 (`ZoneDigest`) over every served record: the zone's
    /// records and its endpoint records in canonical form, then one line per endpoint with
    /// what the zone file says of it (id, weight, check, role), in a fixed order. Two servers
    /// whose files differ only in layout, order or case get the same digest. `keyTags` gives
    /// a signed zone's published DNSSEC keys, so servers signing with other keys differ too.
    static func of(_ zones: [Zone], keyTags: (DomainName) -> [UInt16] = { _ in [] }) -> [String: ZoneSummary] {
        var out: [String: ZoneSummary] = [:]
        for zone in zones {
            let serial: UInt32 = if case .soa(let soa) = zone.soa.data { soa.serial } else { 0 }
            var records = zone.records
            var lines: [String] = []
            for name in zone.weighted {
                for endpoint in name.endpoints {
                    records += endpoint.records
                    lines.append("\(name.owner.lowercased()) \(endpoint.id) weight=\(endpoint.weight) health=\(endpoint.health ?? "-") "
                                 + "role=\(endpoint.role ?? "-") analyses=\(endpoint.analyses.map(\.name).joined(separator: ","))")
                }
                lines.append("\(name.owner.lowercased()) refuse-when-all-down=\(name.refuseWhenAllDown) ttl-shift=\(name.ttlShift.map(String.init) ?? "-") "
                             + "select-client=\(name.selectByClient)")
            }
            let extra = Array(lines.sorted().joined(separator: "\n").utf8)
            let digest = (try? ZoneDigest.sha256(records, extra: extra)).map(ZoneDigest.hex) ?? "unavailable"
            out[zone.origin.lowercased().description] = ZoneSummary(serial: serial, digest: digest, keyTags: keyTags(zone.origin).sorted())
        }
        return out
    }

    /// `summaries` with each zone's key tags as `keys` gives them (a renewal read the keys
    /// again, and a `veer keys activate` or `retire` may have changed them).
    static func keyTags(_ summaries: [String: ZoneSummary], _ keys: [DomainName: [KeyRecord]]) -> [String: ZoneSummary] {
        let tags = Dictionary(keys.map { ($0.key.lowercased().description, $0.value.map(\.tag).sorted()) }, uniquingKeysWith: { a, _ in a })
        var out = summaries
        for origin in out.keys { out[origin]?.keyTags = tags[origin] ?? [] }
        return out
    }
}
