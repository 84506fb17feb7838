import Units

/// The control plane as a value: every admin command, probe result, clock tick, zone reload
/// and save result goes in as an `Event` with the time, and what must happen comes out as
/// `Effect`s (save and audit, publish a snapshot, log, reply) for the I/O edge to carry out.
/// It reads no clock, touches no file and takes no lock, so every path — a save failing
/// during a promotion, an audit write failing, a clock step — is a table-driven test.
///
/// Persistence is disk first for what operators ask (the reply says `ok` only once the
/// change and its audit lines are durable) and memory first for safety (a rollback takes
/// traffic off the target at once and is saved when the store allows). One save is in flight
/// at a time; events that arrive meanwhile wait their turn, so none sees a half-made change.
public struct ControlPlane: Sendable {
    public struct Settings: Sendable, Equatable {
        /// A weight raised this recently marks the endpoint a migration is moving to.
        public var rollbackWindowMs: Int64 = RollbackRule.defaultWindowSeconds * 1000
        /// After a manual change of a name with `ttl-shift=` and no rollout behind it, answers
        /// keep the short TTL this long (a rollout's bake otherwise).
        public var shiftWindowMs: Int64 = 600_000
        /// How often a change kept in memory only (a rollback on a full disk) is saved again.
        public var retryEveryMs: Int64 = 1_000
        /// How often a baking rollout's progress is saved, so a restart resumes near it.
        public var checkpointEveryMs: Int64 = 10_000

        public init() {}
    }

    public enum Event: Sendable {
        /// An admin command that changes state (weight, shift, drain, undo, rollout start,
        /// pause, resume, abort; the edge answers the others itself); a dry run of a
        /// `select=client` name reads `sample`, the client keys recently answered.
        case command(AdminCommand, line: String, requester: Requester, sample: [CohortSample] = [])
        case probe(ProbeReport)
        /// The control clock: bakes, short-TTL windows, retries.
        case tick
        /// Zones read again and valid; `zones` names them for `publish`.
        case reload([WeightedNameConfig], zones: Int)
        /// The outcome of the last `persist` effect.
        case persisted(PersistOutcome)
        /// Another server saved `state` in the shared store: serve it.
        case adopted(PersistedState)
        /// This server now drives the rollouts and rollbacks of the shared state (true), or
        /// another one does (false). A server without a shared store always does.
        case leadership(Bool)
        /// What Prometheus answered to an `.analyze` effect's queries.
        case analyzed(AnalysisRequest, AnalysisMeasurement)
        /// The served totals by slot, sampled on the control clock: when each endpoint was
        /// last answered (`drain`).
        case served([UInt64])
        /// What other servers sharing the store saw of the drained endpoints.
        case servedElsewhere([EndpointKey: DrainWatch.Seen])
        /// Zone set `zones` was signed (DNSSEC): its earliest signature is due for renewal at
        /// `refreshAtMs` (wall clock); a new publish carries the new signatures.
        case signed(zones: Int, refreshAtMs: Int64)
    }

    public enum Effect: Sendable, Equatable {
        /// Save the state if the store is still at `revision`, then append `audit`; report
        /// the outcome with `.persisted`.
        case persist(PersistRequest)
        /// Publish the snapshot `generation` made of what `Publication` carries; the edge
        /// needs nothing else, and never reads the plane back.
        case publish(generation: UInt64, Publication)
        case log(LogLevel, String)
        /// The answer to the command being handled.
        case reply(String)
        /// Run an analysis's queries (off the control queue) and report with `.analyzed`.
        case analyze(AnalysisRequest)
        /// Sign zone set `zones` again (signatures near expiry), off the control queue, and
        /// report with `.signed` (ControlPlane+Signing.swift).
        case resign(zones: Int)
    }

    public enum LogLevel: String, Sendable, Equatable { case info, warning, error }

