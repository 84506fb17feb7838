import Units

/// A staged migration of one weighted name to one endpoint, run by Veer: apply the first
/// step, bake, promote to the next step only while the target's probes stay clean, and roll
/// back on the first anomaly. A value type driven by events with the time passed in (a
/// `Rollout` never reads a clock), so every path is tested with a scripted clock; the server
/// applies the `Action`s it returns, persists it with the weights and audits each step.
public struct Rollout: Sendable, Equatable, Codable {
    public enum Phase: String, Sendable, Equatable, Codable {
        /// The current step is applied and its bake clock runs.
        case baking
        /// Held at the current step by an operator (or by a forced manual change); no promotion.
        case paused
        /// The last step baked clean.
        case completed
        /// Stopped by an anomaly or an operator; the target was rolled back.
        case aborted

        /// Baking or paused: the name belongs to this rollout.
        public var isActive: Bool { self == .baking || self == .paused }
    }

    /// What the server must do to the weights after an event.
    public enum Action: Sendable, Equatable {
        /// Give the target `basisPoints` of the answers (a `shift`); `step` is 0-based.
        case apply(step: Int, basisPoints: Int)
        /// The plan is done; nothing changes in the weights.
        case complete
        /// Target to 0 and the other endpoints back to `baseline`'s weights.
        case rollBack(reason: String)
        /// The rollout paused by itself (analyses stayed inconclusive); the weights stay.
        case hold(reason: String)
    }

    /// Longest plan accepted.
    public static let maxSteps = 20
    /// Bake limits in milliseconds: one second to seven days.
    public static let bakeRange: ClosedRange<Int64> = 1_000...Units.maxDurationMs

    /// The weighted name's key, `api.example.com.`.
    public let name: String
    /// The endpoint being moved to.
    public let target: String
    /// The target's share at each step, in basis points (25% = 2500), strictly increasing.
    public let steps: [Int]
    /// How long each step must run clean before the next one.
    public let bakeMs: Int64
    /// Every endpoint's configured weight when the rollout started, in zone order, with the
    /// ids: what a rollback restores for the endpoints other than the target.
    public let baseline: [WeightStore.Endpoint]
    /// When the rollout started (Unix milliseconds), for people.
    public let startedAt: Int64

    /// Index of the step in force.
    public private(set) var step = 0
    public private(set) var phase = Phase.baking
    /// How long the current step has baked: monotonic time while this server watched it,
    /// saved with the plan, so a wall-clock step neither shortens nor lengthens a bake and a
    /// restart resumes it (time spent down is not time watched).
    public private(set) var bakedMs: Int64 = 0
    /// Clean probes of the target in the current bake: a step is promoted only after at
    /// least one, so a bake shorter than the probe interval still waits for evidence.
    public private(set) var cleanProbes = 0
    /// When `bakedMs` was last counted (Unix milliseconds) by the server baking the step: a
    /// server that only reads the saved rollout adds the time since (`baked(now:)`), so every
    /// server shows the leader's progress rather than its last checkpoint.
    public private(set) var bakedAt: Int64?
    /// When the current step's bake began (Unix ms): a promotion or a resume begins a new
    /// one, so two saves of one step with other values are two bakes (nil in older saves).
    public private(set) var bakeStartedAt: Int64?
    /// When it completed or was aborted (Unix milliseconds).
    public private(set) var endedAt: Int64?
    /// Why it is paused or aborted, or a remark such as a resumed bake.
    public private(set) var note: String?
    /// The target's analyses (`analysis=`) by name: a step is promoted only when the latest
    /// verdict of each in the step is a pass. Empty when the target has none.
    public private(set) var analyses: [String: AnalysisTally] = [:]
    /// The monotonic time up to which `bakedMs` counts; nil until the first tick after a
    /// start, a resume or a restart. Not saved: monotonic time means nothing to another boot.
    private var mark: Int64?

