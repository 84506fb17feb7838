import DNSWire
import Units

extension ZoneReader {
    /// Longest check name: like endpoint ids, it shows up in logs, status and metrics labels.
    static let maxHealthNameLength = 32
    /// `interval=` bounds: faster than 100 ms floods the gateway, slower than an hour (60m) is
    /// no check.
    static let intervalRangeMs = 100...3_600_000
    /// `timeout=` bounds: below 10 ms even a local connect may not finish.
    static let timeoutRangeMs = 10...60_000
    /// `max-latency=` bounds.
    static let maxLatencyRangeMs = 1...60_000
    /// `fall=` and `rise=` bounds.
    static let thresholdRange = 1...100
    /// HTTP status codes `expect=` may name (RFC 9110 §15: three digits, 1xx to 5xx).
    static let statusRange = 100...599
    /// The option keys, in the order error messages list them.
    static let healthOptions = ["interval", "timeout", "fall", "rise", "max-latency", "port", "address",
                                "path", "host", "expect", "body", "ca", "insecure"]

    /// Reads `$HEALTH NAME KIND [key=value | flag]...` (see `HealthCheck`).
    func readHealth(_ entry: Entry) throws(ParseFailure) {
        let tokens = entry.tokens
        let nameToken = try need(entry, 1, "a health check name after $HEALTH")
        let name = string(nameToken)
        guard !nameToken.quoted, isIdentifier(name, maxLength: Self.maxHealthNameLength) else {
            throw failure(nameToken, "expected a health check name of 1 to \(Self.maxHealthNameLength) letters, digits, \"_\" or \"-\", found \(quoted(nameToken))")
        }
        let position = SourcePosition(file: file, line: entry.line, column: entry.column)
        if let first = healthIndex[name] {
            let previous = healthChecks[first].position
            let place = previous.file == file ? "line \(previous.line)" : "\(previous.file):\(previous.line)"
            throw failure(nameToken, "expected one $HEALTH check named \"\(name)\", found a second one (the first is at \(place))")
        }
        let kindToken = try need(entry, 2, "a health check kind (tcp, http or https)")
        guard !kindToken.quoted, let kind = HealthCheck.Kind(rawValue: string(kindToken)) else {
            throw failure(kindToken, "expected a health check kind (tcp, http or https), found \(quoted(kindToken))")
        }

        var interval: (ms: Int, token: Token)?
        var timeout: (ms: Int, token: Token)?
        var fall = HealthCheck.defaultFall, rise = HealthCheck.defaultRise
        var maxLatency: Int?
        var port: (value: UInt16, token: Token)?
        var address: (text: String, port: UInt16?, token: Token)?
        var path = "/", host: String?, body: String?, ca: String?
        var expect = HealthCheck.defaultExpect
        var insecure = false
        var seen: Set<String> = []

        var k = 3
        while k < tokens.count {
            let token = tokens[k]
            k += 1
            let word = string(token)
            let equals = word.utf8.firstIndex(of: .equals)
            let key = equals.map { String(word[..<$0]) } ?? word
            var value = equals.map { String(word[word.index(after: $0)...]) } ?? ""
            guard !token.quoted, Self.healthOptions.contains(key) else {
                throw failure(token, "unknown $HEALTH option \"\(key)\"; expected \(Self.healthOptions.dropLast().joined(separator: ", ")) or \(Self.healthOptions.last!)")
            }
            guard seen.insert(key).inserted else {
                throw failure(token, "expected each $HEALTH option once, found \(key)\(equals == nil ? "" : "=") again")
            }
            // body="all good": the lexer splits the quoted value into its own token.
            var valueToken = Token(start: token.start + key.utf8.count + 1, end: token.end, line: token.line,
                                   column: token.column + key.utf8.count + 1, quoted: false)
            if key == "body", value.isEmpty, k < tokens.count, tokens[k].quoted,
               tokens[k].line == token.line, tokens[k].column == token.column + word.utf8.count {
                valueToken = tokens[k]
                k += 1
                value = string(valueToken)
            }
            if key == "insecure" {
                guard equals == nil else { throw failure(token, "expected insecure as a flag without a value, found \(quoted(token))") }
            } else {
                guard equals != nil, !value.isEmpty || valueToken.quoted else {
                    throw failure(token, "expected \(key)=VALUE, found \(quoted(token))")
                }
            }
            let httpOnly: Set<String> = ["path", "host", "expect", "body"]
            if httpOnly.contains(key), kind == .tcp {
                throw failure(token, "expected no \(key)= on a tcp check: \(key)= is for http and https checks")
            }
            if (key == "insecure" || key == "ca"), kind != .https {
                let shown = key == "insecure" ? "insecure" : "ca="
                throw failure(token, "expected no \(shown) on \(kind == .http ? "an http" : "a tcp") check: \(shown) is for https checks")
            }

            switch key {
            case "interval":
                interval = (try duration(token, value, key, Self.intervalRangeMs), token)
            case "timeout":
                timeout = (try duration(token, value, key, Self.timeoutRangeMs), token)
            case "max-latency":
                maxLatency = try duration(token, value, key, Self.maxLatencyRangeMs)
            case "fall", "rise":
                guard value.utf8.count <= 3, value.utf8.allSatisfy(\.isDigit), let n = Int(value),
                      Self.thresholdRange.contains(n) else {
                    throw failure(token, "expected \(key)= from \(Self.thresholdRange.lowerBound) to \(Self.thresholdRange.upperBound), found \"\(value)\"")
                }
                if key == "fall" { fall = n } else { rise = n }
            case "port":
                guard let n = portNumber(Substring(value)) else {
                    throw failure(token, "expected port= from 1 to 65535, found \"\(value)\"")
                }
                if address?.port != nil {
                    throw failure(token, "expected either port= or a port in address=, found both")
                }
                port = (n, token)
            case "address":
                guard let parsed = ipAndPort(value) else {
                    throw failure(token, "expected address=IPv4, IPv4:PORT, IPv6 or [IPv6]:PORT (port 1 to 65535), found \"\(value)\"")
                }
                if parsed.port != nil, port != nil {
                    throw failure(token, "expected either port= or a port in address=, found both")
                }
                address = (parsed.address, parsed.port, token)
            case "path":
                guard value.utf8.first == UInt8(ascii: "/") else {
                    throw failure(token, "expected path= starting with \"/\", found \"\(value)\"")
                }
                path = value
            case "host":
                host = value
            case "expect":
                guard let ranges = statusRanges(value) else {
                    throw failure(token, "expected expect= HTTP statuses from \(Self.statusRange.lowerBound) to \(Self.statusRange.upperBound) as in 200, 200-299 or 200,204,301-302, found \"\(value)\"")
                }
                expect = ranges
            case "body":
                let bytes = try characterString(valueToken)
                guard !bytes.isEmpty else { throw failure(token, "expected body=TEXT or body=\"TEXT\", found an empty body") }
                body = String(decoding: bytes, as: UTF8.self)
            case "insecure":
                insecure = true
            default: // "ca"
                ca = value
            }
        }

        let intervalMs = interval?.ms ?? HealthCheck.defaultIntervalMs
        let timeoutMs = timeout?.ms ?? HealthCheck.defaultTimeoutMs
        if timeoutMs >= intervalMs {
            if let timeout {
                let interval = interval == nil ? "the default interval" : "interval="
                throw failure(timeout.token, "expected timeout= shorter than \(interval) (\(Units.durationText(Int64(intervalMs)))), found \"\(Units.durationText(Int64(timeoutMs)))\"")
            } else if let interval {
                throw failure(interval.token, "expected interval= longer than the default timeout (\(Units.durationText(Int64(timeoutMs)))), found \"\(Units.durationText(Int64(intervalMs)))\"; set a shorter timeout=")
            }
        }
        let effectivePort = port?.value ?? address?.port
        if kind == .tcp, effectivePort == nil {
            throw failure(kindToken, "expected port=N or address=IP:PORT on a tcp check, found neither")
        }
        let check = HealthCheck(name: name, kind: kind, intervalMs: intervalMs, timeoutMs: timeoutMs, fall: fall,
                                rise: rise, maxLatencyMs: maxLatency, port: effectivePort, address: address?.text,
                                path: path, host: host, expect: expect, body: body, insecure: insecure, ca: ca,
                                position: position)
        healthIndex[name] = healthChecks.count
        healthChecks.append(check)
    }