    public let settings: Settings
    public internal(set) var config: [WeightedNameConfig]
    public internal(set) var store: WeightStore
    /// The latest rollout of each name, active or finished.
    public internal(set) var rollouts: [NameKey: Rollout]
    /// Probe verdicts by slot (slots without a result are unknown).
    public internal(set) var health: [Int: EndpointHealth] = [:]
    /// When each name's weights last changed.
    public internal(set) var changed: [NameKey: Moment] = [:]
    /// Names whose answers carry their `ttl-shift=` TTL now.
    public internal(set) var shortTTL: Set<NameKey> = []
    /// The weighting rule applied to all of the above; what `publish` publishes.
    public internal(set) var effective: EffectiveWeights
    /// Of the last publish.
    public internal(set) var generation: UInt64 = 0
    /// The zones `config` came from: the one owner of which zone set is served. A `.reload`
    /// names its zones by number; the publish that makes it says to adopt them.
    public internal(set) var zones: Int
    /// The store's revision of what is saved.
    public internal(set) var revision: UInt64
    /// What `select=client` names hash clients with; saved with the state.
    public internal(set) var seed: CohortSeed
    /// This server advances bakes, aborts rollouts and rolls migrations back. With a shared
    /// store only the elected leader does, so each happens once, not once per server.
    public internal(set) var leads = true
    /// The store holds `seed` (every save writes it).
    var seedSaved: Bool
    /// Audit lines of changes made in memory that are not saved yet.
    public internal(set) var unsaved: [AuditEntry] = []
    /// Memory differs from the store: a rollback could not be saved.
    public internal(set) var dirty = false
    /// Names whose every endpoint is down, logged once per outage.
    var allDown: Set<NameKey> = []
    var lastRetry: Int64?
    /// The last background save's error, until one succeeds.
    public internal(set) var lastSaveError: String?
    var lastCheckpoint: [NameKey: Int64] = [:]
    /// The clean probes each baking rollout had at its last checkpoint.
    var checkpointedProbes: [NameKey: Int] = [:]
    var inFlight: Pending?
    var waiting: [Event] = []
    /// The analyses this server runs or ran: their verdicts in a row, when each last started
    /// and whether its queries are out (`ControlPlane+Analysis`).
    public internal(set) var analysisTallies: [AnalysisKey: AnalysisTally] = [:]
    var analysisStarted: [AnalysisKey: Int64] = [:]
    var analysisOut: Set<AnalysisKey> = []
    /// The analyses watched at the last tick: one watched anew counts its failures from 0.
    var analysisWatched: Set<AnalysisKey> = []
    /// When each endpoint was last answered, here and (merged) on the other servers.
    public internal(set) var drain = DrainWatch(since: 0)
    /// Grows when what is known of an endpoint at weight 0 changes: a shared store publishes
    /// `drained` again then, not on every sample.
    public internal(set) var drainRevision: UInt64 = 0
    /// By slot, from `effective`: the TTL answers carry and whether the weight is 0.
    var servedTTL: [UInt32] = []
    var drainable: [Bool] = []
    /// What still reaches each drained endpoint, by its analysis's `traffic=` query.
    public internal(set) var drainTraffic: [EndpointKey: DrainTraffic] = [:]
    /// When the served zones' signatures are next due for renewal (wall ms), if signed.
    public internal(set) var resignAtMs: Int64?

    /// What a save in flight is for, and so what its outcome does.
    enum Pending: Sendable {
        /// Disk first: applied (and answered `ok`) once saved and audited.
        case proposal(Proposal)
        /// The audit append failed after the save: the old state goes back to the store.
        case restore(reply: String)
        /// Memory first: already applied; a failure leaves it unsaved, retried by the clock.
        case background
    }

