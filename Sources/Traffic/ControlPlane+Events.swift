/// What Veer does by itself: health verdicts, the rollout clock, zone reloads.
extension ControlPlane {
    // MARK: - Health

    /// One probe result: feeds the rollout whose target it is (an anomaly aborts it and
    /// rolls back), then applies the verdict: effective weight 0 while down. An endpoint that
    /// goes down while a migration moves to it is rolled back: configured weight 0, and it
    /// stays 0 after it recovers until an operator raises it (`undo` restores it).
    mutating func probed(_ report: ProbeReport, now: Moment) -> [Effect] {
        guard let (name, endpoint) = endpoint(slot: report.slot) else { return [] }
        var effects: [Effect] = []
        var changedMemory = false
        if leads, var rollout = rollouts[name.key], rollout.phase.isActive, rollout.target == endpoint.id {
            let action = rollout.probe(anomaly: report.anomaly, now: now)
            rollouts[name.key] = rollout
            if case .rollBack(let reason)? = action {
                effects += rollBack(rollout, reason: reason, now: now)
                changedMemory = true
            }
        }
        let verdict: EndpointHealth = switch report.status {
        case .unknown: .unknown
        case .up: .up
        case .down: .down
        }
        let before = health[report.slot]
        health[report.slot] = verdict
        if let transition = report.transition {
            effects.append(.log(.info, "health: \(name.key) \(endpoint.id) \(transition.from.rawValue) -> \(transition.to.rawValue): \(transition.reason)"))
            if transition.to == .down, let (notes, made) = rollBackRaised(name.key, endpoint, because: transition.reason, now: now) {
                effects += notes
                changedMemory = changedMemory || made
            }
        }
        guard changedMemory || before != verdict else { return effects }
        refresh(now)
        effects += allDownNotes(name)
        effects.append(published())
        if changedMemory { effects.append(persistNow()) }
        return effects
    }

    /// An endpoint a migration moves to (weight raised within the rollback window, or
    /// `role=new`) goes to configured weight 0 in memory at once, because of `why`; it stays 0
    /// until an operator raises it. Nil when the endpoint is not such a target or this server
    /// does not lead; `made` is false when the store refused (every other endpoint at 0).
    mutating func rollBackRaised(_ name: NameKey, _ endpoint: EndpointConfig, because why: String,
                                 now: Moment) -> (effects: [Effect], made: Bool)? {
        guard leads, let saved = store.name(name)?.endpoints.first(where: { $0.id == endpoint.id }),
              RollbackRule.shouldRollBack(role: endpoint.role, weight: saved.weight, raisedAt: saved.raisedAt,
                                          now: now.wallSeconds, window: settings.rollbackWindowMs / 1000) else { return nil }
        let reason = "rollback \(name) \(endpoint.id) \(saved.weight) -> 0: \(why)"
        guard let (next, changes) = try? store.setting(name.text, endpoint.id, to: 0, at: now.wallSeconds) else {
            // Every other endpoint is at 0: the store refuses; effective 0 already keeps
            // traffic off a down endpoint.
            return ([.log(.error, "weights: \(reason) not recorded: it would leave every endpoint at 0")], false)
        }
        store = next
        for change in changes { changed[NameKey(change.name)] = now }
        unsaved += Self.entries(changes, requester: nil, reason: reason, now: now)
        return ([.log(.warning, "weights: \(reason)")], true)
    }

    /// Logs once per outage when every endpoint of `name` is down, and when one is back.
    private mutating func allDownNotes(_ name: WeightedNameConfig) -> [Effect] {
        guard let weights = effective.name(name.key) else { return [] }
        if weights.allDown {
            guard allDown.insert(name.key).inserted else { return [] }
            return [.log(.warning, "health: every endpoint of \(name.key) is down: \(name.refuseWhenAllDown ? "answering SERVFAIL (all-down=refuse)" : "failing open, answering by configured weights")")]
        }
        guard allDown.remove(name.key) != nil else { return [] }
        return [.log(.info, "health: \(name.key) has a healthy endpoint again")]
    }