    /// Reports every `health=` that names no `$HEALTH` of the zone.
    func checkHealthReferences() {
        for reference in healthReferences where healthIndex[reference.name] == nil {
            let declared = healthChecks.isEmpty ? "none" : healthChecks.map(\.name).joined(separator: ", ")
            report(reference.position, "no $HEALTH check named \"\(reference.name)\" in this zone; declared: \(declared)",
                   order: reference.order)
        }
    }

    /// `[A-Za-z0-9_-]{1,maxLength}`: endpoint ids and check names.
    func isIdentifier(_ text: String, maxLength: Int) -> Bool {
        !text.isEmpty && text.utf8.count <= maxLength && text.utf8.allSatisfy {
            $0.isDigit || asciiLower($0) &- UInt8(ascii: "a") < 26 || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    /// `500ms`, `2s`, `1m` → milliseconds, within `range`.
    func duration(_ token: Token, _ value: String, _ key: String, _ range: ClosedRange<Int>) throws(ParseFailure) -> Int {
        guard let ms = Units.parseDuration(value) else {
            throw failure(token, "expected \(key)= as a duration such as 500ms, 2s, 1m or 1h30m, found \"\(value)\"")
        }
        guard range.contains(Int(ms)) else {
            throw failure(token, "expected \(key)= from \(Units.durationText(Int64(range.lowerBound))) to \(Units.durationText(Int64(range.upperBound))), found \"\(value)\"")
        }
        return Int(ms)
    }

    /// A decimal port 1…65535 without sign or leading zero.
    private func portNumber(_ text: Substring) -> UInt16? {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy(\.isDigit), text.first != "0",
              let n = UInt16(text), n > 0 else { return nil }
        return n
    }

    /// `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1` or `[2001:db8::1]:8080`.
    private func ipAndPort(_ text: String) -> (address: String, port: UInt16?)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let inside = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard IPv6Address(inside) != nil, rest.hasPrefix(":"), let port = portNumber(rest.dropFirst()) else { return nil }
            return (String(inside), port)
        }
        if IPv4Address(text) != nil || IPv6Address(text) != nil { return (text, nil) }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = text[..<colon]
        guard IPv4Address(host) != nil, let port = portNumber(text[text.index(after: colon)...]) else { return nil }
        return (String(host), port)
    }

    /// `200`, `200-299`, `200,204,301-302`: each code or range within `statusRange`.
    private func statusRanges(_ text: String) -> [ClosedRange<Int>]? {
        var ranges: [ClosedRange<Int>] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count <= 2 else { return nil }
            var numbers: [Int] = []
            for bound in bounds {
                guard bound.utf8.count == 3, bound.utf8.allSatisfy(\.isDigit), let n = Int(bound),
                      Self.statusRange.contains(n) else { return nil }
                numbers.append(n)
            }
            guard numbers[0] <= numbers[numbers.count - 1] else { return nil }
            ranges.append(numbers[0]...numbers[numbers.count - 1])
        }
        return ranges
    }
}
