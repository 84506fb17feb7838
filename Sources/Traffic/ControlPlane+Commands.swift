import Units

/// Admin commands that change state: manual weight changes and rollouts.
extension ControlPlane {
    mutating func run(_ command: AdminCommand, line: String, requester: Requester, sample: [CohortSample] = [], now: Moment) -> [Effect] {
        do throws(AdminError) {
            switch command {
            case .weight(let name, let endpoint, let weight, let force, let dryRun):
                return try change(name, line: line, requester: requester, force: force, dryRun: dryRun, sample: sample, now: now) { (store) throws(AdminError) in
                    try store.setting(name, endpoint, to: weight, at: now.wallSeconds)
                }
            case .shift(let name, let endpoint, let basisPoints, let force, let dryRun):
                return try change(name, line: line, requester: requester, force: force, dryRun: dryRun, sample: sample, now: now) { (store) throws(AdminError) in
                    try store.shifting(name, endpoint, toBasisPoints: basisPoints, at: now.wallSeconds)
                }
            case .drain(let name, let endpoint, let force, let dryRun):
                return try change(name, line: line, requester: requester, force: force, dryRun: dryRun, sample: sample, now: now) { (store) throws(AdminError) in
                    try store.setting(name, endpoint, to: 0, at: now.wallSeconds)
                }
            case .undo(let name, let force):
                return try change(name, line: line, requester: requester, force: force, dryRun: false, sample: [], now: now) { (store) throws(AdminError) in
                    try store.undoing(name, at: now.wallSeconds)
                }
            case .rolloutStart(let name, let target, let steps, let bakeMs, let dryRun, let force):
                return try startRollout(NameKey(name), target: target, steps: steps, bakeMs: bakeMs, dryRun: dryRun, force: force,
                                        line: line, requester: requester, now: now)
            case .rolloutPause(let name):
                return try controlRollout(NameKey(name), line: line, requester: requester, now: now) { (rollout) throws(AdminError) in
                    try rollout.pause(reason: "paused by \(requester.spoken)", now: now)
                    return nil
                }
            case .rolloutResume(let name):
                return try controlRollout(NameKey(name), line: line, requester: requester, now: now) { (rollout) throws(AdminError) in
                    try rollout.resume(now: now)
                }
            case .rolloutAbort(let name):
                return try controlRollout(NameKey(name), line: line, requester: requester, now: now) { (rollout) throws(AdminError) in
                    try rollout.abort(reason: "aborted by \(requester.spoken)", now: now)
                }
            case .status, .rolloutStatus, .history, .health, .analysis, .reload, .storeRestore, .help:
                return [.reply("error: \(line) does not change state")]
            }
        } catch {
            return [.reply("error: \(error)")]
        }
    }

    /// A manual weight command. A name with an active rollout refuses it unless `force`,
    /// which pauses the rollout in the same save. A dry run shows the result only.
    private mutating func change(_ nameText: String, line: String, requester: Requester, force: Bool, dryRun: Bool,
                                 sample: [CohortSample], now: Moment,
                                 _ body: (WeightStore) throws(AdminError) -> (WeightStore, [WeightStore.Change])) throws(AdminError) -> [Effect] {
        let (next, changes) = try body(store)
        let key = NameKey(nameText)
        guard let name = next.name(key) else { throw AdminError.unknownName(key.text, store.names.map(\.name)) }
        if dryRun { return [.reply("ok dry run, nothing changed: " + Self.shares(name) + cohortMoves(key, to: next, sample: sample))] }
        guard !changes.isEmpty else { return [.reply("ok no change")] }
        var planned = rollouts
        var audit: [AuditEntry] = []
        if var rollout = rollouts[key], try rollout.manualChange(force: force, line: line, now: now) {
            audit.append(AuditEntry(at: now.wallSeconds, requester: requester, name: key,
                                    text: "rollout to \(rollout.target) paused at step \(rollout.step + 1)/\(rollout.steps.count)",
                                    reason: line))
            planned[key] = rollout
        }
        audit += Self.entries(changes, requester: requester, reason: line, now: now)
        let text = Self.weightsText(name)
        return [propose(Proposal(kind: .command(reply: "ok \(key) \(text) (generation \(Self.generationMark))"),
                                 store: next, rollouts: planned, changes: changes, audit: audit,
                                 logs: [.log(.info, "weights: \(key) \(text) by=\(requester.logName) reason=\"\(line)\"")], reason: line))]
    }