    /// Safety before bookkeeping: a rollout's rollback takes the traffic off the target in
    /// memory at once; the caller publishes and saves it (again by the clock if that fails).
    mutating func rollBack(_ rollout: Rollout, reason: String, now: Moment) -> [Effect] {
        let step = "step \(rollout.step + 1)/\(rollout.steps.count)"
        let text = "rollout to \(rollout.target) aborted at \(step), rolled back"
        unsaved.append(AuditEntry(at: now.wallSeconds, requester: nil, name: rollout.key, text: text, reason: reason))
        do throws(AdminError) {
            let (next, changes) = try weights(for: .rollBack(reason: reason), of: rollout, now: now)
            store = next
            for change in changes { changed[NameKey(change.name)] = now }
            unsaved += Self.entries(changes, requester: nil, reason: reason, now: now)
        } catch {
            // Only a name without endpoints gets here; the rollout ends all the same.
            return [.log(.error, "rollout: \(rollout.key): \(text): \(error)")]
        }
        return [.log(.warning, "rollout: \(rollout.key) \(text): \(reason)")]
    }

    // MARK: - Clock

    /// The control clock: advances bakes (promoting a step that baked clean, disk first),
    /// ends short-TTL windows, saves a bake's progress now and then, retries unsaved changes.
    mutating func tick(now: Moment) -> [Effect] {
        var effects = analysesDue(now: now) + resignDue(now: now)
        for key in rollouts.keys.sorted() where leads && rollouts[key]?.phase == .baking {
            let before = rollouts[key]!
            var rollout = before
            let action = rollout.tick(now: now)
            rollouts[key] = rollout
            guard let action else { continue }
            effects += promote(rollout, action: action, before: before, now: now)
            if inFlight != nil { return effects }
        }
        if dirty, now.monotonic - (lastRetry ?? .min / 2) >= settings.retryEveryMs {
            lastRetry = now.monotonic
            return effects + [persistNow()]
        }
        let short = Self.shortTTLNames(config: config, rollouts: rollouts, changed: changed, now: now, window: settings.shiftWindowMs)
        if short != shortTTL {
            refresh(now)
            effects.append(published())
        }
        // A baking rollout's progress is saved every so often, so a restart resumes near it,
        // and at the step's first clean probe, so the other servers show it as it comes.
        for (key, rollout) in rollouts where leads && rollout.phase == .baking {
            let last = lastCheckpoint[key] ?? 0
            let firstClean = rollout.cleanProbes > 0 && (checkpointedProbes[key] ?? 0) == 0
            if rollout.bakedMs - last >= settings.checkpointEveryMs || rollout.bakedMs < last || firstClean {
                lastCheckpoint[key] = rollout.bakedMs
                checkpointedProbes[key] = rollout.cleanProbes
                return effects + [persistNow()]
            }
        }
        return effects
    }

    /// A rollout's clock action, disk first: a promotion is made once saved; if it cannot
    /// be saved the rollout pauses at the step in force.
    private mutating func promote(_ rollout: Rollout, action: Rollout.Action, before: Rollout, now: Moment) -> [Effect] {
        let key = rollout.key
        let text: String
        let reason: String
        switch action {
        case .apply(_, let basisPoints):
            text = "rollout to \(rollout.target) promoted to step \(rollout.step + 1)/\(rollout.steps.count) \(Rollout.percent(basisPoints))"
            reason = "rollout \(key): previous step baked \(Rollout.duration(rollout.bakeMs)) with clean probes"
        case .complete:
            text = "rollout to \(rollout.target) completed"
            reason = "rollout \(key): last step baked \(Rollout.duration(rollout.bakeMs)) with clean probes"
        case .rollBack, .hold:
            return []
        }
        let (next, changes): (WeightStore, [WeightStore.Change])
        do throws(AdminError) {
            (next, changes) = try weights(for: action, of: rollout, now: now)
        } catch {
            return hold(before, because: "\(text) failed: \(error)", now: now)
        }
        var planned = rollouts
        planned[key] = rollout
        rollouts[key] = before
        let audit = [AuditEntry(at: now.wallSeconds, requester: nil, name: key, text: text, reason: reason)]
            + Self.entries(changes, requester: nil, reason: reason, now: now)
        lastCheckpoint[key] = 0
        checkpointedProbes[key] = 0
        return [propose(Proposal(kind: .promotion(before: before, failure: text), store: next, rollouts: planned, changes: changes,
                                 audit: audit, logs: [.log(.info, "rollout: \(key) \(text)")], reason: reason))]
    }

    // MARK: - Reload

