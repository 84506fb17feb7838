import Authority
import Foundation
import Posix
import Traffic

/// Rollouts on the control side: the admin commands, the clock that promotes steps, and the
/// weight changes each `Rollout.Action` stands for, every one persisted and audited.
extension Control {
    /// `rollout start NAME --to ENDPOINT --steps … --bake …`: checks the plan, applies its
    /// first step and starts the bake; with `dryRun`, only shows the steps.
    func startRollout(name nameText: String, target: String, steps: [Int], bakeMs: Int64, dryRun: Bool,
                      line: String, uid: UInt32) throws(AdminError) -> String {
        let now = Clock.wallMilliseconds()
        let key = WeightStore.key(nameText)
        return try state.withLock { (state) throws(AdminError) -> String in
            guard let saved = state.store.name(key) else {
                throw AdminError.unknownName(key, state.store.names.map(\.name))
            }
            if let current = state.rollouts[key], current.phase.isActive {
                throw AdminError.badValue("\(key) already has a rollout to \(current.target) (\(current.phase.rawValue) at step \(current.step + 1)/\(current.steps.count)); abort it first")
            }
            let rollout = try Rollout(name: key, target: target, steps: steps, bakeMs: bakeMs,
                                      baseline: saved.endpoints, now: now)
            guard let set = state.zones.weighted.first(where: { $0.owner.lowercased().description == key }),
                  let endpoint = set.endpoints.first(where: { $0.id == target }) else {
                throw AdminError.unknownEndpoint(key, target, saved.endpoints.map(\.id))
            }
            guard endpoint.check != nil else {
                throw AdminError.badValue("endpoint \(target) of \(key) has no health check: a rollout promotes only on clean probes; add health= to its lines")
            }
            guard !state.down.contains(endpoint.slot) else {
                throw AdminError.badValue("endpoint \(target) of \(key) is down; a rollout starts only toward a healthy endpoint")
            }

            // Every step's weights, as the run will set them.
            var plan: [(WeightStore, [WeightStore.Change])] = []
            var store = state.store
            for value in steps {
                let step = try store.shifting(key, target, toBasisPoints: value, at: now / 1000)
                plan.append(step)
                store = step.0
            }
            if dryRun {
                var lines = ["ok dry run, nothing changed: rollout of \(key) to \(target), \(steps.count) step\(steps.count == 1 ? "" : "s"), bake \(Rollout.duration(bakeMs))"]
                for (index, step) in plan.enumerated() {
                    let at = rollout.plannedStart(ofStep: index) ?? now
                    lines.append("  step \(index + 1) at +\(Rollout.duration(at - now)) (\(Log.timestamp(at / 1000))): " + Self.shares(step.0.name(key)!))
                }
                let end = (rollout.plannedStart(ofStep: steps.count - 1) ?? now) + bakeMs
                lines.append("  done at +\(Rollout.duration(end - now)) (\(Log.timestamp(end / 1000))) if every step bakes clean")
                return lines.joined(separator: "\n")
            }

            let (next, changes) = plan[0]
            var rollouts = state.rollouts
            rollouts[key] = rollout
            let text = "rollout to \(target) started: steps \(steps.map(Rollout.percent).joined(separator: ",")) bake \(Rollout.duration(bakeMs))"
            let published = try commit(&state, store: next, rollouts: rollouts, changes: changes,
                                       events: [AuditLog.Event(name: key, text: text)], uid: uid, reason: line, now: now)
            Log.info("rollout: \(key) \(text), step 1/\(steps.count) \(Rollout.percent(steps[0])) by=uid:\(uid)")
            return "ok \(key) rollout to \(target) started: step 1/\(steps.count) \(Rollout.percent(steps[0])), \(Self.weightsText(next.name(key)!)), next step after \(Rollout.duration(bakeMs)) clean (generation \(published.generation))"
        }
    }

    /// `rollout pause|resume|abort NAME`: runs `body` on the name's rollout and carries out
    /// what it returns.
    func controlRollout(_ nameText: String, line: String, uid: UInt32,
                        _ body: (inout Rollout, Int64) throws(AdminError) -> Rollout.Action?) throws(AdminError) -> String {
        let now = Clock.wallMilliseconds()
        let key = WeightStore.key(nameText)
        return try state.withLock { (state) throws(AdminError) -> String in
            guard var rollout = state.rollouts[key] else {
                throw AdminError.badValue("\(key) has no rollout; start one with: \(AdminCommand.rolloutStartForm)")
            }
            let action = try body(&rollout, now)
            var rollouts = state.rollouts
            rollouts[key] = rollout
            var store = state.store
            var changes: [WeightStore.Change] = []
            switch action {
            case .rollBack?:
                (store, changes) = try store.assigning(key, rollout.rollbackWeights(current: store.name(key)!.endpoints), at: now / 1000)
            case .apply(_, let basisPoints)?:
                (store, changes) = try store.shifting(key, rollout.target, toBasisPoints: basisPoints, at: now / 1000)
            case .complete?, nil:
                break
            }
            let text = "rollout to \(rollout.target) \(rollout.phase.rawValue) at step \(rollout.step + 1)/\(rollout.steps.count)"
            let published = try commit(&state, store: store, rollouts: rollouts, changes: changes,
                                       events: [AuditLog.Event(name: key, text: text)], uid: uid, reason: line, now: now)
            Log.info("rollout: \(key) \(text) by=uid:\(uid)")
            return "ok \(key) \(text), \(Self.weightsText(store.name(key)!)) (generation \(published.generation))"
        }
    }

