import DNSWire
import Units

extension ZoneReader {
    /// `interval=` bounds: a judgment needs at least a scrape or two behind it; slower than an
    /// hour is no judgment of a rollout step.
    static let analysisIntervalRangeMs = 1_000...3_600_000
    /// `timeout=` bounds.
    static let analysisTimeoutRangeMs = 100...60_000
    /// `failure-limit=` bounds.
    static let failureLimitRange = 1...100
    /// `inconclusive-limit=` bounds.
    static let inconclusiveLimitRange = 1...1000
    /// Longest query text after escapes: PromQL of a real dashboard fits well within it, and
    /// the percent-encoded query stays a modest request line.
    static let maxQueryLength = 4096
    /// The option keys, in the order error messages list them.
    static let analysisOptions = ["url", "interval", "timeout", "query", "requests", "traffic", "max", "min",
                                  "max-increase", "min-requests", "failure-limit", "inconclusive-limit"]
    /// The options whose value may be a quoted string (`query="…"`).
    static let queryOptions: Set<String> = ["query", "requests", "traffic"]

    /// What `readAnalysis` has collected so far, option by option.
    private struct AnalysisOptions {
        var url: (host: String, port: UInt16, prefix: String)?
        var interval: (ms: Int, token: Token)?
        var timeout: (ms: Int, token: Token)?
        var queries: [String: String] = [:]
        var max: (value: Double, token: Token)?
        var min: (value: Double, token: Token)?
        var maxIncrease: Double?
        var minRequests = AnalysisCheck.defaultMinRequests
        var failureLimit = AnalysisCheck.defaultFailureLimit
        var inconclusiveLimit = AnalysisCheck.defaultInconclusiveLimit
    }

    /// Reads `$ANALYSIS NAME KIND key=value...` (see `AnalysisCheck`).
    func readAnalysis(_ entry: Entry) throws(ParseFailure) {
        let tokens = entry.tokens
        let nameToken = try need(entry, 1, "an analysis name after $ANALYSIS")
        let name = string(nameToken)
        guard !nameToken.quoted, isIdentifier(name, maxLength: Self.maxHealthNameLength) else {
            throw failure(nameToken, "expected an analysis name of 1 to \(Self.maxHealthNameLength) letters, digits, \"_\" or \"-\", found \(quoted(nameToken))")
        }
        if let first = analysisIndex[name] {
            let previous = analyses[first].position
            let place = previous.file == file ? "line \(previous.line)" : "\(previous.file):\(previous.line)"
            throw failure(nameToken, "expected one $ANALYSIS named \"\(name)\", found a second one (the first is at \(place))")
        }
        let kindToken = try need(entry, 2, "an analysis kind (prometheus)")
        guard !kindToken.quoted, let kind = AnalysisCheck.Kind(rawValue: string(kindToken)) else {
            throw failure(kindToken, "expected an analysis kind (prometheus), found \(quoted(kindToken))")
        }

        var options = AnalysisOptions()
        var seen: Set<String> = []
        var k = 3
        while k < tokens.count {
            let token = tokens[k]
            k += 1
            let word = string(token)
            let equals = word.utf8.firstIndex(of: .equals)
            let key = equals.map { String(word[..<$0]) } ?? word
            guard !token.quoted, Self.analysisOptions.contains(key) else {
                throw failure(token, "unknown $ANALYSIS option \"\(key)\"; expected \(Self.analysisOptions.dropLast().joined(separator: ", ")) or \(Self.analysisOptions.last!)")
            }
            guard seen.insert(key).inserted else {
                throw failure(token, "expected each $ANALYSIS option once, found \(key)\(equals == nil ? "" : "=") again")
            }
            var valueToken = Token(start: token.start + key.utf8.count + 1, end: token.end, line: token.line,
                                   column: token.column + key.utf8.count + 1, quoted: false)
            // query="sum(…)": the lexer splits the quoted value into its own token.
            if Self.queryOptions.contains(key), equals != nil, valueToken.start == valueToken.end, k < tokens.count,
               tokens[k].quoted, tokens[k].line == token.line, tokens[k].column == token.column + word.utf8.count {
                valueToken = tokens[k]
                k += 1
            }
            guard equals != nil, valueToken.end > valueToken.start else {
                throw failure(token, "expected \(key)=VALUE, found \(quoted(token))")
            }
            try readAnalysisOption(key, token, valueToken, into: &options)
        }
        let check = try finishAnalysis(name: name, kind: kind, nameToken: nameToken, kindToken: kindToken, options,
                                       position: SourcePosition(file: file, line: entry.line, column: entry.column))
        analysisIndex[name] = analyses.count
        analyses.append(check)
    }