    /// A validated plan, at its first step. The caller applies `.apply(step: 0, …)` at once.
    public init(name: String, target: String, steps: [Int], bakeMs: Int64, baseline: [WeightStore.Endpoint],
                analyses: [String] = [], now: Moment) throws(AdminError) {
        guard !steps.isEmpty, steps.count <= Self.maxSteps else {
            throw AdminError.badValue("a rollout has 1 to \(Self.maxSteps) steps, got \(steps.count)")
        }
        for (index, value) in steps.enumerated() {
            guard value > 0 && value <= 10_000 else {
                throw AdminError.badValue("rollout steps must be above 0% and at most 100%, got \(Self.percent(value))")
            }
            if index > 0 && value <= steps[index - 1] {
                throw AdminError.badValue("rollout steps must increase: \(Self.percent(steps[index - 1])) then \(Self.percent(value))")
            }
        }
        guard Self.bakeRange.contains(bakeMs) else {
            throw AdminError.badValue("bake must be from 1s to 7d, got \(Self.duration(bakeMs))")
        }
        let key = NameKey(name)
        guard baseline.contains(where: { $0.id == target }) else {
            throw AdminError.unknownEndpoint(key.text, target, baseline.map(\.id))
        }
        guard baseline.contains(where: { $0.id != target && $0.weight > 0 }) else {
            throw AdminError.badValue("every endpoint of \(key) other than \(target) has weight 0: there is nothing to roll back to")
        }
        self.name = key.text
        self.target = target
        self.steps = steps
        self.bakeMs = bakeMs
        self.baseline = baseline
        startedAt = now.wall
        mark = now.monotonic
        bakedAt = now.wall
        bakeStartedAt = now.wall
        require(analyses: analyses)
    }

    /// The target's analyses are now `names` (at start, and after a reload): new ones start
    /// with no verdict, dropped ones no longer hold the step.
    public mutating func require(analyses names: [String]) {
        analyses = Dictionary(uniqueKeysWithValues: names.map { ($0, analyses[$0] ?? AnalysisTally()) })
    }

    public var key: NameKey { NameKey(name) }

    /// The step's share, e.g. `25%`.
    public var currentShare: Int { steps[step] }

    /// Bake time left in the current step.
    public var bakeLeftMs: Int64 { max(0, bakeMs - bakedMs) }

    /// How long the current step has baked at `now`: `bakedMs` where this server counts it;
    /// where it only read the leader's saved progress (no tick since), that progress plus the
    /// wall time since the leader counted it, at most the bake.
    public func baked(now: Moment) -> Int64 {
        guard phase == .baking, mark == nil, let bakedAt else { return bakedMs }
        return min(bakeMs, bakedMs + max(0, now.wall - bakedAt))
    }

    /// When the current bake ends if it runs on from `now` (Unix ms; a promotion also waits
    /// for one clean probe).
    public func bakeEndsAt(now: Moment) -> Int64 { now.wall + max(0, bakeMs - baked(now: now)) }

    // MARK: - Events

    /// Time passes: the bake counts the monotonic time since the last tick, then promotes
    /// the next step, or completes after the last, once the bake has run and the target had a
    /// clean probe in it.
    public mutating func tick(now: Moment) -> Action? {
        guard phase == .baking else { return nil }
        if let mark { bakedMs = min(bakeMs, bakedMs + max(0, now.monotonic - mark)) }
        mark = now.monotonic
        bakedAt = now.wall
        guard bakedMs >= bakeMs, cleanProbes > 0, analyses.values.allSatisfy(\.passedInStep) else { return nil }
        if step + 1 < steps.count {
            step += 1
            startBake(now)
            note = nil
            return .apply(step: step, basisPoints: steps[step])
        }
        phase = .completed
        endedAt = now.wall
        note = nil
        return .complete
    }

    private mutating func startBake(_ now: Moment) {
        bakedMs = 0
        cleanProbes = 0
        mark = now.monotonic
        bakedAt = now.wall
        bakeStartedAt = now.wall
        for name in analyses.keys { analyses[name]!.passedInStep = false }
    }

