/// What one server says of a zone it serves: the SOA serial, a SHA-256 of its records in
/// canonical form, and the DNSSEC key tags it signs with (empty while it does not sign).
public struct ZoneSummary: Sendable, Hashable {
    /// The SOA serial the zone file gives.
    public var serial: UInt32
    /// Lower-case hexadecimal SHA-256 (`ZoneDigest`).
    public var digest: String
    /// The DNSSEC key tags the zone is signed with; empty while served zones are not signed.
    public var keyTags: [UInt16]

    /// A summary as `ZoneSummaries` makes it, or as a `zones/ID` key in the store says.
    public init(serial: UInt32, digest: String, keyTags: [UInt16] = []) {
        self.serial = serial
        self.digest = digest
        self.keyTags = keyTags
    }

    /// `serial 2026120701 sha256 3f5a09c1e2b4`: the digest's first 12 digits are enough to
    /// tell two versions apart by eye; JSON carries all of it.
    public var text: String {
        "serial \(serial) sha256 \(digest.prefix(12))" + (keyTags.isEmpty ? "" : " keys \(keyTags.map(String.init).joined(separator: ","))")
    }
}

/// One live server's registration (`servers/ID` and `zones/ID` in the shared store).
public struct ServerRegistration: Sendable, Equatable {
    /// Its `--server-id`.
    public var id: String
    /// The host it runs on, its process id and when it started (Unix ms): what names the
    /// holder when a second server asks for the same id.
    public var host: String
    public var pid: Int64
    public var started: Int64
    /// The revision of the shared state it serves, and when it last said so (Unix ms).
    public var revision: UInt64
    public var at: Int64
    /// Zone origin → what it serves; nil until it has published them.
    public var zones: [String: ZoneSummary]?

    /// A registration as a `servers/ID` value says it (zones from `zones/ID`).
    public init(id: String, host: String = "", pid: Int64 = 0, started: Int64 = 0, revision: UInt64 = 0, at: Int64 = 0,
                zones: [String: ZoneSummary]? = nil) {
        self.id = id
        self.host = host
        self.pid = pid
        self.started = started
        self.revision = revision
        self.at = at
        self.zones = zones
    }

    /// `host ns1 pid 4242 started at 2026-12-07T07:00:00Z`, with the start time formatted by `time`.
    public func holder(time: (Int64) -> String) -> String {
        "host \(host.isEmpty ? "?" : host) pid \(pid) started at \(started == 0 ? "?" : time(started))"
    }
}

/// The cluster as this server sees it: the servers that should exist (`--cluster`), the
/// live registrations, and what follows from them — missing and unexpected servers, zones
/// served differently, who does not yet serve a revision. A value, built from what the store
/// said; nothing here asks the store.
public struct ClusterMembership: Sendable, Equatable {
    /// `--cluster ID,ID,…`, sorted; nil when not given (every live server is a member).
    public var expected: [String]?
    /// Live servers by id.
    public var servers: [String: ServerRegistration]

    /// The view from `--cluster` (order and repeats do not matter) and the live registrations.
    public init(expected: [String]?, servers: [String: ServerRegistration]) {
        self.expected = expected.map { Array(Set($0)).sorted() }
        self.servers = servers
    }

    /// Live servers' ids, sorted.
    public var live: [String] { servers.keys.sorted() }

    /// Expected servers that are not live.
    public var missing: [String] { (expected ?? []).filter { servers[$0] == nil } }

    /// Live servers that `--cluster` does not name.
    public var unexpected: [String] {
        guard let expected else { return [] }
        let set = Set(expected)
        return live.filter { !set.contains($0) }
    }

    /// The servers everything is counted against: the expected ones, or the live ones.
    public var members: [String] { expected ?? live }

    /// The members that do not serve `revision`, each said why: `c (missing: not registered)`
    /// or `b at revision 4`.
    public func notServing(_ revision: UInt64) -> [String] {
        members.compactMap { id in
            guard let server = servers[id] else { return "\(id) (missing: not registered)" }
            return server.revision < revision ? "\(id) at revision \(server.revision)" : nil
        }
    }

