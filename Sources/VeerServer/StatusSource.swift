import Posix
import Traffic

/// What every status surface reads (`status`, `rollout status`, `health`, metrics): the plane
/// between two events, the probes, the served counters, and the shared store if there is one.
final class StatusSource: Sendable {
    let loop: ControlLoop
    let monitor: MonitorSlot
    let counters: CounterRegistry
    let clock: ControlClock
    let shared: (any SharedStore)?
    /// With `--keys`: the keys of the signed zones, for `status`.
    let signing: ZoneSigning?

    init(loop: ControlLoop, monitor: MonitorSlot, counters: CounterRegistry, clock: ControlClock, shared: (any SharedStore)?,
         signing: ZoneSigning? = nil) {
        self.signing = signing
        self.loop = loop
        self.monitor = monitor
        self.counters = counters
        self.clock = clock
        self.shared = shared
    }

    /// The served state as every surface shows it, taken between two events.
    func report() -> StatusReport {
        let probes = monitor.states()
        let servers = try? shared?.servers()
        let signedZones = signing.map { StatusReport.signedZones(of: $0.servedKeys()) } ?? []
        let nextRenewal = signing?.nextRenewal.map { Log.timestamp($0) }
        return loop.read { plane in
            let totals = counters.totals(count: plane.effective.slotCount)
            let base = clock.minuteAgo
            return StatusReport(effective: plane.effective, rollouts: plane.rollouts, changed: plane.changed,
                                generation: plane.generation, probes: probes, served: totals,
                                servedLastMinute: totals.indices.map { totals[$0] &- ($0 < base.count ? base[$0] : 0) },
                                byKind: counters.kindTotals(count: plane.effective.slotCount),
                                samples: counters.cohortSamples(),
                                shared: shared.map { .init(store: $0.reachability, serverID: $0.serverID, revision: plane.revision,
                                                           leader: $0.leader, servers: servers, cluster: $0.cluster) },
                                analyses: plane.analysisTallies, drain: plane.drain, drainTraffic: plane.drainTraffic,
                                signedZones: signedZones, nextRenewal: nextRenewal, now: loop.clock())
        }
    }

    /// The Prometheus text of `/metrics`.
    func metricsText() -> String {
        report().metrics(queries: counters.queryTotals(), limits: counters.limitTotals())
    }
}
