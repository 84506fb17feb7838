import DNSWire

extension ZoneReader {
    /// Largest endpoint weight: keeps a name's sum well inside 32 bits even with many endpoints.
    static let maxWeight: UInt64 = 1_000_000
    /// Longest endpoint id: it shows up in admin commands, logs and metrics labels.
    static let maxEndpointIDLength = 32
    /// Largest `ttl-shift=`: one day; a shift TTL is meant to be short.
    static let maxTTLShift: UInt32 = 86_400

    /// Reads Veer's `key=value` endpoint words after the RDATA of an A, AAAA or CNAME record:
    /// `endpoint=ID` (required), `weight=N`, `health=CHECK` (a `$HEALTH` of the zone),
    /// `analysis=A,B` (`$ANALYSIS` names of the zone),
    /// `role=new|old`, and three settings of the whole name: `all-down=open|refuse` (default
    /// open), `ttl-shift=SECONDS` (the TTL while the name is being moved) and
    /// `select=random|client` (default random).
    func endpointTag(_ entry: Entry, from start: Int) throws(ParseFailure) -> EndpointTag {
        var id: String?
        var weight: UInt32?
        var health: String?
        var role: String?
        var refuseWhenAllDown: Bool?
        var ttlShift: UInt32?
        var selectByClient: Bool?
        var healthPosition: SourcePosition?
        var analyses: [(name: String, position: SourcePosition)] = []
        var seen: Set<String> = []
        for token in entry.tokens[start...] {
            let word = string(token)
            guard !token.quoted, let equals = word.utf8.firstIndex(of: .equals) else {
                throw failure(token, "expected key=value (endpoint, weight, health, analysis, role, all-down, ttl-shift or select) after the RDATA, found \(quoted(token))")
            }
            let key = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            guard seen.insert(key).inserted else {
                throw failure(token, "expected each endpoint key once, found \(key)= again")
            }
            switch key {
            case "endpoint":
                guard isIdentifier(value, maxLength: Self.maxEndpointIDLength) else {
                    throw failure(token, "expected an endpoint id of 1 to \(Self.maxEndpointIDLength) letters, digits, \"_\" or \"-\", found \"\(value)\"")
                }
                id = value
            case "weight":
                guard !value.isEmpty, value.utf8.count <= 7, value.utf8.allSatisfy(\.isDigit),
                      let number = UInt64(value), number <= Self.maxWeight else {
                    throw failure(token, "expected a weight from 0 to \(Self.maxWeight), found \"\(value)\"")
                }
                weight = UInt32(number)
            case "health":
                guard !value.isEmpty else { throw failure(token, "expected a health check name after health=") }
                health = value
                healthPosition = SourcePosition(file: file, line: token.line, column: token.column)
            case "analysis":
                analyses = try analysisNames(token, value, column: token.column + key.utf8.count + 1)
            case "role":
                guard value == "new" || value == "old" else {
                    throw failure(token, "expected role=new or role=old, found \"\(value)\"")
                }
                role = value
            case "all-down":
                guard value == "open" || value == "refuse" else {
                    throw failure(token, "expected all-down=open or all-down=refuse, found \"\(value)\"")
                }
                refuseWhenAllDown = value == "refuse"
            case "ttl-shift":
                guard !value.isEmpty, value.utf8.count <= 6, value.utf8.allSatisfy(\.isDigit),
                      let seconds = UInt32(value), (1...Self.maxTTLShift).contains(seconds) else {
                    throw failure(token, "expected ttl-shift=SECONDS from 1 to \(Self.maxTTLShift), found \"\(value)\"")
                }
                ttlShift = seconds
            case "select":
                guard value == "random" || value == "client" else {
                    throw failure(token, "expected select=random or select=client, found \"\(value)\"")
                }
                selectByClient = value == "client"
            default:
                throw failure(token, "unknown endpoint key \"\(key)\"; expected endpoint, weight, health, analysis, role, all-down, ttl-shift or select")
            }
        }
        guard let id else {
            throw failure(entry.tokens[start], "expected endpoint=ID on a line with weight=, health=, analysis=, role=, all-down=, ttl-shift= or select=")
        }
        if let health, let healthPosition {
            healthReferences.append((health, healthPosition, order))
        }
        for analysis in analyses { analysisReferences.append((analysis.name, analysis.position, order)) }
        return EndpointTag(id: id, weight: weight, health: health, role: role, refuseWhenAllDown: refuseWhenAllDown,
                           ttlShift: ttlShift, selectByClient: selectByClient, analyses: analyses.map(\.name))
    }

    /// `analysis=errors,latency`: names of `$ANALYSIS` declarations, each once, with the
    /// column where each name starts (where an undeclared one is reported).
    private func analysisNames(_ token: Token, _ value: String, column: Int) throws(ParseFailure) -> [(name: String, position: SourcePosition)] {
        var names: [(name: String, position: SourcePosition)] = []
        var column = column
        for part in value.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(part)
            guard isIdentifier(name, maxLength: Self.maxHealthNameLength) else {
                throw failure(token, "expected analysis=NAME[,NAME...] with names of 1 to \(Self.maxHealthNameLength) letters, digits, \"_\" or \"-\", found \"\(value)\"")
            }
            guard !names.contains(where: { $0.name == name }) else {
                throw failure(token, "expected each analysis once in analysis=, found \(name) twice")
            }
            names.append((name, SourcePosition(file: file, line: token.line, column: column)))
            column += part.utf8.count + 1
        }
        return names
    }
}