    /// One `key=value` of `$ANALYSIS`, checked and stored in `options`.
    private func readAnalysisOption(_ key: String, _ token: Token, _ valueToken: Token,
                                    into options: inout AnalysisOptions) throws(ParseFailure) {
        let value = string(valueToken)
        switch key {
        case "url":
            options.url = try prometheusURL(token, value)
        case "interval":
            options.interval = (try duration(token, value, key, Self.analysisIntervalRangeMs), token)
        case "timeout":
            options.timeout = (try duration(token, value, key, Self.analysisTimeoutRangeMs), token)
        case "query", "requests", "traffic":
            let text = String(decoding: try characterString(valueToken), as: UTF8.self)
            guard text.utf8.count <= Self.maxQueryLength else {
                throw failure(token, "expected \(key)= of at most \(Self.maxQueryLength) bytes, found \(text.utf8.count)")
            }
            guard text.contains(AnalysisCheck.endpointPlaceholder) else {
                throw failure(token, "expected \(key)= to contain \(AnalysisCheck.endpointPlaceholder), which becomes the endpoint id, found \"\(value)\"")
            }
            options.queries[key] = text
        case "max", "min", "max-increase", "min-requests":
            guard let number = decimal(value, signed: key == "max" || key == "min") else {
                throw failure(token, "expected \(key)= as a decimal number such as 250, 0.01 or 1e-3, found \"\(value)\"")
            }
            switch key {
            case "max": options.max = (number, token)
            case "min": options.min = (number, token)
            case "max-increase":
                guard number >= 1 else {
                    throw failure(token, "expected max-increase= of 1 or more (a factor over the baseline), found \"\(value)\"")
                }
                options.maxIncrease = number
            default:
                // Zero requests never stand behind a verdict: sparse data must not pass a step.
                guard number >= 1 else {
                    throw failure(token, "expected min-requests= of 1 or more (requests behind a verdict), found \"\(value)\"")
                }
                options.minRequests = number
            }
        default: // "failure-limit", "inconclusive-limit"
            let range = key == "failure-limit" ? Self.failureLimitRange : Self.inconclusiveLimitRange
            guard value.utf8.count <= 4, value.utf8.allSatisfy(\.isDigit), let n = Int(value), range.contains(n) else {
                throw failure(token, "expected \(key)= from \(range.lowerBound) to \(range.upperBound), found \"\(value)\"")
            }
            if key == "failure-limit" { options.failureLimit = n } else { options.inconclusiveLimit = n }
        }
    }

    /// The checks across options: required ones present, bounds consistent, timeout below interval.
    private func finishAnalysis(name: String, kind: AnalysisCheck.Kind, nameToken: Token, kindToken: Token,
                                _ options: AnalysisOptions, position: SourcePosition) throws(ParseFailure) -> AnalysisCheck {
        guard let url = options.url else {
            throw failure(kindToken, "expected url=http://HOST[:PORT] on $ANALYSIS \(name), found none")
        }
        for key in ["query", "requests"] where options.queries[key] == nil {
            throw failure(kindToken, "expected \(key)=\"…\" on $ANALYSIS \(name), found none")
        }
        guard options.max != nil || options.min != nil || options.maxIncrease != nil else {
            throw failure(nameToken, "expected at least one bound on $ANALYSIS \(name): max=, min= or max-increase=, found none")
        }
        if let max = options.max, let min = options.min, min.value > max.value {
            // Both keys are three letters and "=": the values as written follow.
            throw failure(max.token, "expected max= of at least min= (\(string(min.token).dropFirst(4))), found \"\(string(max.token).dropFirst(4))\"")
        }
        let intervalMs = options.interval?.ms ?? AnalysisCheck.defaultIntervalMs
        // The default timeout never makes a short interval an error: half the interval at most.
        let timeoutMs = options.timeout?.ms ?? Swift.min(AnalysisCheck.defaultTimeoutMs, intervalMs / 2)
        if let timeout = options.timeout, timeoutMs >= intervalMs {
            let interval = options.interval == nil ? "the default interval" : "interval="
            throw failure(timeout.token, "expected timeout= shorter than \(interval) (\(Units.durationText(Int64(intervalMs)))), found \"\(Units.durationText(Int64(timeoutMs)))\"")
        }
        return AnalysisCheck(name: name, kind: kind, host: url.host, port: url.port, pathPrefix: url.prefix,
                             intervalMs: intervalMs, timeoutMs: timeoutMs, query: options.queries["query"]!,
                             requests: options.queries["requests"]!, traffic: options.queries["traffic"],
                             max: options.max?.value, min: options.min?.value, maxIncrease: options.maxIncrease,
                             minRequests: options.minRequests, failureLimit: options.failureLimit,
                             inconclusiveLimit: options.inconclusiveLimit, position: position)
    }