    /// A change waiting for its save.
    struct Proposal: Sendable {
        enum Kind: Sendable {
            case command(reply: String)
            /// The clock promoted a rollout; if the save fails it pauses as it was.
            case promotion(before: Rollout, failure: String)
            case reload(config: [WeightedNameConfig], zones: Int, reply: String)
        }
        var kind: Kind
        var store: WeightStore
        var rollouts: [NameKey: Rollout]
        var changes: [WeightStore.Change]
        var audit: [AuditEntry]
        /// Logged once it is made.
        var logs: [Effect]
        var reason: String
    }

    /// The plane a server starts with: `saved` (if any) reconciled with the zones. Rollouts
    /// whose target left the zones are dropped, baking ones resume where they were saved.
    /// `seed` is the cohort seed to use (the saved one, an operator's, or a new random one).
    /// The effects save and audit what start-up changed (a new seed included), log it and publish.
    public static func start(config: [WeightedNameConfig], zones: Int, saved: PersistedState?, seed: CohortSeed,
                             settings: Settings = Settings(), now: Moment) -> (ControlPlane, [Effect]) {
        var effects: [Effect] = []
        let (store, notes) = (saved?.store ?? WeightStore()).reconciled(with: Self.declared(config))
        for note in notes { effects.append(.log(.info, "weights: \(note)")) }
        var rollouts: [NameKey: Rollout] = [:]
        var audit: [AuditEntry] = []
        for var rollout in saved?.rollouts ?? [] {
            guard store.name(rollout.key)?.weight(of: rollout.target) != nil else {
                effects.append(.log(.info, "rollout: \(rollout.name) to \(rollout.target) is no longer in the zones; dropped"))
                audit.append(AuditEntry(at: now.wallSeconds, requester: nil, name: rollout.key,
                                        text: "rollout to \(rollout.target) dropped: no longer in the zones", reason: "server start"))
                continue
            }
            rollout.restarted()
            if rollout.phase.isActive { rollout.require(analyses: config.first { $0.key == rollout.key }?.endpoint(rollout.target)?.analyses ?? []) }
            if rollout.phase == .baking {
                effects.append(.log(.info, "rollout: \(rollout.name) to \(rollout.target): \(rollout.note ?? "")"))
            } else if rollout.phase == .paused {
                effects.append(.log(.info, "rollout: \(rollout.name) to \(rollout.target) is paused at step \(rollout.step + 1)/\(rollout.steps.count)"))
            }
            rollouts[rollout.key] = rollout
        }
        var plane = ControlPlane(settings: settings, config: config, store: store, rollouts: rollouts, zones: zones,
                                 revision: saved?.revision ?? 0, seed: seed)
        plane.seedSaved = saved?.seed == seed
        plane.drain = DrainWatch(since: now.wall)
        // A new seed is saved at once when a name uses it: cohorts must not move at the next restart.
        if plane.needsSeedSaved || (saved != nil && (store != saved?.store || !audit.isEmpty)) {
            effects.append(plane.persistNow(audit: audit))
        }
        plane.refresh(now)
        effects.append(plane.published())
        for name in store.names { effects.append(.log(.info, "weights: \(name.name) \(Self.weightsText(name))")) }
        return (plane, effects)
    }

    private init(settings: Settings, config: [WeightedNameConfig], store: WeightStore, rollouts: [NameKey: Rollout],
                 zones: Int, revision: UInt64, seed: CohortSeed) {
        self.settings = settings
        self.seed = seed
        seedSaved = false
        self.config = config
        self.store = store
        self.rollouts = rollouts
        self.zones = zones
        self.revision = revision
        effective = EffectiveWeights(config: config, store: store, health: [:], shortTTL: [], seed: seed)
    }

    /// Some name chooses by client and the store does not hold the seed yet.
    var needsSeedSaved: Bool { !seedSaved && config.contains { $0.selectByClient } }

    static func declared(_ config: [WeightedNameConfig]) -> [WeightStore.Declared] {
        config.map { WeightStore.Declared(name: $0.key.text, endpoints: $0.endpoints.map { ($0.id, $0.zoneWeight) }) }
    }