    /// For a `select=client` name: how many recently answered client keys `next` would move.
    private func cohortMoves(_ key: NameKey, to next: WeightStore, sample: [CohortSample]) -> String {
        guard let name = effective.name(key), name.config.selectByClient else { return "" }
        let after = EffectiveWeights(config: config, store: next, health: health, shortTTL: shortTTL, seed: seed)
        let moves = CohortView.moves(of: name, samples: sample, before: effective.table(), after: after.table())
        guard moves.of > 0 else { return "; cohorts: no client keys seen yet" }
        return "; cohorts: \(moves.keys) of \(moves.of) recently seen client keys would move "
            + "(\(Units.percentText(Double(moves.keys) * 100 / Double(moves.of)))), "
            + "carrying \(moves.answers) of \(moves.ofAnswers) sampled answers"
    }

    /// Audit lines of weight changes.
    static func entries(_ changes: [WeightStore.Change], requester: Requester?, reason: String, now: Moment) -> [AuditEntry] {
        changes.map { AuditEntry(at: now.wallSeconds, requester: requester, name: NameKey($0.name), text: "\($0.endpoint) \($0.old) -> \($0.new)", reason: reason) }
    }

    /// `rollout start NAME --to ENDPOINT --steps … --bake …`: checks the plan, saves its
    /// first step and starts the bake; with `dryRun`, only shows the steps. A first step
    /// below the target's current share would move traffic back off it: refused unless `force`.
    private mutating func startRollout(_ key: NameKey, target: String, steps: [Int], bakeMs: Int64, dryRun: Bool, force: Bool,
                                       line: String, requester: Requester, now: Moment) throws(AdminError) -> [Effect] {
        guard let saved = store.name(key), let config = name(key) else {
            throw AdminError.unknownName(key.text, store.names.map(\.name))
        }
        if let current = rollouts[key], current.phase.isActive {
            throw AdminError.badValue("\(key) already has a rollout to \(current.target) (\(current.phase.rawValue) at step \(current.step + 1)/\(current.steps.count)); abort it first")
        }
        let rollout = try Rollout(name: key.text, target: target, steps: steps, bakeMs: bakeMs, baseline: saved.endpoints,
                                  analyses: config.endpoint(target)?.analyses ?? [], now: now)
        guard let endpoint = config.endpoint(target) else {
            throw AdminError.unknownEndpoint(key.text, target, saved.endpoints.map(\.id))
        }
        guard endpoint.check != nil else {
            throw AdminError.badValue("endpoint \(target) of \(key) has no health check: a rollout promotes only on clean probes; add health= to its lines")
        }
        guard health[endpoint.slot] != .down else {
            throw AdminError.badValue("endpoint \(target) of \(key) is down; a rollout starts only toward a healthy endpoint")
        }
        let backward = Self.backwardStart(saved, target: target, firstStep: steps[0])
        if let backward, !force, !dryRun {
            throw AdminError.badValue("\(target) of \(key) has \(backward) of answers now and the first step \(Rollout.percent(steps[0])) would take traffic back off it; add --force, or start from a step at or above \(backward)")
        }
        // Every step's weights, as the run will set them.
        var plan: [(WeightStore, [WeightStore.Change])] = []
        var walk = store
        for value in steps {
            let step = try walk.shifting(key.text, target, toBasisPoints: value, at: now.wallSeconds)
            plan.append(step)
            walk = step.0
        }
        if dryRun {
            var lines = ["ok dry run, nothing changed: rollout of \(key) to \(target), \(steps.count) step\(steps.count == 1 ? "" : "s"), bake \(Rollout.duration(bakeMs))"]
            if let backward {
                lines.append("  \(target) has \(backward) now: step 1 (\(Rollout.percent(steps[0]))) moves traffic back off it; "
                    + (force ? "--force given, so it would start" : "refused without --force"))
            }
            for (index, step) in plan.enumerated() {
                let at = rollout.plannedStart(ofStep: index, now: now) ?? now.wall
                lines.append("  step \(index + 1) at +\(Rollout.duration(at - now.wall)) (\(Timestamp.text(at / 1000))): " + Self.shares(step.0.name(key)!))
            }
            let end = (rollout.plannedStart(ofStep: steps.count - 1, now: now) ?? now.wall) + bakeMs
            lines.append("  done at +\(Rollout.duration(end - now.wall)) (\(Timestamp.text(end / 1000))) if every step bakes clean")
            return [.reply(lines.joined(separator: "\n"))]
        }
        let (next, changes) = plan[0]
        var planned = rollouts
        planned[key] = rollout
        let text = "rollout to \(target) started: steps \(steps.map(Rollout.percent).joined(separator: ",")) bake \(Rollout.duration(bakeMs))"
        let audit = [AuditEntry(at: now.wallSeconds, requester: requester, name: key, text: text, reason: line)]
            + Self.entries(changes, requester: requester, reason: line, now: now)
        let reply = "ok \(key) rollout to \(target) started: step 1/\(steps.count) \(Rollout.percent(steps[0])), \(Self.weightsText(next.name(key)!)), next step after \(Rollout.duration(bakeMs)) clean (generation \(Self.generationMark))"
        return [propose(Proposal(kind: .command(reply: reply), store: next, rollouts: planned, changes: changes, audit: audit,
                                 logs: [.log(.info, "rollout: \(key) \(text), step 1/\(steps.count) \(Rollout.percent(steps[0])) by=\(requester.logName)")],
                                 reason: line))]
    }

