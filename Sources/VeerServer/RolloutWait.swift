import Foundation
import Posix
import Traffic
import Units

/// What `veer rollout wait` makes of two successive looks at a rollout: the line to print
/// when something changed, and the exit status once the rollout has stopped. Pure, so every
/// exit is tested without a server.
struct RolloutWatch: Equatable {
    /// The fields of one rollout in `rollout status NAME json` that the wait follows.
    struct State: Decodable, Equatable {
        var name: String
        var target: String
        var phase: String
        /// 1-based, as the JSON has it.
        var step: Int
        var steps: [String]
        var share: String
        var note: String?
    }

    /// The rollout completed: every step baked clean.
    static let completed: Int32 = 0
    /// The rollout was aborted and its target rolled back; the note says why.
    static let aborted: Int32 = 1
    /// The rollout is paused (by an operator, a forced manual change or a failed save).
    static let paused: Int32 = 2
    /// `--timeout` ran out while the rollout was still baking.
    static let timedOut: Int32 = 3
    /// The state could not be read: no server on the admin socket, no rollout of that name,
    /// or a reply that is not a rollout. Kept apart from 1, which means "rolled back".
    static let unknown: Int32 = 4

    /// The line to print (nil when nothing changed), and the exit status with the message
    /// for standard error once the rollout has stopped (nil while it bakes).
    var line: String?
    var exit: Int32?
    var message: String?

    /// `current` after `previous` (nil on the first look).
    static func decide(previous: State?, current: State) -> RolloutWatch {
        var watch = RolloutWatch()
        if previous != current { watch.line = describe(current) }
        let name = "rollout of \(current.name) to \(current.target)"
        switch current.phase {
        case Rollout.Phase.completed.rawValue:
            watch.exit = completed
        case Rollout.Phase.aborted.rawValue:
            watch.exit = aborted
            watch.message = "\(name) aborted at step \(current.step)/\(current.steps.count), rolled back: \(current.note ?? "no reason recorded")"
        case Rollout.Phase.paused.rawValue:
            watch.exit = paused
            watch.message = "\(name) paused at step \(current.step)/\(current.steps.count): \(current.note ?? "no reason recorded")"
        default:
            break
        }
        return watch
    }

    /// `--timeout` (`timeoutMs`) ran out with `last` the last state seen. The message names
    /// the timeout asked for, not the time measured: sleeping to the deadline always takes a
    /// little longer, and "after 1004ms" for `--timeout 1s` would only be noise.
    static func timeout(last: State?, timeoutMs: Int64) -> RolloutWatch {
        let at = last.map { " (\($0.phase) at step \($0.step)/\($0.steps.count), \($0.share))" } ?? ""
        return RolloutWatch(exit: timedOut, message: "rollout still running after \(Units.durationText(timeoutMs))\(at); it goes on, only the wait stopped")
    }

    /// `step 2/3 50% baking`, with the note when there is one.
    static func describe(_ state: State) -> String {
        "step \(state.step)/\(state.steps.count) \(state.share) \(state.phase)" + (state.note.map { " note: \($0)" } ?? "")
    }
}

/// `veer rollout wait NAME [--timeout D] [--json]`: polls `rollout status NAME json` on the
/// admin socket, prints each change, and exits with `RolloutWatch`'s status: 0 completed,
/// 1 aborted, 2 paused, 3 timed out, 4 state unreadable, 64 bad usage. No timeout unless
/// given: a rollout ends on its own (completed, aborted or paused), and a pipeline that wants
/// a bound says how long.
enum RolloutWait {
    /// Time between polls: a step change shows within half a second, and the server sees two
    /// cheap status reads a second.
    static let pollInterval = Duration.milliseconds(500)
    /// How long the server may stay unreachable after the first good read (a restart) before
    /// the wait gives up.
    static let unreachableGrace = Duration.seconds(10)
    static let form = "rollout wait NAME [--timeout D] [--json]"

    /// `arguments`: the words after `rollout wait`, client switches already taken out.
    static func run(_ arguments: [String], transport: AdminTransport, json: Bool) throws(UsageError) -> Int32 {
        var rest = arguments[...]
        var name: String?
        var timeoutMs: Int64?
        while let word = rest.popFirst() {
            if word == "--timeout" || word.hasPrefix("--timeout=") {
                let text = word == "--timeout" ? rest.popFirst() : String(word.dropFirst("--timeout=".count))
                guard let text, let ms = Units.parseDuration(text), ms > 0 else {
                    throw UsageError("--timeout takes a duration like 30m, 90s or 1h30m; usage: veer \(form)")
                }
                timeoutMs = ms
            } else if word.hasPrefix("--") || name != nil {
                throw UsageError("unexpected \"\(word)\"; usage: veer \(form)")
            } else {
                name = word
            }
        }
        guard let name else { throw UsageError("rollout wait needs a NAME; usage: veer \(form)") }
        return watch(name: name, transport: transport, json: json, timeoutMs: timeoutMs)
    }

    private static func watch(name: String, transport: AdminTransport, json: Bool, timeoutMs: Int64?) -> Int32 {
        let started = ContinuousClock.now
        let deadline = timeoutMs.map { started + .milliseconds($0) }
        var previous: RolloutWatch.State?
        var unreachableSince: ContinuousClock.Instant?
        while true {
            switch read(name: name, transport: transport) {
            case .state(let state, let object):
                unreachableSince = nil
                let watch = RolloutWatch.decide(previous: previous, current: state)
                if let line = watch.line { writeStdout(json ? object : line) }
                previous = state
                if let exit = watch.exit {
                    if let message = watch.message { writeStderr("veer: \(message)\n") }
                    return exit
                }
            case .unreachable(let message) where previous != nil:
                let since = unreachableSince ?? ContinuousClock.now
                unreachableSince = since
                if ContinuousClock.now - since >= unreachableGrace {
                    writeStderr("veer: \(message)\n")
                    return RolloutWatch.unknown
                }
            case .unreachable(let message), .refused(let message):
                writeStderr("veer: \(message)\n")
                return RolloutWatch.unknown
            }
            if let deadline, let timeoutMs, ContinuousClock.now + pollInterval > deadline {
                pause(deadline - ContinuousClock.now)
                let watch = RolloutWatch.timeout(last: previous, timeoutMs: timeoutMs)
                writeStderr("veer: \(watch.message ?? "timed out")\n")
                return watch.exit ?? RolloutWatch.timedOut
            }
            pause(pollInterval)
        }
    }

    /// Sleeps for `duration` (nothing when it is not positive).
    private static func pause(_ duration: Duration) {
        guard duration > .zero else { return }
        Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18)
    }

    private enum Reading {
        /// The rollout, decoded, and its JSON object as one line.
        case state(RolloutWatch.State, String)
        case unreachable(String)
        /// The server answered with an error or something that is not a rollout.
        case refused(String)
    }

    private static func read(name: String, transport: AdminTransport) -> Reading {
        let reply: String
        switch transport.request("rollout status \(name) json", timeout: AdminClient.replyTimeout) {
        case .success(let text): reply = text
        case .failure(let failure): return .unreachable(failure.description)
        }
        guard reply.hasPrefix("ok") else { return .refused(reply) }
        let body = Data(reply.drop(while: { $0 != "\n" }).dropFirst().utf8)
        guard let state = try? JSONDecoder().decode([RolloutWatch.State].self, from: body).first,
              let objects = try? JSONSerialization.jsonObject(with: body) as? [Any], let object = objects.first,
              let line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return .refused("rollout status \(name) json: not a rollout: \(reply)")
        }
        return .state(state, String(decoding: line, as: UTF8.self))
    }
}