    public func name(_ key: NameKey) -> WeightedNameConfig? { config.first { $0.key == key } }

    /// The config of the endpoint in `slot`.
    func endpoint(slot: Int) -> (WeightedNameConfig, EndpointConfig)? {
        for name in config { if let endpoint = name.endpoints.first(where: { $0.slot == slot }) { return (name, endpoint) } }
        return nil
    }

    // MARK: - Events

    /// Handles one event at `now` and returns what the I/O edge must do, in order.
    public mutating func handle(_ event: Event, now: Moment) -> [Effect] {
        if case .persisted(let outcome) = event {
            var effects = finish(outcome, now: now)
            // What waited for this save runs now, in arrival order, until one saves again.
            while inFlight == nil && !waiting.isEmpty {
                effects += dispatch(waiting.removeFirst(), now: now)
            }
            return effects
        }
        guard inFlight == nil else {
            waiting.append(event)
            return []
        }
        return dispatch(event, now: now)
    }

    private mutating func dispatch(_ event: Event, now: Moment) -> [Effect] {
        switch event {
        case .command(let command, let line, let requester, let sample): return run(command, line: line, requester: requester, sample: sample, now: now)
        case .probe(let report): return probed(report, now: now)
        case .tick: return tick(now: now)
        case .reload(let config, let zones): return reload(config, zones: zones, now: now)
        case .adopted(let state): return adopt(state, now: now)
        case .leadership(let leads): return lead(leads, now: now)
        case .analyzed(let request, let measurement): return analyzed(request, measurement, now: now)
        case .served(let totals): return served(totals, now: now)
        case .servedElsewhere(let seen): return servedElsewhere(seen)
        case .signed(let zones, let at): return signed(zones: zones, refreshAtMs: at)
        case .persisted: return []
        }
    }

    /// The next generation's publish effect; `adoptingZones` when it is the first over the
    /// zones a reload brought.
    mutating func published(adoptingZones: Bool = false) -> Effect {
        generation += 1
        return .publish(generation: generation, Publication(effective: effective, rollouts: rollouts, zones: zones,
                                                            adoptsZones: adoptingZones, revision: revision, drained: drained))
    }

    /// Recomputes what derives from the state: short-TTL names and the effective weights.
    mutating func refresh(_ now: Moment) {
        shortTTL = Self.shortTTLNames(config: config, rollouts: rollouts, changed: changed, now: now,
                                      window: settings.shiftWindowMs)
        effective = EffectiveWeights(config: config, store: store, health: health, shortTTL: shortTTL, seed: seed)
        let zero = drainable
        (servedTTL, drainable) = Self.drainTables(effective)
        // An endpoint just set to 0 (or raised from it): a shared store hears what this server
        // saw of it, even if it is never answered again.
        if drainable != zero { drainRevision += 1 }
    }

    /// Names whose answers should carry their short TTL: a rollout is active, or the weights
    /// changed within one bake (the last rollout's, else the shift window).
    static func shortTTLNames(config: [WeightedNameConfig], rollouts: [NameKey: Rollout], changed: [NameKey: Moment],
                              now: Moment, window: Int64) -> Set<NameKey> {
        var names: Set<NameKey> = []
        for name in config where name.ttlShift != nil {
            let rollout = rollouts[name.key]
            if rollout?.phase.isActive == true {
                names.insert(name.key)
            } else if let at = changed[name.key], now.monotonic - at.monotonic < rollout?.bakeMs ?? window {
                names.insert(name.key)
            }
        }
        return names
    }

    // MARK: - Persistence

    /// Saves `proposal` (disk first); it is made when the save and audit succeed.
    mutating func propose(_ proposal: Proposal) -> Effect {
        inFlight = .proposal(proposal)
        return .persist(PersistRequest(store: proposal.store, rollouts: Array(proposal.rollouts.values), seed: seed,
                                       revision: revision, audit: unsaved + proposal.audit))
    }