    /// A verdict of one of the target's analyses. `rule.failureLimit` failures in a row abort
    /// and roll back, as a probe anomaly does; `rule.inconclusiveLimit` inconclusive results in
    /// a row pause a baking rollout (sparse data never promotes and never rolls back).
    public mutating func analyzed(_ result: AnalysisResult, rule: AnalysisRule, now: Moment) -> Action? {
        guard phase.isActive, result.endpoint == target, var tally = analyses[result.analysis] else { return nil }
        tally.record(result)
        analyses[result.analysis] = tally
        let at = "step \(step + 1)/\(steps.count) (\(Self.percent(currentShare)))"
        if result.verdict == .fail, tally.failures >= rule.failureLimit {
            let reason = "\(result.text) (\(tally.failures) failure\(tally.failures == 1 ? "" : "s") in a row at \(at))"
            phase = .aborted
            endedAt = now.wall
            note = reason
            return .rollBack(reason: reason)
        }
        if result.verdict == .inconclusive, tally.inconclusive >= rule.inconclusiveLimit, phase == .baking {
            let reason = "paused: analysis \(result.analysis) inconclusive \(tally.inconclusive) times in a row at \(at): \(result.text)"
            phase = .paused
            note = reason
            return .hold(reason: reason)
        }
        return nil
    }

    /// A probe of the target: a clean one counts toward promotion; an anomaly aborts a
    /// rollout that is baking or paused and rolls it back.
    public mutating func probe(anomaly: String?, now: Moment) -> Action? {
        guard phase.isActive else { return nil }
        guard let anomaly else {
            cleanProbes += 1
            return nil
        }
        let reason = "anomaly on \(target) at step \(step + 1)/\(steps.count) (\(Self.percent(currentShare))): \(anomaly)"
        phase = .aborted
        endedAt = now.wall
        note = reason
        return .rollBack(reason: reason)
    }

    /// Holds the current step: no promotion until `resume`.
    public mutating func pause(reason: String, now: Moment) throws(AdminError) {
        guard phase == .baking else { throw notActive(verb: "pause", expected: "baking") }
        phase = .paused
        note = reason
    }

    /// Bakes the current step again from the start: a step must run clean for a whole bake
    /// after a pause before it is promoted. Returns the step's share to apply again, as a
    /// forced manual change during the pause may have moved the weights.
    public mutating func resume(now: Moment) throws(AdminError) -> Action {
        guard phase == .paused else { throw notActive(verb: "resume", expected: "paused") }
        phase = .baking
        startBake(now)
        for name in analyses.keys { analyses[name]!.inconclusive = 0 }
        note = nil
        return .apply(step: step, basisPoints: steps[step])
    }

    /// An operator changes the name's weights by hand (`weight`, `shift`, `drain`, `undo`):
    /// refused while the rollout is active, unless `force`, which pauses it. Returns true when
    /// this paused it.
    public mutating func manualChange(force: Bool, line: String, now: Moment) throws(AdminError) -> Bool {
        guard phase.isActive else { return false }
        guard force else {
            throw AdminError.badValue("\(name) has an active rollout to \(target) (step \(step + 1)/\(steps.count), \(Self.percent(currentShare)), \(phase.rawValue)); use rollout pause or rollout abort, or add --force to change the weights and pause the rollout")
        }
        guard phase == .baking else { return false }
        try pause(reason: "paused by a forced manual change: \(line)", now: now)
        return true
    }

    /// Stops the rollout and rolls the target back.
    public mutating func abort(reason: String, now: Moment) throws(AdminError) -> Action {
        guard phase.isActive else { throw notActive(verb: "abort", expected: "baking or paused") }
        phase = .aborted
        endedAt = now.wall
        note = reason
        return .rollBack(reason: reason)
    }

    /// Both bake the same step of the same rollout (their progress may differ): a leader
    /// keeps its own count of such a bake over a saved one, which is never newer. A bake
    /// begun again (a pause and resume elsewhere, seen only after it) is another bake.
    public func isSameBake(as other: Rollout) -> Bool {
        phase == .baking && other.phase == .baking && name == other.name && target == other.target
            && startedAt == other.startedAt && steps == other.steps && step == other.step
            && bakeStartedAt == other.bakeStartedAt
    }

    /// The server started again with this saved rollout: a bake in progress goes on from the
    /// saved progress at the next tick, and says so.
    public mutating func restarted(why: String = "at server start") {
        mark = nil
        guard phase == .baking else { return }
        note = "bake of step \(step + 1) resumed \(why), \(Self.duration(bakedMs / 1000 * 1000)) of \(Self.duration(bakeMs)) done"
    }

