import Authority
import Dispatch
import Posix
import Traffic

/// Carries out the control plane's effects, in order: saves and audit lines through the
/// `StateStore`, snapshots into the box the query path reads, logs, the reply. A plain
/// switch, one case per effect; everything an effect needs travels in it, so nothing here
/// reads the plane back.
final class EffectExecutor: Sendable {
    let store: any StateStore
    /// With a shared store: told the revision each snapshot serves.
    let shared: (any SharedStore)?
    let box: SnapshotBox
    let zoneSets: ZoneSets
    let monitor: MonitorSlot
    /// `--keys`: carries out `.resign`.
    let signing: ZoneSigning?

    init(store: any StateStore, shared: (any SharedStore)?, box: SnapshotBox, zoneSets: ZoneSets, monitor: MonitorSlot,
         signing: ZoneSigning? = nil) {
        self.signing = signing
        self.store = store
        self.shared = shared
        self.box = box
        self.zoneSets = zoneSets
        self.monitor = monitor
    }

    /// Carries out `effects`; a save's outcome goes to `saved` (the plane), and the effects
    /// it returns are carried out after the rest; what finishes later (an analysis's queries)
    /// comes back to the plane as an event through `post`. Returns the reply, if one came.
    func perform(_ effects: [ControlPlane.Effect], saved: (PersistOutcome) -> [ControlPlane.Effect],
                 post: @escaping @Sendable (ControlPlane.Event) -> Void) -> String? {
        var reply: String?
        var pending = effects[...]
        while let effect = pending.popFirst() {
            switch effect {
            case .persist(let request):
                // A shared state nobody can read is not replaced by a change: only `store restore` does.
                if let unreadable = shared?.reachability.unreadable {
                    pending += saved(.saveFailed(unreadable.refusal(store.location)))
                } else {
                    pending += saved(store.commit(request))
                }
            case .publish(let generation, let publication):
                publish(publication, generation: generation)
            case .log(let level, let text):
                Log.write(Log.Level(rawValue: level.rawValue) ?? .info, text)
            case .reply(let text):
                reply = text
            case .analyze(let request):
                AnalysisRunner.start(request) { post(.analyzed(request, $0)) }
            case .resign(let zones):
                resign(zones, post: post)
            }
        }
        return reply
    }

    /// Signs zone set `number` again off the control queue (the cache keeps what is still
    /// fresh) and reports with `.signed`, whose publish carries the new signatures. On
    /// failure the old signatures stay and it is tried again in a minute.
    private func resign(_ number: Int, post: @escaping @Sendable (ControlPlane.Event) -> Void) {
        guard let signing else { return }
        let zoneSets = self.zoneSets
        DispatchQueue.global().async {
            guard let served = zoneSets.zonesIfKept(number) else { return }
            do {
                let (signatures, refreshAt, keys) = try signing.sign(served.data)
                zoneSets.resigned(number, signatures, refreshAt: refreshAt, keys: keys)
                if let refreshAt { post(.signed(zones: number, refreshAtMs: ZoneSigning.milliseconds(refreshAt))) }
            } catch {
                Log.error("dnssec: renewal failed, the current signatures stay: \(error)")
                post(.signed(zones: number, refreshAtMs: (Clock.wallSeconds() + 60) * 1000))
            }
        }
    }

    /// Publishes snapshot `generation` over the zone set the plane names; a reload's zones
    /// are adopted here (the older sets let go), and the health checks follow them.
    private func publish(_ publication: Publication, generation: UInt64) {
        let served = zoneSets.zones(publication.zones)
        let records = StatusReport.records(publication.effective, rollouts: publication.rollouts, generation: generation,
                                           drained: publication.drained)
        let status = StatusRecords(served.data.weighted.compactMap { set in
            records[NameKey(set.owner)].map { (set.owner, $0) }
        })
        box.publish(Snapshot(zones: served.data, weights: publication.effective.table(), generation: generation, status: status,
                             signatures: served.signatures))
        shared?.serving(revision: publication.revision)
        if let summaries = served.summaries { shared?.servingZones(summaries) }
        guard publication.adoptsZones else { return }
        zoneSets.release(before: publication.zones)
        monitor.configure(served.targets)
        Log.info("reload: \(served.zoneCount) zone(s), generation \(generation)")
        // The parser's and the old snapshot's memory goes back to the system once every
        // server thread has let go of the old snapshot (idle ones within a second).
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(2)) { Posix.Process.releaseFreedMemory() }
    }
}