    /// Zones read again: weights reconciled with them, rollouts whose name or target left end
    /// with them, one whose target lost its health check pauses (nothing could promote or
    /// abort it). Saved before it is made; on failure the old zones stay.
    mutating func reload(_ config: [WeightedNameConfig], zones: Int, now: Moment) -> [Effect] {
        let (next, notes) = store.reconciled(with: Self.declared(config))
        var effects: [Effect] = notes.map { .log(.info, "reload: \($0)") }
        var planned = rollouts
        var audit: [AuditEntry] = []
        for (key, var rollout) in rollouts.sorted(by: { $0.key < $1.key }) {
            if next.name(key)?.weight(of: rollout.target) == nil {
                planned[key] = nil
                audit.append(AuditEntry(at: now.wallSeconds, requester: nil, name: key, text: "rollout to \(rollout.target) dropped: no longer in the zones", reason: "reload"))
            } else if rollout.phase.isActive, let target = config.first(where: { $0.key == key })?.endpoint(rollout.target),
                      Set(target.analyses) != Set(rollout.analyses.keys) {
                rollout.require(analyses: target.analyses)
                planned[key] = rollout
            }
            if planned[key] != nil, rollout.phase == .baking, config.first(where: { $0.key == key })?.endpoint(rollout.target)?.check == nil {
                try? rollout.pause(reason: "paused: \(rollout.target) has no health check since a reload", now: now)
                planned[key] = rollout
                audit.append(AuditEntry(at: now.wallSeconds, requester: nil, name: key, text: "rollout to \(rollout.target) paused: no health check since a reload", reason: "reload"))
            }
        }
        effects += audit.map { .log(.info, "reload: \($0.name) \($0.text)") }
        let reply = "ok reloaded, generation \(Self.generationMark)"
        let proposal = Proposal(kind: .reload(config: config, zones: zones, reply: reply), store: next, rollouts: planned,
                                changes: [], audit: audit, logs: [.log(.info, "reload: generation \(Self.generationMark)")], reason: "reload")
        guard next != store || planned != rollouts || (!seedSaved && config.contains { $0.selectByClient }) else {
            // Nothing to save: made at once, as a saved one is.
            return effects + apply(proposal, now: now)
        }
        return effects + [propose(proposal)]
    }

    // MARK: - Shared store

    /// A state another server saved: it replaces this server's, which holds nothing unsaved
    /// that could matter (a change made here waits for its own save, and one that lost the
    /// race was dropped). Older or equal revisions are this server's own saves coming back.
    mutating func adopt(_ state: PersistedState, now: Moment) -> [Effect] {
        guard state.revision > revision else { return [] }
        let (next, _) = state.store.reconciled(with: Self.declared(config))
        for name in next.names where store.name(NameKey(name.name)) != name { changed[NameKey(name.name)] = now }
        store = next
        // As saved: a bake counts on from its saved progress on whichever server leads. Only
        // the leader counts bakes, so its own bake of the same step is newer than any save of
        // it: another server's change (to any name) does not set it back to the last checkpoint,
        // which would starve the rollout while changes come more often than checkpoints.
        var adopted = Dictionary(state.rollouts.map { ($0.key, $0) }, uniquingKeysWith: { $1 })
        if leads {
            for (key, saved) in adopted {
                if let mine = rollouts[key], mine.isSameBake(as: saved) { adopted[key] = mine }
            }
        }
        rollouts = adopted
        requireAnalyses()
        revision = state.revision
        if let seed = state.seed { self.seed = seed }
        seedSaved = state.seed == seed
        dirty = false
        unsaved = []
        refresh(now)
        return [published(), .log(.info, "state: serving revision \(revision) of the shared store")]
    }

    /// Every active rollout waits for the analyses its target has in this server's zones: a
    /// rollout saved elsewhere, or before a restart, may name others.
    mutating func requireAnalyses() {
        for key in rollouts.keys where rollouts[key]!.phase.isActive {
            let target = rollouts[key]!.target
            rollouts[key]!.require(analyses: config.first { $0.key == key }?.endpoint(target)?.analyses ?? [])
        }
    }

    /// Leadership changed: a new leader resumes every baking rollout from its saved progress.
    mutating func lead(_ leads: Bool, now: Moment) -> [Effect] {
        guard leads != self.leads else { return [] }
        self.leads = leads
        guard leads else { return [.log(.info, "leader: another server drives rollouts and rollbacks")] }
        var effects: [Effect] = [.log(.info, "leader: this server drives rollouts and rollbacks")]
        // Failures in a row count anew under this leader, against this server's zones.
        analysisWatched = []
        requireAnalyses()
        for key in rollouts.keys.sorted() where rollouts[key]!.phase == .baking {
            rollouts[key]!.restarted(why: "taken over")
            lastCheckpoint[key] = rollouts[key]!.bakedMs
            checkpointedProbes[key] = rollouts[key]!.cleanProbes
            effects.append(.log(.info, "rollout: \(key) to \(rollouts[key]!.target): \(rollouts[key]!.note ?? "")"))
        }
        return effects
    }
}