    /// Saves what is in memory now (memory first), with any audit lines still unsaved.
    mutating func persistNow(audit: [AuditEntry] = []) -> Effect {
        inFlight = .background
        unsaved += audit
        dirty = true
        return .persist(PersistRequest(store: store, rollouts: Array(rollouts.values), seed: seed, revision: revision, audit: unsaved))
    }

    private mutating func finish(_ outcome: PersistOutcome, now: Moment) -> [Effect] {
        guard let pending = inFlight else { return [.log(.error, "state: a save result came with no save in flight")] }
        inFlight = nil
        switch outcome {
        case .saved, .auditFailed: seedSaved = true
        case .saveFailed, .conflict, .unknown: break
        }
        switch (pending, outcome) {
        case (.proposal(let proposal), .saved(let revision)):
            self.revision = revision
            unsaved = []
            dirty = false
            lastSaveError = nil
            return apply(proposal, now: now)
        case (.proposal(let proposal), .saveFailed(let error)):
            return refused(proposal, because: "saving weights failed, nothing changed: \(error)",
                           log: "weights: saving: \(error); \"\(proposal.reason)\" not applied", now: now)
        case (.proposal(let proposal), .unknown(let error)):
            // Not made here: if the store has it, the watch brings it and it is adopted.
            let check = "check with `" + (proposal.changes.first.map { "history \($0.name)" } ?? "history") + "`"
            var held: String?
            if case .promotion(_, let failure) = proposal.kind {
                held = "the outcome of saving \"\(failure)\" is unknown (\(error)); \(check); if it was saved, it is adopted when it arrives"
            }
            return refused(proposal, because: "outcome unknown: \(error); \(check)",
                           log: "weights: saving: outcome unknown: \(error); \"\(proposal.reason)\" not applied here", held: held, now: now)
        case (.proposal(let proposal), .conflict(let error)):
            // Another server saved first: nothing here changed; its state arrives by the watch.
            if case .promotion(let before, let text) = proposal.kind {
                // Not the step's failure: the baked step stays in force (or what the watch
                // brought, if that moved it) and the next tick tries again on the newer state.
                return [.log(.info, "rollout: \(before.key) \(text) not saved, another server saved first (\(error)); trying again")]
            }
            return refused(proposal, because: error, log: "weights: \(error); \"\(proposal.reason)\" not applied", now: now)
        case (.proposal(let proposal), .auditFailed(let revision, let error)):
            // The store has the change but not its audit line: put the old state back, since a
            // change without its audit line is not made.
            self.revision = revision
            var effects: [Effect] = [.log(.error, "weights: writing the audit log: \(error); \"\(proposal.reason)\" not applied")]
            if case .promotion = proposal.kind {
                effects += refused(proposal, because: "writing the audit log failed: \(error)", log: nil, now: now)
            }
            inFlight = .restore(reply: "error: writing the audit log failed, nothing changed: \(error)")
            effects.append(.persist(PersistRequest(store: store, rollouts: Array(rollouts.values), seed: seed, revision: revision, audit: [])))
            return effects
        case (.restore(let reply), let outcome):
            var effects: [Effect] = []
            switch outcome {
            case .saved(let revision), .auditFailed(let revision, _):
                self.revision = revision
            case .saveFailed(let error), .conflict(let error), .unknown(let error):
                // Memory and the store (may) now differ; the clock saves memory again.
                dirty = true
                effects.append(.log(.error, "weights: restoring the state after a failed audit write: \(error); retrying"))
            }
            return effects + [.reply(reply)]
        case (.background, .saved(let revision)):
            self.revision = revision
            let wasFailing = lastSaveError != nil
            unsaved = []
            dirty = false
            lastSaveError = nil
            return wasFailing ? [.log(.info, "weights: saved the changes kept in memory")] : []
        case (.background, .auditFailed(let revision, let error)):
            self.revision = revision
            lastRetry = now.monotonic
            return noteSaveError("writing the audit log: \(error)")
        case (.background, .saveFailed(let error)):
            lastRetry = now.monotonic
            return noteSaveError("saving: \(error)")
        case (.background, .unknown(let error)):
            // Kept and retried as after a failure: a retry from the same revision is refused
            // as a conflict if this save was applied after all, and its state comes by the watch.
            lastRetry = now.monotonic
            return noteSaveError("saving: outcome unknown: \(error)")
        case (.background, .conflict(let error)):
            // Another server saved first; what it saved is what the servers answer now, and
            // it reaches this one by the watch. Made here and not saved: dropped.
            let dropped = unsaved
            dirty = false
            unsaved = []
            lastSaveError = nil
            // With no audit line, nothing anyone asked for is lost: servers started together
            // all write their first state (the cohort seed), one wins, the others adopt it.
            guard !dropped.isEmpty else {
                return [.log(.info, "state: another server saved the shared state first; this server adopts it (it had no change of its own to save)")]
            }
            return [.log(.warning, "weights: \(error); this server's unsaved change is dropped for the shared state")]
        }
    }