    /// The target's current share (rounded up to a basis point) as text when `firstStep` (basis points) is below it, else nil.
    static func backwardStart(_ saved: WeightStore.Name, target: String, firstStep: Int) -> String? {
        let total = saved.total
        guard total > 0, let weight = saved.weight(of: target) else { return nil }
        // firstStep/10,000 < weight/total, compared exactly.
        guard UInt64(firstStep) * total < UInt64(weight) * 10_000 else { return nil }
        // Rounded up, so that "a step at or above" it is never itself refused.
        return Rollout.percent(Int((UInt64(weight) * 10_000 + total - 1) / total))
    }

    /// `rollout pause|resume|abort NAME`: runs `body` on the name's rollout and saves what
    /// the action it returns does to the weights.
    private mutating func controlRollout(_ key: NameKey, line: String, requester: Requester, now: Moment,
                                         _ body: (inout Rollout) throws(AdminError) -> Rollout.Action?) throws(AdminError) -> [Effect] {
        guard var rollout = rollouts[key] else {
            throw AdminError.badValue("\(key) has no rollout; start one with: \(AdminCommand.rolloutStartForm)")
        }
        let action = try body(&rollout)
        var planned = rollouts
        planned[key] = rollout
        let (next, changes) = try weights(for: action, of: rollout, now: now)
        let text = "rollout to \(rollout.target) \(rollout.phase.rawValue) at step \(rollout.step + 1)/\(rollout.steps.count)"
        let audit = [AuditEntry(at: now.wallSeconds, requester: requester, name: key, text: text, reason: line)]
            + Self.entries(changes, requester: requester, reason: line, now: now)
        return [propose(Proposal(kind: .command(reply: "ok \(key) \(text), \(Self.weightsText(next.name(key)!)) (generation \(Self.generationMark))"),
                                 store: next, rollouts: planned, changes: changes, audit: audit,
                                 logs: [.log(.info, "rollout: \(key) \(text) by=\(requester.logName)")], reason: line))]
    }

    /// The weights a rollout's action stands for.
    func weights(for action: Rollout.Action?, of rollout: Rollout, now: Moment) throws(AdminError) -> (WeightStore, [WeightStore.Change]) {
        switch action {
        case .rollBack?:
            return try store.assigning(rollout.name, rollout.rollbackWeights(current: store.name(rollout.key)?.endpoints ?? []), at: now.wallSeconds)
        case .apply(_, let basisPoints)?:
            return try store.shifting(rollout.name, rollout.target, toBasisPoints: basisPoints, at: now.wallSeconds)
        case .complete?, .hold?, nil:
            return (store, [])
        }
    }
}
