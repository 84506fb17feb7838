import Units

/// One line of the admin protocol, parsed. Pure, so every form and every error text is
/// tested in a table.
public enum AdminCommand: Equatable, Sendable {
    case status(name: String?, json: Bool)
    /// `force` overrides (and pauses) an active rollout; `dryRun` only shows the result.
    case weight(name: String, endpoint: String, weight: UInt32, force: Bool = false, dryRun: Bool = false)
    /// The share in basis points (25% = 2500).
    case shift(name: String, endpoint: String, basisPoints: Int, force: Bool = false, dryRun: Bool = false)
    case drain(name: String, endpoint: String, force: Bool = false, dryRun: Bool = false)
    case undo(name: String, force: Bool = false)
    /// Steps in basis points, strictly increasing; bake in milliseconds.
    /// `force` lets the first step take the target below its current share.
    case rolloutStart(name: String, target: String, steps: [Int], bakeMs: Int64, dryRun: Bool = false, force: Bool = false)
    case rolloutStatus(name: String?, json: Bool)
    case rolloutPause(name: String)
    case rolloutResume(name: String)
    case rolloutAbort(name: String)
    /// `json`: one JSON document of the changes, not the audit lines.
    case history(name: String?, limit: Int, json: Bool = false)
    case health(name: String, json: Bool = false)
    /// Runs NAME's analyses now for ENDPOINT (every endpoint with `analysis=` when nil) and
    /// shows the values, the baseline and the verdict; changes nothing.
    case analysis(name: String, endpoint: String?, json: Bool)
    case reload
    /// Writes this server's last good state over an unreadable shared state (`store restore
    /// REASON`); `reason` is required, for the audit log.
    case storeRestore(reason: String)
    case help

    /// Which command it is, without its arguments: what the admin front's command table is
    /// keyed by, one entry each.
    public enum Verb: String, CaseIterable, Sendable {
        case status, weight, shift, drain, undo, rolloutStart, rolloutStatus, rolloutPause, rolloutResume, rolloutAbort
        case history, health, analysis, reload, storeRestore, help
    }

    /// This command's `Verb`.
    public var verb: Verb {
        switch self {
        case .status: .status
        case .weight: .weight
        case .shift: .shift
        case .drain: .drain
        case .undo: .undo
        case .rolloutStart: .rolloutStart
        case .rolloutStatus: .rolloutStatus
        case .rolloutPause: .rolloutPause
        case .rolloutResume: .rolloutResume
        case .rolloutAbort: .rolloutAbort
        case .history: .history
        case .health: .health
        case .analysis: .analysis
        case .reload: .reload
        case .storeRestore: .storeRestore
        case .help: .help
        }
    }

    /// A weight change asked with `--dry-run`: it shows what would happen and changes nothing.
    public var isDryRunChange: Bool {
        switch self {
        case .weight(_, _, _, _, let dryRun), .shift(_, _, _, _, let dryRun), .drain(_, _, _, let dryRun): dryRun
        default: false
        }
    }

    /// `line` without a `--wait` switch, and whether it had one: a change that answers once
    /// every live server sharing the store serves it (the edge does the waiting).
    public static func waitSwitch(_ line: String) -> (line: String, wait: Bool) {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.contains("--wait") else { return (line, false) }
        return (words.filter { $0 != "--wait" }.joined(separator: " "), true)
    }