    /// Logs a background save's error once per new error; the clock tries again.
    private mutating func noteSaveError(_ text: String) -> [Effect] {
        defer { lastSaveError = text }
        return text == lastSaveError ? [] : [.log(.error, "weights: \(text); kept in memory, retrying")]
    }

    /// Makes a proposal that is saved (or had nothing to save): memory takes it, the snapshot
    /// is published, the logs and the reply go out.
    mutating func apply(_ proposal: Proposal, now: Moment) -> [Effect] {
        store = proposal.store
        rollouts = proposal.rollouts
        for change in proposal.changes { changed[NameKey(change.name)] = now }
        var reply: String?
        var adoptsZones = false
        switch proposal.kind {
        case .command(let text): reply = text
        case .promotion: break
        case .reload(let config, let zones, let text):
            adoptsZones = true
            self.config = config
            self.zones = zones
            // Endpoints that left the zones are no longer held down.
            let slots = Set(config.flatMap { $0.endpoints.map(\.slot) })
            health = health.filter { slots.contains($0.key) }
            reply = text
        }
        refresh(now)
        var effects = [published(adoptingZones: adoptsZones)]
        for case .log(let level, let text) in proposal.logs { effects.append(.log(level, stamped(text))) }
        if let reply { effects.append(.reply(stamped(reply))) }
        return effects
    }

    /// Where a reply or log line of a proposal names the generation it is published in,
    /// which is known only once it is saved.
    static let generationMark = "\u{1}generation\u{1}"

    private func stamped(_ text: String) -> String { text.replacing(Self.generationMark, with: "\(generation)") }

    /// A proposal the store did not take: an operator gets the error; a promotion pauses the
    /// rollout where it was.
    /// `held` is why a held promotion is paused, when it is not that it could not be saved.
    private mutating func refused(_ proposal: Proposal, because error: String, log: String?, held: String? = nil,
                                  now: Moment) -> [Effect] {
        var effects: [Effect] = log.map { [.log(.error, $0)] } ?? []
        switch proposal.kind {
        case .command, .reload:
            effects.append(.reply("error: \(error)"))
        case .promotion(let before, let failure):
            effects += hold(before, because: held ?? "\(failure) could not be saved (\(error))", now: now)
        }
        return effects
    }

    /// Pauses `rollout` as it was before a step that could not be taken.
    mutating func hold(_ rollout: Rollout, because why: String, now: Moment) -> [Effect] {
        var held = rollout
        try? held.pause(reason: "paused: \(why)", now: now)
        rollouts[held.key] = held
        refresh(now)
        return [published(), .log(.error, "rollout: \(held.name): \(why); rollout paused at step \(held.step + 1)/\(held.steps.count)")]
    }

