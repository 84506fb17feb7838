/// Shared health verdicts (README "Several servers, one migration"): each live server
/// publishes what its own probes say; an endpoint is down for everyone when more than half
/// of the live servers see it down. One server with a broken network path then cannot drain
/// a healthy gateway, and a failing one is drained once, by every server, at the same time.
public enum HealthQuorum {
    /// Verdicts as servers publish them: endpoint (`EndpointKey.description`) → verdict.
    public typealias Verdicts = [String: EndpointHealth]

    /// The quorum verdict of each endpoint that some server reports, from every live
    /// server's verdicts (`byServer`; a server that stopped is gone with its lease). Down
    /// when down on more than half of them; up when up on any other; else unknown.
    ///
    /// With `expected` (`--cluster`), only the expected servers vote and the half is of the
    /// expected count: a missing server counts as one that does not see the endpoint down,
    /// so a minority of the cluster cannot drain a gateway for everyone.
    public static func verdicts(_ byServer: [String: Verdicts], expected: [String]? = nil) -> [String: (health: EndpointHealth, reason: String)] {
        var byServer = byServer
        if let expected {
            let members = Set(expected)
            byServer = byServer.filter { members.contains($0.key) }
        }
        let live = expected.map { Set($0).count } ?? byServer.count
        let of = expected == nil ? "\(live) servers" : "\(live) expected servers (\(byServer.count) live)"
        var endpoints: Set<String> = []
        for verdicts in byServer.values { endpoints.formUnion(verdicts.keys) }
        var out: [String: (health: EndpointHealth, reason: String)] = [:]
        for endpoint in endpoints {
            let down = byServer.values.filter { $0[endpoint] == .down }.count
            let up = byServer.values.filter { $0[endpoint] == .up }.count
            let reason = "down on \(down) of \(of)"
            if down * 2 > live {
                out[endpoint] = (.down, reason)
            } else if up > 0 {
                out[endpoint] = (.up, reason)
            } else {
                out[endpoint] = (.unknown, reason)
            }
        }
        return out
    }
}
