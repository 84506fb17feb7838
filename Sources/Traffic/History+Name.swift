/// One weighted name's history: a ring of points and a ring of events, and what the last
/// observation was, to tell what changed.
///
/// Memory: a point costs 8 bytes of time and 10 bytes per endpoint (`HistoryValue`), so a
/// two-endpoint name holds 8,640 × 28 = 241,920 bytes (about 240 KB) once 24 hours are
/// full, plus at most `eventCapacity` events of about 100 bytes each.
public struct NameHistory: Sendable {
    /// 24 hours of points, one per `History.interval`.
    public static let capacity = 8_640
    /// Markers kept per name: enough for a day of steps, pauses and flaps.
    public static let eventCapacity = 1_024

    /// The endpoints' ids, in the order of every point's values.
    public let endpoints: [String]
    private var times: Ring<Int64>
    /// `endpoints.count` values per point, oldest point first.
    private var values: Ring<HistoryValue>
    private var eventRing: Ring<HistoryEvent>
    private var last: HistoryObservation?
    /// The monotonic time and served totals of the last point.
    private var lastPoint: (at: Int64, served: [UInt64])?

    init(_ first: HistoryObservation, capacity: Int, eventCapacity: Int) {
        endpoints = first.endpoints.map(\.id)
        times = Ring(capacity: capacity)
        values = Ring(capacity: capacity * max(1, endpoints.count))
        eventRing = Ring(capacity: eventCapacity)
    }

    /// The most points kept.
    public var capacity: Int { times.capacity }
    /// Points kept now.
    public var count: Int { times.count }

    /// Point `index`, 0 the oldest.
    public func point(_ index: Int) -> HistoryPoint {
        let width = endpoints.count
        return HistoryPoint(at: times[index], values: (0..<width).map { values[index * width + $0] })
    }

    /// Every point kept, oldest first.
    public var points: [HistoryPoint] { (0..<count).map(point) }

    /// The events kept, oldest first.
    public var events: [HistoryEvent] { eventRing.elements }

    /// At most `maxCount` points for a chart: runs of consecutive points merged into one, at
    /// the run's last time, with the last configured and effective share (steps stay sharp),
    /// the mean observed share, the highest latency and the worst health of the run.
    public func points(atMost maxCount: Int) -> [HistoryPoint] {
        let run = max(1, (count + max(1, maxCount) - 1) / max(1, maxCount))
        if run == 1 { return points }
        let width = endpoints.count
        return stride(from: 0, to: count, by: run).map { first in
            let end = min(count, first + run)
            return HistoryPoint(at: times[end - 1], values: (0..<width).map { e in
                var observed = 0, seen = 0
                var latency: UInt16?
                var down = false
                for index in first..<end {
                    let value = values[index * width + e]
                    if value.observed != HistoryValue.none { observed += Int(value.observed); seen += 1 }
                    if value.latencyMs != HistoryValue.none { latency = max(latency ?? 0, value.latencyMs) }
                    down = down || value.health == .down
                }
                let lastValue = values[(end - 1) * width + e]
                return HistoryValue(configured: lastValue.configured, effective: lastValue.effective,
                                    observed: seen == 0 ? HistoryValue.none : UInt16(observed / seen),
                                    latencyMs: latency ?? HistoryValue.none, health: down ? .down : lastValue.health)
            })
        }
    }

    /// Events from what changed since the last observation; a point every `History.interval`,
    /// and one more when a share moved, so the chart steps when the weights did (that extra
    /// point has no observed share: its interval is a fraction of one).
    mutating func observe(_ observation: HistoryObservation, now: Moment) {
        for event in Self.changes(from: last, to: observation, at: now.wall) { eventRing.append(event) }
        let moved = last.map { last in
            zip(last.endpoints, observation.endpoints).contains {
                $0.0.configuredShare != $0.1.configuredShare || $0.0.effectiveShare != $0.1.effectiveShare
            }
        } ?? false
        last = observation
        guard let previous = lastPoint else {
            // The first point: observed share unknown, there is no interval behind it yet.
            append(observation, observedFrom: nil, at: now)
            lastPoint = (now.monotonic, observation.endpoints.map(\.served))
            return
        }
        if now.monotonic - previous.at >= History.interval {
            append(observation, observedFrom: previous.served, at: now)
            lastPoint = (now.monotonic, observation.endpoints.map(\.served))
        } else if moved {
            append(observation, observedFrom: nil, at: now)
        }
    }