    /// One zone that live members serve differently: each version with its servers (a nil
    /// summary: those servers do not serve the zone at all).
    public struct ZoneDifference: Sendable, Equatable {
        public var zone: String
        public var versions: [(summary: ZoneSummary?, servers: [String])]

        /// The same zone with the same versions on the same servers (tuples are not `Equatable`).
        public static func == (a: ZoneDifference, b: ZoneDifference) -> Bool {
            a.zone == b.zone && a.versions.map(\.summary) == b.versions.map(\.summary) && a.versions.map(\.servers) == b.versions.map(\.servers)
        }

        /// `example.com. serial 2 sha256 3f5a09c1e2b4 on a, b; serial 3 sha256 77aa00b1c2d3 on c`.
        public var text: String {
            zone + " " + versions.map { "\($0.summary?.text ?? "not served") on \($0.servers.joined(separator: ", "))" }.joined(separator: "; ")
        }
    }

    /// The zones that live members (those that published their zones) do not all serve
    /// alike, by zone name; the most common version first.
    public var zoneDifferences: [ZoneDifference] {
        let published = members.compactMap { id in servers[id]?.zones.map { (id, $0) } }
        var zones: Set<String> = []
        for (_, served) in published { zones.formUnion(served.keys) }
        return zones.sorted().compactMap { zone in
            var byVersion: [ZoneSummary?: [String]] = [:]
            for (id, served) in published { byVersion[served[zone], default: []].append(id) }
            guard byVersion.count > 1 else { return nil }
            let versions = byVersion.map { (summary: $0.key, servers: $0.value.sorted()) }
                .sorted { $0.servers.count != $1.servers.count ? $0.servers.count > $1.servers.count : $0.servers[0] < $1.servers[0] }
            return ZoneDifference(zone: zone, versions: versions)
        }
    }

    /// The members flagged for serving zones unlike the others': for each zone served
    /// differently, those outside its one most common version, or every server of the zone
    /// when no version is held by more servers than any other (two servers, two versions).
    public var serversWithDifferentZones: [String] {
        var flagged: Set<String> = []
        for difference in zoneDifferences {
            let counts = difference.versions.map(\.servers.count)
            let top = counts.max() ?? 0
            let unique = counts.filter { $0 == top }.count == 1
            for version in difference.versions where !unique || version.servers.count < top {
                flagged.formUnion(version.servers)
            }
        }
        return flagged.sorted()
    }

    /// The members that do not serve exactly `reference` (this server's zones), each said
    /// why: missing, not yet published, or the zones that differ.
    public func unlike(_ reference: [String: ZoneSummary]) -> [String] {
        members.compactMap { id in
            guard let server = servers[id] else { return "\(id) (missing: not registered)" }
            guard let zones = server.zones else { return "\(id) (has not published its zones)" }
            guard zones != reference else { return nil }
            let names = Set(zones.keys).union(reference.keys).sorted().filter { zones[$0] != reference[$0] }
            return "\(id) (" + names.map { "\($0) \(zones[$0]?.text ?? "not served")" }.joined(separator: ", ") + ")"
        }
    }
}

/// Whether a server may take a `--server-id` that another registration holds (README "One
/// identity per server"): a pure decision over what the store showed of the holder.
public enum IdentityClaim {
    /// Wait for the holder's lease to run out, or refuse to start.
    public enum Verdict: Sendable, Equatable {
        case wait
        case refuse
    }

    /// `.refuse` once the holder rewrote its registration since it was first seen (its mod
    /// revision moved from `firstSeen` to `now`: a live server does at every beat), or when
    /// it held the id for `limit`; else `.wait`: a key nobody rewrites is a crashed server's,
    /// gone with its lease.
    public static func verdict(firstSeen: UInt64, now: UInt64, waited: Duration, limit: Duration) -> Verdict {
        now != firstSeen || waited >= limit ? .refuse : .wait
    }
}