    private func notActive(verb: String, expected: String) -> AdminError {
        AdminError.badValue("cannot \(verb) the rollout of \(name): it is \(phase.rawValue), not \(expected)")
    }

    // MARK: - Weights

    /// The weights of a rollback: target 0, every other endpoint at its weight before the
    /// rollout, in `current`'s endpoint order (endpoints added since take their current
    /// weight). If that leaves every endpoint at 0 (the old ones left the zones), the others
    /// keep their current weights, or share equally: the target is always taken out.
    public func rollbackWeights(current: [WeightStore.Endpoint]) -> [UInt32] {
        let others = current.indices.filter { current[$0].id != target }
        var weights = current.map { endpoint -> UInt32 in
            if endpoint.id == target { return 0 }
            return baseline.first(where: { $0.id == endpoint.id })?.weight ?? endpoint.weight
        }
        if others.allSatisfy({ weights[$0] == 0 }) {
            for i in others { weights[i] = current[i].weight }
        }
        if others.allSatisfy({ weights[$0] == 0 }) {
            for i in others { weights[i] = 1 }
        }
        return weights
    }

    /// When step `index` starts if every bake runs clean from `now` (its promotion also
    /// waits for one clean probe): for dry runs and status. Nil for steps already passed.
    public func plannedStart(ofStep index: Int, now: Moment) -> Int64? {
        if index < step { return nil }
        if index == step { return now.wall - bakedMs }
        return bakeEndsAt(now: now) + Int64(index - step - 1) * bakeMs
    }

    /// Equal when everything saved is equal (the monotonic mark is this boot's only).
    public static func == (a: Rollout, b: Rollout) -> Bool {
        a.name == b.name && a.target == b.target && a.steps == b.steps && a.bakeMs == b.bakeMs && a.baseline == b.baseline
            && a.startedAt == b.startedAt && a.step == b.step && a.phase == b.phase && a.bakedMs == b.bakedMs
            && a.cleanProbes == b.cleanProbes && a.endedAt == b.endedAt && a.note == b.note && a.analyses == b.analyses
            && a.bakedAt == b.bakedAt && a.bakeStartedAt == b.bakeStartedAt
    }

    // MARK: - Saved form

    private enum CodingKeys: String, CodingKey {
        case name, target, steps, bakeMs, baseline, startedAt, step, phase, bakedMs, cleanProbes, endedAt, note, analyses, bakedAt, bakeStartedAt
    }

    /// Reads what this server and earlier ones saved; files from before `bakedMs` have none,
    /// and their bake starts again.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        target = try c.decode(String.self, forKey: .target)
        steps = try c.decode([Int].self, forKey: .steps)
        bakeMs = try c.decode(Int64.self, forKey: .bakeMs)
        baseline = try c.decode([WeightStore.Endpoint].self, forKey: .baseline)
        startedAt = try c.decode(Int64.self, forKey: .startedAt)
        step = try c.decode(Int.self, forKey: .step)
        phase = try c.decode(Phase.self, forKey: .phase)
        bakedMs = try c.decodeIfPresent(Int64.self, forKey: .bakedMs) ?? 0
        cleanProbes = try c.decode(Int.self, forKey: .cleanProbes)
        bakedAt = try c.decodeIfPresent(Int64.self, forKey: .bakedAt)
        bakeStartedAt = try c.decodeIfPresent(Int64.self, forKey: .bakeStartedAt)
        endedAt = try c.decodeIfPresent(Int64.self, forKey: .endedAt)
        note = try c.decodeIfPresent(String.self, forKey: .note)
        analyses = try c.decodeIfPresent([String: AnalysisTally].self, forKey: .analyses) ?? [:]
        guard !steps.isEmpty, steps.indices.contains(step) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.step], debugDescription: "step \(step) of \(steps.count)"))
        }
    }

    // MARK: - Text

    /// `25%`, `0.5%`, `2.25%`.
    public static func percent(_ basisPoints: Int) -> String { Units.percentText(basisPoints: basisPoints) }

    /// `10m`, `1h30m`, `1500ms`.
    public static func duration(_ ms: Int64) -> String { Units.durationText(ms) }
}