    /// `line` without the blanks around it: the reason audit lines quote.
    public static func trimmed(_ line: String) -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = line.firstIndex(where: { !blank($0) }), let last = line.lastIndex(where: { !blank($0) }) else { return "" }
        return String(line[first...last])
    }

    /// The largest weight accepted, so sums stay far from overflow and typos stand out.
    public static let maxWeight: UInt32 = 1_000_000
    /// History lines shown when no count is given.
    public static let defaultHistory = 20

    public static let usage = """
        status [NAME] [json]             weights, health, shares and served answers
        weight NAME ENDPOINT N           set one endpoint's weight
        shift NAME ENDPOINT P%           give ENDPOINT P% of answers, scale the others to the rest
        drain NAME ENDPOINT              weight 0: never chosen
        undo NAME                        restore the weights before the last change
          (weight, shift, drain: --dry-run shows the shares without changing anything;
           --force overrides an active rollout of NAME and pauses it; weight, shift, drain,
           undo: --wait answers once every server sharing the store serves the change)
        rollout start NAME --to ENDPOINT --steps 1,5,25,50,100 --bake 10m [--dry-run] [--force]
                                         move NAME to ENDPOINT step by step, promoting after
                                         each clean bake, rolling back on any anomaly; a first
                                         step below ENDPOINT's share needs --force
        rollout status [NAME] [json]     the plan, the step in force and the time to the next
        rollout pause|resume|abort NAME  hold the step / bake it again and go on / roll back
        history [NAME] [N] [json]        the changes in the last N audit lines (default 20)
        health NAME [json]               recent probe results of NAME's endpoints
        analysis NAME [ENDPOINT] [json]  run NAME's traffic analyses now: values, baseline, verdict
        reload [--wait]                  re-read the zones; on any error keep serving the old data
                                         (--wait: answer once every server serves the same zones)
        store restore REASON             write this server's last good state over an unreadable
                                         shared state (compare-and-swap, audited)
        """

    public static func parse(_ line: String) throws(AdminError) -> AdminCommand {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let verb = words.first?.lowercased() else { throw AdminError.badValue("empty command; try \"help\"") }
        var args = Array(words.dropFirst())
        // Switches may stand anywhere after the verb.
        let force = args.contains("--force"), dryRun = args.contains("--dry-run")
        args.removeAll { $0 == "--force" || $0 == "--dry-run" }
        func refuseSwitches(_ form: String, allowForce: Bool = false, allowDryRun: Bool = false) throws(AdminError) {
            if force && !allowForce { throw AdminError.badValue("--force does not go with \(form)") }
            if dryRun && !allowDryRun { throw AdminError.badValue("--dry-run does not go with \(form)") }
        }
        if verb != "rollout", let option = args.first(where: { $0.hasPrefix("--") && $0 != "--json" }) {
            throw AdminError.badValue("unknown option \(option) for \(verb)")
        }
        func expect(_ count: ClosedRange<Int>, _ form: String) throws(AdminError) {
            guard count.contains(args.count) else { throw AdminError.badValue("usage: \(form)") }
        }
        switch verb {
        case "status":
            try refuseSwitches("status")
            try expect(0...2, "status [NAME] [json]")
            var rest = args
            let json = rest.last?.lowercased() == "json" || rest.last == "--json"
            if json { rest.removeLast() }
            guard rest.count <= 1 else { throw AdminError.badValue("usage: status [NAME] [json]") }
            return .status(name: rest.first, json: json)
        case "weight":
            try expect(3...3, "weight NAME ENDPOINT N")
            guard let weight = UInt32(args[2]), weight <= maxWeight else {
                throw AdminError.badValue("weight must be an integer from 0 to \(maxWeight), got \"\(args[2])\"")
            }
            return .weight(name: args[0], endpoint: args[1], weight: weight, force: force, dryRun: dryRun)
        case "shift":
            try expect(2...3, "shift NAME ENDPOINT P%")
            guard args.count == 3 else { throw AdminError.badValue("usage: shift NAME ENDPOINT P%") }
            return .shift(name: args[0], endpoint: args[1], basisPoints: try percent(args[2]), force: force, dryRun: dryRun)
        case "drain":
            try expect(2...2, "drain NAME ENDPOINT")
            return .drain(name: args[0], endpoint: args[1], force: force, dryRun: dryRun)
        case "undo":
            try refuseSwitches("undo", allowForce: true)
            try expect(1...1, "undo NAME")
            return .undo(name: args[0], force: force)
        case "rollout":
            return try rollout(args, dryRun: dryRun, force: force)
        case "history":
            try refuseSwitches("history")
            var args = args
            let json = args.last?.lowercased() == "json" || args.last == "--json"
            if json { args.removeLast() }
            guard (0...2).contains(args.count) else { throw AdminError.badValue("usage: history [NAME] [N] [json]") }
            var name: String?
            var limit = defaultHistory
            for arg in args {
                if let n = Int(arg) {
                    guard n > 0 && n <= 10_000 else { throw AdminError.badValue("history count must be 1 to 10000, got \(arg)") }
                    limit = n
                } else if name == nil {
                    name = arg
                } else {
                    throw AdminError.badValue("usage: history [NAME] [N] [json]")
                }
            }
            return .history(name: name, limit: limit, json: json)
        case "health":
            try refuseSwitches("health")
            let json = args.count == 2 && (args[1].lowercased() == "json" || args[1] == "--json")
            guard args.count == (json ? 2 : 1) else { throw AdminError.badValue("usage: health NAME [json]") }
            return .health(name: args[0], json: json)
        case "analysis":
            try refuseSwitches("analysis")
            var rest = args
            let json = rest.last?.lowercased() == "json" || rest.last == "--json"
            if json { rest.removeLast() }
            guard (1...2).contains(rest.count) else { throw AdminError.badValue("usage: analysis NAME [ENDPOINT] [json]") }
            return .analysis(name: rest[0], endpoint: rest.count == 2 ? rest[1] : nil, json: json)
        case "reload":
            try refuseSwitches("reload")
            try expect(0...0, "reload")
            return .reload
        case "store":
            try refuseSwitches("store restore")
            guard args.first?.lowercased() == "restore", args.count >= 2 else {
                throw AdminError.badValue("usage: store restore REASON (the reason goes to the audit log)")
            }
            return .storeRestore(reason: args.dropFirst().joined(separator: " "))
        case "help":
            return .help
        default:
            throw AdminError.badValue("unknown command \"\(words[0])\"; commands: status, weight, shift, drain, undo, rollout, history, health, analysis, reload, store, help")
        }
    }

    public static let rolloutStartForm = "rollout start NAME --to ENDPOINT --steps 1,5,25,50,100 --bake 10m [--dry-run] [--force]"

    /// `rollout start|status|pause|resume|abort …`, after the switches were taken out.
    private static func rollout(_ args: [String], dryRun: Bool, force: Bool) throws(AdminError) -> AdminCommand {
        let form = "rollout start|status|pause|resume|abort NAME"
        guard let sub = args.first?.lowercased() else { throw AdminError.badValue("usage: \(form)") }
        let rest = Array(args.dropFirst())
        if force && sub != "start" { throw AdminError.badValue("--force goes with rollout start only") }
        if dryRun && sub != "start" { throw AdminError.badValue("--dry-run goes with rollout start only") }
        if sub != "start", let option = rest.first(where: { $0.hasPrefix("--") && $0 != "--json" }) {
            throw AdminError.badValue("unknown option \(option) for rollout \(sub)")
        }
        switch sub {
        case "start":
            var name: String?
            var values: [String: String] = [:]
            var i = 0
            while i < rest.count {
                let word = rest[i]
                if word.hasPrefix("--") {
                    var key = String(word.dropFirst(2)), value: String?
                    if let equals = key.firstIndex(of: "=") {
                        value = String(key[key.index(after: equals)...])
                        key = String(key[..<equals])
                    } else if i + 1 < rest.count {
                        value = rest[i + 1]
                        i += 1
                    }
                    guard ["to", "steps", "bake"].contains(key) else {
                        throw AdminError.badValue("unknown option --\(key) for rollout start; usage: \(rolloutStartForm)")
                    }
                    guard let value, !value.isEmpty else { throw AdminError.badValue("--\(key) needs a value; usage: \(rolloutStartForm)") }
                    guard values[key] == nil else { throw AdminError.badValue("--\(key) given twice") }
                    values[key] = value
                } else if name == nil {
                    name = word
                } else {
                    throw AdminError.badValue("usage: \(rolloutStartForm)")
                }
                i += 1
            }
            guard let name else { throw AdminError.badValue("NAME is required; usage: \(rolloutStartForm)") }
            // Name the first option missing, in the order the usage lists them.
            if let missing = ["to", "steps", "bake"].first(where: { values[$0] == nil }) {
                throw AdminError.badValue("--\(missing) is required; usage: \(rolloutStartForm)")
            }
            let target = values["to"]!, stepsText = values["steps"]!, bakeText = values["bake"]!
            var steps: [Int] = []
            for item in stepsText.split(separator: ",", omittingEmptySubsequences: false) {
                let text = item.hasSuffix("%") ? String(item) : item + "%"
                do { steps.append(try percent(text)) } catch {
                    throw AdminError.badValue("--steps takes shares in percent like 1,5,25,50,100, got \"\(item)\"")
                }
            }
            guard let bake = Units.parseDuration(bakeText) else {
                throw AdminError.badValue("--bake takes a duration like 10m, 90s or 1h30m, got \"\(bakeText)\"")
            }
            return .rolloutStart(name: name, target: target, steps: steps, bakeMs: bake, dryRun: dryRun, force: force)
        case "status":
            var names = rest
            let json = names.last?.lowercased() == "json" || names.last == "--json"
            if json { names.removeLast() }
            guard names.count <= 1 else { throw AdminError.badValue("usage: rollout status [NAME] [json]") }
            return .rolloutStatus(name: names.first, json: json)
        case "pause", "resume", "abort":
            guard rest.count == 1 else { throw AdminError.badValue("usage: rollout \(sub) NAME") }
            switch sub {
            case "pause": return .rolloutPause(name: rest[0])
            case "resume": return .rolloutResume(name: rest[0])
            default: return .rolloutAbort(name: rest[0])
            }
        default:
            throw AdminError.badValue("unknown rollout command \"\(args[0])\"; usage: \(form)")
        }
    }

    /// `25%`, `0.5%`, `100%` → basis points; at most two decimals, 0 to 100.
    public static func percent(_ text: String) throws(AdminError) -> Int {
        let bad = AdminError.badValue("share must look like 25% or 2.5% (0% to 100%), got \"\(text)\"")
        guard text.hasSuffix("%") else { throw bad }
        let number = text.dropLast()
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy(\.isASCII),
              let whole = Int(parts[0]), whole >= 0 else { throw bad }
        var fraction = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...2).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits) else { throw bad }
            fraction = digits.count == 1 ? value * 10 : value
        }
        let basisPoints = whole * 100 + fraction
        guard basisPoints <= 10_000 else { throw bad }
        return basisPoints
    }
}
