import Posix
import Traffic

/// `status` and metrics of the cluster (README "The expected cluster"): the expected, live,
/// missing and unexpected servers, and the zones the members do not serve alike. All of it
/// from the `ClusterMembership` value the store keeps up to date; nothing here asks etcd.
struct ClusterJSON: Codable {
    struct Zone: Codable {
        var serial: UInt32
        var sha256: String
        var keyTags: [UInt16]
    }
    struct Server: Codable {
        var id: String
        var host: String
        var pid: Int64
        var started: String
        var revision: UInt64
        var lastSeen: String
        /// False for a live server `--cluster` does not name.
        var expected: Bool
        /// Zone origin → what it serves; absent until it published them.
        var zones: [String: Zone]?
    }
    struct Version: Codable {
        /// Absent: these servers do not serve the zone.
        var zone: Zone?
        var servers: [String]
    }
    struct Difference: Codable {
        var zone: String
        /// The most common version first.
        var versions: [Version]
    }
    /// `--cluster`; absent when not given (every live server counts).
    var expected: [String]?
    var live: [String]
    var missing: [String]
    var unexpected: [String]
    var servers: [Server]
    /// Zones the members do not serve alike; empty when every member serves the same.
    var zonesDiffer: [Difference]
    /// The servers flagged for it (`ClusterMembership.serversWithDifferentZones`).
    var zonesDifferOn: [String]

    init(_ cluster: ClusterMembership) {
        func zone(_ summary: ZoneSummary) -> Zone { Zone(serial: summary.serial, sha256: summary.digest, keyTags: summary.keyTags) }
        let unexpected = Set(cluster.unexpected)
        expected = cluster.expected
        live = cluster.live
        missing = cluster.missing
        self.unexpected = cluster.unexpected
        servers = cluster.live.compactMap { cluster.servers[$0] }.map { server in
            Server(id: server.id, host: server.host, pid: server.pid, started: Log.timestamp(server.started / 1000),
                   revision: server.revision, lastSeen: Log.timestamp(server.at / 1000), expected: !unexpected.contains(server.id),
                   zones: server.zones?.mapValues(zone))
        }
        zonesDiffer = cluster.zoneDifferences.map { difference in
            Difference(zone: difference.zone, versions: difference.versions.map { Version(zone: $0.summary.map(zone), servers: $0.servers) })
        }
        zonesDifferOn = cluster.serversWithDifferentZones
    }
}

extension StatusReport {
    /// `cluster: expected a, b, c; live a, b; MISSING c`, unexpected servers, and one line per
    /// zone served differently (or one saying every member serves the same zones).
    static func clusterLines(_ cluster: ClusterJSON) -> [String] {
        var lines: [String] = []
        if let expected = cluster.expected {
            lines.append("cluster: expected \(expected.joined(separator: ", ")); live \(cluster.live.isEmpty ? "none" : cluster.live.joined(separator: ", "))"
                         + (cluster.missing.isEmpty ? "" : "; MISSING \(cluster.missing.joined(separator: ", "))"))
        } else {
            lines.append("cluster: \(cluster.live.count) live server\(cluster.live.count == 1 ? "" : "s") (\(cluster.live.joined(separator: ", "))); "
                         + "no --cluster, so every live server counts")
        }
        if !cluster.unexpected.isEmpty {
            lines.append("cluster: UNEXPECTED live server\(cluster.unexpected.count == 1 ? "" : "s") \(cluster.unexpected.joined(separator: ", ")) "
                         + "(not in --cluster: not counted)")
        }
        func text(_ zone: ClusterJSON.Zone?) -> String {
            zone.map { ZoneSummary(serial: $0.serial, digest: $0.sha256, keyTags: $0.keyTags).text } ?? "not served"
        }
        for difference in cluster.zonesDiffer {
            lines.append("zones DIFFER: \(difference.zone) " + difference.versions.map {
                "\(text($0.zone)) on \($0.servers.joined(separator: ", "))"
            }.joined(separator: "; "))
        }
        if !cluster.zonesDifferOn.isEmpty {
            lines.append("zones DIFFER on \(cluster.zonesDifferOn.joined(separator: ", ")): not serving what the other servers serve")
        }
        let published = cluster.servers.filter { $0.expected && $0.zones != nil }
        if cluster.zonesDiffer.isEmpty, let first = published.first?.zones, !first.isEmpty {
            lines.append("zones: the same on \(published.count == 1 ? "the 1 server" : "all \(published.count) servers") that published them ("
                         + first.keys.sorted().map { "\($0) \(text(first[$0]))" }.joined(separator: ", ") + ")")
        }
        return lines
    }

    /// `veer_cluster_servers{state}`, `veer_cluster_zone_mismatch{zone}` and
    /// `veer_cluster_zones_differ{server}`, each family whole.
    func clusterMetrics(_ cluster: ClusterMembership, _ out: inout MetricsWriter) {
        out.family("veer_cluster_servers", "gauge",
                   "Servers by state: expected (--cluster; the live ones without it), live, missing (expected, not live), unexpected (live, not expected).")
        out.sample("veer_cluster_servers", ["state": "expected"], Double(cluster.members.count))
        out.sample("veer_cluster_servers", ["state": "live"], Double(cluster.live.count))
        out.sample("veer_cluster_servers", ["state": "missing"], Double(cluster.missing.count))
        out.sample("veer_cluster_servers", ["state": "unexpected"], Double(cluster.unexpected.count))
        out.family("veer_cluster_zone_mismatch", "gauge",
                   "1 while the cluster's servers do not all serve the zone alike (serial and SHA-256 of its records), 0 while they do.")
        let differing = Set(cluster.zoneDifferences.map(\.zone))
        var zones: Set<String> = differing
        for server in cluster.servers.values { zones.formUnion(server.zones.map { Array($0.keys) } ?? []) }
        for zone in zones.sorted() {
            out.sample("veer_cluster_zone_mismatch", ["zone": zone], differing.contains(zone) ? 1 : 0)
        }
        out.family("veer_cluster_zones_differ", "gauge",
                   "1 for a server that serves some zone unlike the other servers (outside its most common version), 0 for one that does not.")
        let flagged = Set(cluster.serversWithDifferentZones)
        for id in cluster.members where cluster.servers[id]?.zones != nil {
            out.sample("veer_cluster_zones_differ", ["server": id], flagged.contains(id) ? 1 : 0)
        }
    }
}