    /// Carries out a rollout's action decided by the clock or a probe; `before` is the
    /// rollout as it was before the event. These cannot be refused: if saving fails a
    /// promotion is not made and the rollout pauses where it was; a rollback is made in
    /// memory anyway (traffic comes off the target first) and saved by the clock later.
    func apply(_ action: Rollout.Action, of rollout: Rollout, before: Rollout, _ state: inout State,
               rollouts: [String: Rollout], now: Int64) {
        let key = rollout.name
        let step = "step \(rollout.step + 1)/\(rollout.steps.count)"
        let current = state.store.name(key)?.endpoints ?? []
        var next = state.store
        var changes: [WeightStore.Change] = []
        let text: String
        let reason: String
        switch action {
        case .apply(_, let basisPoints):
            text = "rollout to \(rollout.target) promoted to \(step) \(Rollout.percent(basisPoints))"
            reason = "rollout \(key): previous step baked \(Rollout.duration(rollout.bakeMs)) with clean probes"
            do {
                (next, changes) = try state.store.shifting(key, rollout.target, toBasisPoints: basisPoints, at: now / 1000)
            } catch {
                hold(before, &state, because: "\(text) failed: \(error)", now: now)
                return
            }
        case .complete:
            text = "rollout to \(rollout.target) completed"
            reason = "rollout \(key): last step baked \(Rollout.duration(rollout.bakeMs)) with clean probes"
        case .rollBack(let why):
            text = "rollout to \(rollout.target) aborted at \(step), rolled back"
            reason = why
            do {
                (next, changes) = try state.store.assigning(key, rollout.rollbackWeights(current: current), at: now / 1000)
            } catch {
                // Only a name without endpoints gets here; the rollout ends all the same.
                Log.error("rollout: \(key): \(text): \(error)")
            }
        }
        let event = AuditLog.Event(name: key, text: text)
        do {
            try commit(&state, store: next, rollouts: rollouts, changes: changes, events: [event],
                       uid: nil, reason: reason, now: now)
            if case .rollBack = action { Log.warning("rollout: \(key) \(text): \(reason)") } else { Log.info("rollout: \(key) \(text)") }
        } catch {
            guard case .rollBack = action else {
                hold(before, &state, because: "\(text) could not be saved (\(error))", now: now)
                return
            }
            // Safety before bookkeeping: take the traffic off the target even unsaved.
            state.store = next
            state.rollouts = rollouts
            for change in changes { state.changedAt[change.name] = now }
            state.unsaved.append(PendingAudit(changes: changes, events: [event], reason: reason, at: now))
            state.shortTTL = Self.shortTTLNames(state, now: now)
            publish(state)
            Log.error("rollout: \(key) \(text) in memory, not saved yet (\(error)); retrying")
        }
    }

    /// Pauses `rollout` as it was before a step that could not be taken.
    private func hold(_ rollout: Rollout, _ state: inout State, because why: String, now: Int64) {
        var held = rollout
        try? held.pause(reason: "paused: \(why)", now: now)
        state.rollouts[held.name] = held
        publish(state)
        Log.error("rollout: \(held.name): \(why); rollout paused at step \(held.step + 1)/\(held.steps.count)")
    }

    /// Saves what a failed save left in memory only, once a second, and writes its audit lines.
    private func retryUnsaved(_ state: inout State, now: Int64) {
        guard !state.unsaved.isEmpty, now - state.lastSaveAttempt >= 1_000 else { return }
        state.lastSaveAttempt = now
        do {
            try stateFile.save(state.store, rollouts: Array(state.rollouts.values))
            for pending in state.unsaved {
                try audit.append(pending.changes, events: pending.events, uid: nil, reason: pending.reason, at: pending.at / 1000)
            }
            state.unsaved = []
            state.lastSaveError = nil
            Log.info("weights: saved the changes kept in memory")
        } catch {
            let text = "\(error)"
            if text != state.lastSaveError { Log.error("weights: saving \(stateFile.path) still fails: \(text)") }
            state.lastSaveError = text
        }
    }

