import Authority
import Traffic

/// The Prometheus text exposition (format 0.0.4) of queries, answers, weights, health,
/// probes, rollouts and the generation.
extension StatusReport {
    /// Response code names for the metrics label, by header RCODE.
    static let rcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
                             "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15"]

    func metrics(queries: (answered: [Bool: [UInt64]], dropped: [Bool: UInt64]),
                 limits: (limited: [UInt64], slipped: UInt64)) -> String {
        var out = MetricsWriter()
        out.family("veer_queries_total", "counter", "DNS queries answered, by transport and response code.")
        for tcp in [false, true] {
            for (rcode, count) in queries.answered[tcp]!.enumerated() where count > 0 || rcode == 0 || rcode == 3 || rcode == 5 {
                out.sample("veer_queries_total", ["transport": tcp ? "tcp" : "udp", "rcode": Self.rcodeNames[rcode]], Double(count))
            }
        }
        out.family("veer_queries_dropped_total", "counter", "Queries dropped without an answer (responses, unparseable headers).")
        for tcp in [false, true] {
            out.sample("veer_queries_dropped_total", ["transport": tcp ? "tcp" : "udp"], Double(queries.dropped[tcp]!))
        }

        out.family("veer_rrl_limited_total", "counter",
                   "UDP responses held back by rate limiting, by response kind: dropped or sent truncated (with --rrl-log-only, only counted).")
        for kind in RateLimiter.Kind.allCases {
            out.sample("veer_rrl_limited_total", ["kind": kind.label], Double(limits.limited[kind.rawValue]))
        }
        out.family("veer_rrl_slipped_total", "counter", "Rate-limited responses sent truncated (TC) so that real clients retry over TCP.")
        out.sample("veer_rrl_slipped_total", [:], Double(limits.slipped))

        func each(_ body: (EffectiveWeights.Endpoint, [String: String]) -> Void) {
            for name in effective.names {
                for endpoint in name.endpoints { body(endpoint, ["name": name.key.text, "endpoint": endpoint.config.id]) }
            }
        }
        out.family("veer_answers_total", "counter", "Answers served per weighted name and endpoint since start.")
        each { endpoint, labels in out.sample("veer_answers_total", labels, Double(served(endpoint.config.slot))) }
        out.family("veer_answers_by_key_total", "counter",
                   "Answers of select=client names per endpoint, by what keyed the client: its EDNS Client Subnet prefix or its resolver's address.")
        for name in effective.names where name.config.selectByClient {
            for endpoint in name.endpoints {
                let slot = endpoint.config.slot
                let counts = slot < byKind.count ? byKind[slot] : (ecs: 0, resolver: 0)
                for (kind, value) in [("ecs", counts.ecs), ("resolver", counts.resolver)] {
                    out.sample("veer_answers_by_key_total", ["name": name.key.text, "endpoint": endpoint.config.id, "key": kind], Double(value))
                }
            }
        }
        out.family("veer_cohort_top_keys_share", "gauge",
                   "Share (0-1) of a select=client name's recently sampled answers that its \(CohortView.topCount) heaviest client keys carry.")
        for name in effective.names where name.config.selectByClient {
            out.sample("veer_cohort_top_keys_share", ["name": name.key.text], CohortView(name, samples: samples, byKind: byKind).topShare)
        }
        out.family("veer_weight_configured", "gauge", "Configured weight of each endpoint.")
        each { endpoint, labels in out.sample("veer_weight_configured", labels, Double(endpoint.configured)) }
        out.family("veer_weight_effective", "gauge", "Effective weight: the configured weight, or 0 while the endpoint is down.")
        each { endpoint, labels in out.sample("veer_weight_effective", labels, Double(endpoint.effective)) }
        out.family("veer_endpoint_up", "gauge", "1 while the endpoint's health check counts it up (or it has none), 0 while down.")
        each { endpoint, labels in out.sample("veer_endpoint_up", labels, endpoint.health == .down ? 0 : 1) }
        out.family("veer_name_fail_open", "gauge", "1 while every endpoint of the name is down and answers go out by the configured weights (fail open), else 0.")
        for name in effective.names { out.sample("veer_name_fail_open", ["name": name.key.text], name.failOpen ? 1 : 0) }
        out.family("veer_probe_latency_seconds", "gauge", "Latency of the endpoint's last health probe.")
        each { endpoint, labels in
            if let latency = probes[endpoint.config.slot]?.state.lastResult?.latencyMs {
                out.sample("veer_probe_latency_seconds", labels, Double(latency) / 1000)
            }
        }
        // Each family's samples stand together, as the text format wants.
        let rolloutRows = effective.names.map { name in
            let rollout = rollouts[name.key]
            return (rollout: rollout?.phase.isActive == true ? rollout : nil,
                    labels: ["name": name.key.text, "target": rollout?.target ?? "", "phase": rollout?.phase.rawValue ?? "none"])
        }
        out.family("veer_rollout_step", "gauge", "Step in force of the name's rollout (1-based); 0 when none is active.")
        for row in rolloutRows { out.sample("veer_rollout_step", row.labels, row.rollout.map { Double($0.step + 1) } ?? 0) }
        out.family("veer_rollout_share_percent", "gauge", "The rollout target's share at the step in force.")
        for row in rolloutRows {
            if let rollout = row.rollout { out.sample("veer_rollout_share_percent", row.labels, Double(rollout.currentShare) / 100) }
        }
        analysisMetrics(&out)
        out.family("veer_weights_last_change_timestamp_seconds", "gauge", "When the name's weights last changed (since this server started).")
        for (name, at) in changed.sorted(by: { $0.key < $1.key }) {
            out.sample("veer_weights_last_change_timestamp_seconds", ["name": name.text], Double(at.wall) / 1000)
        }
        if let shared {
            out.family("veer_store_up", "gauge", "1 while the shared store (etcd) answers, 0 while it does not: changes are refused then.")
            out.sample("veer_store_up", [:], shared.store.reachable ? 1 : 0)
            out.family("veer_store_state_since_timestamp_seconds", "gauge", "When the shared store last became reachable or unreachable.")
            out.sample("veer_store_state_since_timestamp_seconds", [:], Double(shared.store.since) / 1000)
            out.family("veer_store_state_readable", "gauge", "0 while the shared state does not read as a state: it is not adopted and changes are refused until `store restore`.")
            out.sample("veer_store_state_readable", [:], shared.store.unreadable == nil ? 1 : 0)
            out.family("veer_store_state_unreadable_since_timestamp_seconds", "gauge", "When the shared state was found unreadable; 0 while it reads.")
            out.sample("veer_store_state_unreadable_since_timestamp_seconds", [:], Double(shared.store.unreadable?.since ?? 0) / 1000)
            out.family("veer_store_revision", "gauge", "The revision of the shared state this server serves.")
            out.sample("veer_store_revision", [:], Double(shared.revision))
            out.family("veer_leader", "gauge", "1 while this server drives rollouts and rollbacks of the shared state.")
            out.sample("veer_leader", [:], shared.leader == shared.serverID ? 1 : 0)
            if let cluster = shared.cluster { clusterMetrics(cluster, &out) }
        }
        out.family("veer_state_generation", "gauge", "Increases with every weight, health and zone change; equal on servers with the same state history.")
        out.sample("veer_state_generation", [:], Double(generation))
        return out.text
    }
}

/// Builds Prometheus text: families in order, samples with escaped, sorted labels.
struct MetricsWriter {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Integers without a fraction, others in Swift's shortest round-trip form.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
