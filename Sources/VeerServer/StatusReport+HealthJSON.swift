import Traffic

/// `health NAME json`: what `health NAME` shows, as one JSON document.
extension StatusReport {
    private struct HealthJSON: Codable {
        struct Probe: Codable {
            /// RFC 3339.
            var at: String
            /// `ok 12ms` or the failure, as the text form shows it.
            var result: String
            var ok: Bool
            var latencyMs: Int?
            var anomaly: String?
        }
        struct Endpoint: Codable {
            var id: String
            /// `up`, `down`, `unknown` or `unchecked`.
            var health: String
            /// The `$HEALTH` check's name; nil without one.
            var check: String?
            /// When it last went down or came back (RFC 3339), if it has.
            var since: String?
            /// The last results, oldest first.
            var probes: [Probe]
        }
        var name: String
        var endpoints: [Endpoint]
    }

    /// `health NAME json`.
    func healthJSON(name: String) throws(AdminError) -> String {
        let entry = try names(name)[0]
        let document = HealthJSON(name: entry.key.text, endpoints: entry.endpoints.map { endpoint in
            let probe = probes[endpoint.config.slot]
            return HealthJSON.Endpoint(
                id: endpoint.config.id, health: endpoint.health.rawValue, check: probe?.check ?? endpoint.config.check,
                since: probe?.state.lastTransitionAt.map(Self.wallTime),
                probes: (probe?.state.history ?? []).map { item in
                    let ok = if case .success = item.result { true } else { false }
                    return HealthJSON.Probe(at: Self.wallTime(item.at), result: item.result.description, ok: ok,
                                            latencyMs: item.result.latencyMs, anomaly: item.anomaly)
                })
        })
        return "ok\n" + JSON.text(document)
    }
}