    /// The control clock: promotes rollouts whose bake ran clean, ends short-TTL windows,
    /// retries unsaved changes, and samples the served counters for the last-minute counts.
    func tick(now: Int64) {
        state.withLock { state in
            for (key, var rollout) in state.rollouts where rollout.phase == .baking {
                let before = rollout
                guard let action = rollout.tick(now: now) else { continue }
                var rollouts = state.rollouts
                rollouts[key] = rollout
                apply(action, of: rollout, before: before, &state, rollouts: rollouts, now: now)
            }
            retryUnsaved(&state, now: now)
            let short = Self.shortTTLNames(state, now: now)
            if short != state.shortTTL {
                state.shortTTL = short
                publish(state)
            }
            if state.samples.last.map({ now - $0.at >= Self.sampleEveryMs }) ?? true {
                state.samples.append((now, counters.totals(count: state.zones.slotCount)))
                // Keep the newest sample that is at least a minute old, and everything after.
                while state.samples.count > 1 && now - state.samples[1].at >= 60_000 { state.samples.removeFirst() }
            }
        }
    }

    /// Answers served per slot over about the last minute (since start when younger).
    func servedLastMinute(_ state: State) -> [Int: UInt64] {
        let totals = counters.totals(count: state.zones.slotCount)
        let base = state.samples.first?.totals ?? []
        var result: [Int: UInt64] = [:]
        for slot in totals.indices { result[slot] = totals[slot] &- (slot < base.count ? base[slot] : 0) }
        return result
    }

    // MARK: - Status

    private struct RolloutJSON: Codable {
        var name: String
        var target: String
        var phase: String
        var step: Int
        var steps: [String]
        var share: String
        var bake: String
        var startedAt: String
        var bakeStartedAt: String?
        var nextStepAt: String?
        var cleanProbes: Int
        var endedAt: String?
        var note: String?
    }

    /// `rollout status [NAME] [json]`.
    func rolloutStatus(name: String?, json: Bool) throws(AdminError) -> String {
        let now = Clock.wallMilliseconds()
        let rollouts = state.withLock { $0.rollouts }
        var list = rollouts.values.sorted { $0.name < $1.name }
        if let name {
            let key = WeightStore.key(name)
            list = list.filter { $0.name == key }
            if list.isEmpty { throw AdminError.badValue("\(key) has no rollout; start one with: \(AdminCommand.rolloutStartForm)") }
        }
        let reports = list.map { rollout in
            RolloutJSON(name: rollout.name, target: rollout.target, phase: rollout.phase.rawValue, step: rollout.step + 1,
                        steps: rollout.steps.map(Rollout.percent), share: Rollout.percent(rollout.currentShare),
                        bake: Rollout.duration(rollout.bakeMs), startedAt: Log.timestamp(rollout.startedAt / 1000),
                        bakeStartedAt: rollout.phase.isActive ? Log.timestamp(rollout.bakeStartedAt / 1000) : nil,
                        nextStepAt: rollout.phase == .baking ? Log.timestamp(rollout.bakeEndsAt / 1000) : nil,
                        cleanProbes: rollout.cleanProbes, endedAt: rollout.endedAt.map { Log.timestamp($0 / 1000) },
                        note: rollout.note)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return "ok\n" + String(decoding: (try? encoder.encode(reports)) ?? Data(), as: UTF8.self)
        }
        var lines = ["ok \(list.count) rollout\(list.count == 1 ? "" : "s")"]
        for rollout in list {
            let steps = rollout.steps.enumerated().map { index, value in
                index == rollout.step ? "[\(Rollout.percent(value))]" : Rollout.percent(value)
            }.joined(separator: " > ")
            lines.append("\(rollout.name) to \(rollout.target): \(rollout.phase.rawValue), step \(rollout.step + 1)/\(rollout.steps.count) (\(Rollout.percent(rollout.currentShare)))")
            lines.append("  steps \(steps), bake \(Rollout.duration(rollout.bakeMs)), started \(Log.timestamp(rollout.startedAt / 1000))")
            switch rollout.phase {
            case .baking:
                let baked = max(0, min(now - rollout.bakeStartedAt, rollout.bakeMs))
                let next = rollout.step + 1 < rollout.steps.count ? "next \(Rollout.percent(rollout.steps[rollout.step + 1]))" : "completes"
                lines.append("  baked \(Rollout.duration(baked / 1000 * 1000)) of \(Rollout.duration(rollout.bakeMs)), \(rollout.cleanProbes) clean probe\(rollout.cleanProbes == 1 ? "" : "s"); \(next) at \(Log.timestamp(rollout.bakeEndsAt / 1000)) if it stays clean")
            case .paused:
                lines.append("  paused; `rollout resume \(rollout.name)` bakes this step again from the start")
            case .completed, .aborted:
                lines.append("  \(rollout.phase.rawValue) at \(rollout.endedAt.map { Log.timestamp($0 / 1000) } ?? "-")")
            }
            if let note = rollout.note { lines.append("  note: \(note)") }
        }
        return lines.joined(separator: "\n")
    }
}
