import Traffic

/// One line of the admin protocol, parsed. Pure, so every form and every error text is
/// tested in a table.
enum AdminCommand: Equatable, Sendable {
    case status(name: String?, json: Bool)
    case weight(name: String, endpoint: String, weight: UInt32)
    /// The share in basis points (25% = 2500).
    case shift(name: String, endpoint: String, basisPoints: Int)
    case drain(name: String, endpoint: String)
    case undo(name: String)
    case history(name: String?, limit: Int)
    case health(name: String)
    case reload
    case help

    /// The largest weight accepted, so sums stay far from overflow and typos stand out.
    static let maxWeight: UInt32 = 1_000_000
    /// History lines shown when no count is given.
    static let defaultHistory = 20

    static let usage = """
        status [NAME] [json]             weights, health, shares and served answers
        weight NAME ENDPOINT N           set one endpoint's weight
        shift NAME ENDPOINT P%           give ENDPOINT P% of answers, scale the others to the rest
        drain NAME ENDPOINT              weight 0: never chosen
        undo NAME                        restore the weights before the last change
        history [NAME] [N]               the last N audit lines (default 20)
        health NAME                      recent probe results of NAME's endpoints
        reload                           re-read the zones; on any error keep serving the old data
        """

    static func parse(_ line: String) throws(AdminError) -> AdminCommand {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let verb = words.first?.lowercased() else { throw AdminError.badValue("empty command; try \"help\"") }
        let args = Array(words.dropFirst())
        func expect(_ count: ClosedRange<Int>, _ form: String) throws(AdminError) {
            guard count.contains(args.count) else { throw AdminError.badValue("usage: \(form)") }
        }
        switch verb {
        case "status":
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
            return .weight(name: args[0], endpoint: args[1], weight: weight)
        case "shift":
            try expect(2...3, "shift NAME ENDPOINT P%")
            guard args.count == 3 else { throw AdminError.badValue("usage: shift NAME ENDPOINT P%") }
            return .shift(name: args[0], endpoint: args[1], basisPoints: try percent(args[2]))
        case "drain":
            try expect(2...2, "drain NAME ENDPOINT")
            return .drain(name: args[0], endpoint: args[1])
        case "undo":
            try expect(1...1, "undo NAME")
            return .undo(name: args[0])
        case "history":
            try expect(0...2, "history [NAME] [N]")
            var name: String?
            var limit = defaultHistory
            for arg in args {
                if let n = Int(arg) {
                    guard n > 0 && n <= 10_000 else { throw AdminError.badValue("history count must be 1 to 10000, got \(arg)") }
                    limit = n
                } else if name == nil {
                    name = arg
                } else {
                    throw AdminError.badValue("usage: history [NAME] [N]")
                }
            }
            return .history(name: name, limit: limit)
        case "health":
            try expect(1...1, "health NAME")
            return .health(name: args[0])
        case "reload":
            try expect(0...0, "reload")
            return .reload
        case "help":
            return .help
        default:
            throw AdminError.badValue("unknown command \"\(words[0])\"; commands: status, weight, shift, drain, undo, history, health, reload, help")
        }
    }

    /// `25%`, `0.5%`, `100%` → basis points; at most two decimals, 0 to 100.
    static func percent(_ text: String) throws(AdminError) -> Int {
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
