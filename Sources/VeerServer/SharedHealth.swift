import Synchronization
import Traffic

/// Health with a shared store: this server's probe verdicts are published for the others,
/// and the plane sees the quorum's verdict (`HealthQuorum`) instead of its own. A local
/// probe still counts toward a bake as a clean probe, at the quorum's verdict; only a quorum
/// transition aborts a rollout or rolls a migration back.
final class SharedHealth: Sendable {
    let store: any SharedStore
    private let verdicts = Mutex<(local: HealthQuorum.Verdicts, quorum: HealthQuorum.Verdicts)>(([:], [:]))

    init(store: any SharedStore) {
        self.store = store
    }

    /// Connects the store to the plane: what other servers save, the leadership and every
    /// server's verdicts come in as events (`post`). Until elected, this server leaves
    /// rollouts and rollbacks to others.
    func start(post: @escaping @Sendable (ControlPlane.Event) -> Void, effective: @escaping @Sendable () -> EffectiveWeights?) {
        post(.leadership(false))
        store.start(SharedStoreCallbacks(
            state: { post(.adopted($0)) },
            leadership: { post(.leadership($0)) },
            health: { [self] all in
                guard let weights = effective() else { return }
                for event in quorum(all, effective: weights) { post(event) }
            },
            drain: { post(.servedElsewhere($0)) }))
    }

    /// A local probe of `slot`: published, and handed to the plane as a clean probe at the
    /// verdict every server agrees on.
    func local(_ report: ProbeReport, effective: EffectiveWeights) -> ControlPlane.Event? {
        guard let key = Self.key(of: report.slot, in: effective) else { return nil }
        let status: EndpointHealth = switch report.status {
        case .unknown: .unknown
        case .up: .up
        case .down: .down
        }
        let (local, quorum) = verdicts.withLock { verdicts in
            verdicts.local[key] = status
            return (verdicts.local, verdicts.quorum[key] ?? .unknown)
        }
        store.publishHealth(local.mapValues(\.rawValue))
        return .probe(ProbeReport(slot: report.slot, anomaly: nil, status: Self.status(quorum), transition: nil))
    }

    /// Every live server's verdicts: the quorum transitions, as probe events.
    func quorum(_ byServer: [String: [String: String]], effective: EffectiveWeights) -> [ControlPlane.Event] {
        let all = byServer.mapValues { $0.compactMapValues(EndpointHealth.init(rawValue:)) }
        let next = HealthQuorum.verdicts(all, expected: store.cluster.expected)
        let before = verdicts.withLock { verdicts in
            defer { verdicts.quorum = next.mapValues(\.health) }
            return verdicts.quorum
        }
        var events: [ControlPlane.Event] = []
        for name in effective.names {
            for endpoint in name.endpoints {
                let key = endpoint.key.description
                let from = before[key] ?? .unknown, to = next[key]?.health ?? .unknown
                guard from != to else { continue }
                let reason = next[key]?.reason ?? "no server reports it"
                events.append(.probe(ProbeReport(
                    slot: endpoint.config.slot, anomaly: to == .down ? reason : nil, status: Self.status(to),
                    transition: HealthState.Transition(from: Self.status(from), to: Self.status(to), reason: reason))))
            }
        }
        return events
    }

    private static func key(of slot: Int, in effective: EffectiveWeights) -> String? {
        for name in effective.names {
            if let endpoint = name.endpoints.first(where: { $0.config.slot == slot }) { return endpoint.key.description }
        }
        return nil
    }

    private static func status(_ health: EndpointHealth) -> HealthState.Status {
        switch health {
        case .down: .down
        case .up: .up
        case .unknown, .unchecked: .unknown
        }
    }
}