    // MARK: - Text

    /// `old=75 new=25`
    public static func weightsText(_ name: WeightStore.Name) -> String {
        name.endpoints.map { "\($0.id)=\($0.weight)" }.joined(separator: " ")
    }

    /// `api.example.com. old=75 (75.0%) new=25 (25.0%)`
    public static func shares(_ name: WeightStore.Name) -> String {
        let total = name.total
        return name.name + " " + name.endpoints.map { endpoint in
            "\(endpoint.id)=\(endpoint.weight) (\(Units.percentText(total == 0 ? 0 : Double(endpoint.weight) * 100 / Double(total))))"
        }.joined(separator: " ")
    }
}

/// What a snapshot is made of, as the `.publish` effect hands it to the I/O edge.
public struct Publication: Sendable, Equatable {
    /// The weights answers are chosen by; the status records are made of them too.
    public let effective: EffectiveWeights
    /// The latest rollout of each name, for the status records.
    public let rollouts: [NameKey: Rollout]
    /// The number of the zone set to answer from (the one `.reload` gave it, 0 at start).
    public let zones: Int
    /// This publish is the first over `zones`: a reload was made. The edge starts probing
    /// their endpoints and lets the older zone sets go.
    public let adoptsZones: Bool
    /// The store's revision the state is at; a shared store tells the others it serves it.
    public let revision: UInt64
    /// When the endpoints at weight 0 were last answered, for the status records.
    public let drained: [EndpointKey: DrainWatch.Seen]

    public init(effective: EffectiveWeights, rollouts: [NameKey: Rollout], zones: Int, adoptsZones: Bool, revision: UInt64,
                drained: [EndpointKey: DrainWatch.Seen] = [:]) {
        self.drained = drained
        self.effective = effective
        self.rollouts = rollouts
        self.zones = zones
        self.adoptsZones = adoptsZones
        self.revision = revision
    }
}

/// A save the control plane asks for.
public struct PersistRequest: Sendable, Equatable {
    public let store: WeightStore
    /// Sorted by name.
    public let rollouts: [Rollout]
    public let seed: CohortSeed
    /// The revision the store must still be at.
    public let revision: UInt64
    /// Appended after the save succeeds.
    public let audit: [AuditEntry]

    public init(store: WeightStore, rollouts: [Rollout], seed: CohortSeed, revision: UInt64, audit: [AuditEntry]) {
        self.store = store
        self.seed = seed
        self.rollouts = rollouts.sorted { $0.name < $1.name }
        self.revision = revision
        self.audit = audit
    }
}

/// How a `PersistRequest` went.
public enum PersistOutcome: Sendable, Equatable {
    /// Saved and audited; the store is at `revision`.
    case saved(revision: UInt64)
    /// Not saved; the store is unchanged.
    case saveFailed(String)
    /// Saved at `revision`, but the audit lines could not be appended.
    case auditFailed(revision: UInt64, String)
    /// Not saved: another server saved first (a shared store); the store is unchanged here.
    case conflict(String)
    /// Maybe saved, maybe not: the store did not answer in time after the save was sent,
    /// and could not say later within its bound. If it was saved, it arrives as another
    /// server's state would (`.adopted`).
    case unknown(String)
}

/// One probe's outcome as the control plane sees it: every probe, so a rollout can abort on
/// the first anomaly, with the verdict after it and the up/down change it caused, if any.
public struct ProbeReport: Sendable, Equatable {
    public let slot: Int
    /// Why the probe counts against the endpoint, or nil for a clean one.
    public let anomaly: String?
    public let status: HealthState.Status
    public let transition: HealthState.Transition?

    public init(slot: Int, anomaly: String?, status: HealthState.Status, transition: HealthState.Transition?) {
        self.slot = slot
        self.anomaly = anomaly
        self.status = status
        self.transition = transition
    }
}