    private mutating func append(_ observation: HistoryObservation, observedFrom before: [UInt64]?, at now: Moment) {
        let deltas = observation.endpoints.indices.map { i in
            before.map { i < $0.count ? observation.endpoints[i].served &- $0[i] : 0 } ?? 0
        }
        let total = deltas.reduce(UInt64(0), +)
        times.append(now.wall)
        for (endpoint, delta) in zip(observation.endpoints, deltas) {
            values.append(HistoryValue(
                configured: HistoryValue.basisPoints(endpoint.configuredShare),
                effective: HistoryValue.basisPoints(endpoint.effectiveShare),
                observed: total == 0 ? HistoryValue.none : HistoryValue.basisPoints(Double(delta) * 100 / Double(total)),
                latencyMs: endpoint.latencyMs.map { UInt16(clamping: min($0, Int(HistoryValue.none) - 1)) } ?? HistoryValue.none, health: endpoint.health))
        }
    }
}

extension NameHistory {
    /// The markers between two observations of a name. The first observation of a name
    /// reports a rollout already running as started at its start time, so a restarted
    /// server's chart still shows it.
    static func changes(from old: HistoryObservation?, to new: HistoryObservation, at now: Int64) -> [HistoryEvent] {
        var events = rolloutChanges(from: old?.rollout, to: new.rollout, first: old == nil, at: now)
        let rolloutMoved = !events.isEmpty
        guard let old else { return events }
        for (before, after) in zip(old.endpoints, new.endpoints) {
            if (before.health == .down) != (after.health == .down) {
                events.append(HistoryEvent(at: now, kind: .health, endpoint: after.id,
                                           text: "\(after.id) \(after.health == .down ? "down" : "up")"))
            }
        }
        if old.failOpen != new.failOpen {
            events.append(HistoryEvent(at: now, kind: .failOpen, text: new.failOpen
                ? "every endpoint down: failing open, answering by configured weights" : "fail-open over"))
        }
        let drained = zip(old.endpoints, new.endpoints).filter { $0.0.configured > 0 && $0.1.configured == 0 }.map(\.1.id)
        for id in drained { events.append(HistoryEvent(at: now, kind: .drain, endpoint: id, text: "\(id) drained (weight 0)")) }
        let sharesMoved = zip(old.endpoints, new.endpoints).contains { $0.0.configured != $0.1.configured }
        if sharesMoved && !rolloutMoved && drained.isEmpty {
            events.append(HistoryEvent(at: now, kind: .weights, text: "weights " + new.endpoints.map {
                "\($0.id) \(Rollout.percent(Int(HistoryValue.basisPoints($0.configuredShare))))"
            }.joined(separator: ", ")))
        }
        return events
    }

    private static func rolloutChanges(from old: Rollout?, to new: Rollout?, first: Bool, at now: Int64) -> [HistoryEvent] {
        guard let new else { return [] }
        let stepText = "step \(new.step + 1)/\(new.steps.count) \(Rollout.percent(new.currentShare))"
        guard let old, old.startedAt == new.startedAt, old.target == new.target else {
            // A rollout this history has not seen: a new one, or one running at the first look.
            guard !first || new.phase.isActive else { return [] }
            var events = [HistoryEvent(at: first ? new.startedAt : now, kind: .start, endpoint: new.target,
                                       text: "rollout to \(new.target) started: steps "
                                           + new.steps.map(Rollout.percent).joined(separator: ",") + ", \(stepText)")]
            if new.step > 0 { events.append(HistoryEvent(at: now, kind: .step, endpoint: new.target, text: stepText)) }
            return events + phaseChange(from: .baking, to: new, at: now)
        }
        var events: [HistoryEvent] = []
        if old.step != new.step { events.append(HistoryEvent(at: now, kind: .step, endpoint: new.target, text: stepText)) }
        return events + phaseChange(from: old.phase, to: new, at: now)
    }

    private static func phaseChange(from old: Rollout.Phase, to new: Rollout, at now: Int64) -> [HistoryEvent] {
        guard old != new.phase else { return [] }
        let note = new.note.map { ": \($0)" } ?? ""
        let kind: HistoryEvent.Kind = switch new.phase {
        case .baking: .resume
        case .paused: .pause
        case .completed: .complete
        case .aborted: .rollback
        }
        let word = switch new.phase {
        case .baking: "resumed"
        case .paused: "paused"
        case .completed: "completed"
        case .aborted: "aborted, \(new.target) rolled back"
        }
        return [HistoryEvent(at: new.endedAt ?? now, kind: kind, endpoint: new.target, text: "rollout \(word)\(note)")]
    }
}