    /// Reports every `analysis=` name that no `$ANALYSIS` of the zone declares.
    func checkAnalysisReferences() {
        for reference in analysisReferences where analysisIndex[reference.name] == nil {
            let declared = analyses.isEmpty ? "none" : analyses.map(\.name).joined(separator: ", ")
            report(reference.position, "no $ANALYSIS named \"\(reference.name)\" in this zone; declared: \(declared)",
                   order: reference.order)
        }
    }

    /// `http://HOST[:PORT][/PREFIX]` with HOST an IPv4 literal, `[IPv6]` or `localhost`.
    private func prometheusURL(_ token: Token, _ value: String) throws(ParseFailure) -> (host: String, port: UInt16, prefix: String) {
        let expected = "expected url=http://HOST[:PORT][/PREFIX] with HOST an IPv4 address, [IPv6] or localhost"
        if value.lowercased().hasPrefix("https://") {
            throw failure(token, "expected url=http://…, found \"\(value)\": only http is supported for now")
        }
        guard value.lowercased().hasPrefix("http://") else { throw failure(token, "\(expected), found \"\(value)\"") }
        let rest = value.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var prefix = String(rest.dropFirst(authority.count))
        while prefix.hasSuffix("/") { prefix.removeLast() }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw failure(token, "\(expected), found \"\(value)\"") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw failure(token, "\(expected), found \"\(value)\"") }
                portText = after.dropFirst()
            }
            guard IPv6Address(host) != nil else { throw failure(token, "\(expected), found \"\(value)\"") }
        } else {
            host = authority
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard IPv4Address(host) != nil || host.lowercased() == "localhost" else {
                throw failure(token, "\(expected), found \"\(value)\"")
            }
        }
        var port: UInt16 = 80
        if let portText {
            guard !portText.isEmpty, portText.utf8.count <= 5, portText.utf8.allSatisfy(\.isDigit), portText.first != "0",
                  let n = UInt16(portText) else {
                throw failure(token, "expected a port from 1 to 65535 in url=, found \"\(value)\"")
            }
            port = n
        }
        // The prefix goes into the request line as it is: plain path characters only.
        guard prefix.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#")
            && $0 != UInt8(ascii: "%") }) else {
            throw failure(token, "expected a url= path prefix without ?, # or %, found \"\(value)\"")
        }
        return (host.lowercased() == "localhost" ? "localhost" : String(host), port, prefix)
    }

    /// `250`, `0.01`, `1e-3`, with a leading `-` when `signed`: a finite Double, or nil.
    private func decimal(_ text: String, signed: Bool) -> Double? {
        var bytes = Substring(text).utf8[...]
        if signed, bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let digits = bytes.prefix(while: \.isDigit)
        guard !digits.isEmpty else { return nil }
        bytes = bytes.dropFirst(digits.count)
        if bytes.first == .dot {
            let fraction = bytes.dropFirst().prefix(while: \.isDigit)
            guard !fraction.isEmpty else { return nil }
            bytes = bytes.dropFirst(1 + fraction.count)
        }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
            let exponent = bytes.prefix(while: \.isDigit)
            guard !exponent.isEmpty, exponent.count <= 3 else { return nil }
            bytes = bytes.dropFirst(exponent.count)
        }
        guard bytes.isEmpty, text.utf8.count <= 32, let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
