/// A strict reader of the Prometheus text exposition format 0.0.4, for checking what
/// `/metrics` serves. Stricter than Prometheus itself where the format says "must", so a
/// document it accepts is one every scraper accepts.
///
/// What it reads (https://prometheus.io/docs/instrumenting/exposition_formats/):
/// - Lines end with `\n`, the last one too. Empty (or blank) lines are ignored; so are
///   comments other than `# HELP` and `# TYPE`. Tokens are separated by spaces or tabs.
/// - `# HELP name text`, with `\\` and `\n` escapes in the text; at most one per name.
/// - `# TYPE name counter|gauge|histogram|summary|untyped`: at most one per name, and before
///   the first sample of that metric. Samples `name_bucket`, `name_sum` and `name_count`
///   belong to `name` when it is a histogram or summary.
/// - Samples: `name{label="value",...} value [timestamp]`. Names match
///   `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`; label values may
///   escape `\\`, `\"` and `\n`; a trailing comma in the braces is allowed; a label may not
///   appear twice. Values are decimal floats or `NaN`, `+Inf`, `-Inf`; the timestamp is an
///   integer (milliseconds since the epoch). The same name with the same labels may not appear
///   twice.
struct PrometheusText {
    /// A metric family's type, from its `# TYPE` line (`untyped` when there is none).
    enum MetricType: String, Sendable {
        case counter, gauge, histogram, summary, untyped
    }

    /// One sample line.
    struct Sample: Equatable, Sendable {
        /// The metric name as written, e.g. `veer_queries_total` or `veer_latency_bucket`.
        var name: String
        /// Label names to unescaped values.
        var labels: [String: String]
        /// The value; NaN compares unequal to itself, so compare NaN samples with `isNaN`.
        var value: Double
        /// Milliseconds since the epoch, if the line has one.
        var timestamp: Int64? = nil
    }

    /// Why a document is not valid exposition text: its 1-based line and what is wrong.
    struct ParseError: Error, Equatable, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    /// Every sample, in document order.
    let samples: [Sample]
    /// Types from `# TYPE` lines, by family name.
    let types: [String: MetricType]
    /// Unescaped texts from `# HELP` lines, by family name.
    let help: [String: String]

    /// The samples of `text`.
    ///
    /// - Throws: `ParseError` for the first line that breaks the format.
    static func parse(_ text: String) throws -> [Sample] {
        try PrometheusText(parsing: text).samples
    }

    /// The value of the sample named `name` whose labels are exactly `labels`, or nil.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum over the samples named `name` whose labels include `labels` (0 if none), e.g.
    /// all queries whatever their transport.
    func total(_ name: String, matching labels: [String: String] = [:]) -> Double {
        samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }.reduce(0) { $0 + $1.value }
    }

    /// Parses a whole document.
    ///
    /// - Throws: `ParseError` for the first line that breaks the format.
    init(parsing text: String) throws(ParseError) {
        var reader = Reader()
        var lines = Array(text.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true {
            lines.removeLast()
        } else if !text.isEmpty {
            throw ParseError(line: lines.count, reason: "the last line does not end with a line feed")
        }
        for (index, line) in lines.enumerated() {
            do {
                try reader.read(Array(line))
            } catch {
                throw ParseError(line: index + 1, reason: error.reason)
            }
        }
        samples = reader.samples
        types = reader.types
        help = reader.help
    }
}

/// What is wrong with one line; `PrometheusText.init` adds the line number.
private struct LineError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The document so far, and the rules that span lines.
private struct Reader {
    var samples: [PrometheusText.Sample] = []
    var types: [String: PrometheusText.MetricType] = [:]
    var help: [String: String] = [:]
    /// Families that already have samples: a TYPE for them comes too late.
    var familiesWithSamples: Set<String> = []
    /// Name and labels of every sample, to find duplicates.
    var seen: Set<[String]> = []

    mutating func read(_ line: [UInt8]) throws(LineError) {
        var cursor = Cursor(bytes: line)
        cursor.skipBlanks()
        guard !cursor.atEnd else { return }
        if cursor.peek == UInt8(ascii: "#") {
            try readComment(&cursor)
        } else {
            try readSample(&cursor)
        }
    }

    private mutating func readComment(_ cursor: inout Cursor) throws(LineError) {
        cursor.index += 1
        guard cursor.skipBlanks() > 0 else { return }
        let keyword = cursor.token()
        guard keyword == "HELP" || keyword == "TYPE" else { return }
        guard cursor.skipBlanks() > 0, let name = cursor.metricName() else {
            throw LineError("\(keyword) needs a valid metric name")
        }
        if keyword == "HELP" {
            guard help[name] == nil else { throw LineError("second HELP line for \(name)") }
            if !cursor.atEnd {
                guard cursor.skipBlanks() > 0 else { throw LineError("HELP for \(name): expected a blank after the name") }
            }
            help[name] = try cursor.escapedText(until: nil, allowQuote: false)
            return
        }
        guard cursor.skipBlanks() > 0 else { throw LineError("TYPE for \(name): missing the type") }
        let typeName = cursor.token()
        guard let type = PrometheusText.MetricType(rawValue: typeName) else {
            throw LineError("TYPE for \(name): unknown type \"\(typeName)\"")
        }
        cursor.skipBlanks()
        guard cursor.atEnd else { throw LineError("TYPE for \(name): text after the type") }
        guard types[name] == nil else { throw LineError("second TYPE line for \(name)") }
        guard !familiesWithSamples.contains(name) else { throw LineError("TYPE for \(name) after its samples") }
        types[name] = type
    }

    private mutating func readSample(_ cursor: inout Cursor) throws(LineError) {
        guard let name = cursor.metricName() else {
            throw LineError("invalid metric name \"\(cursor.token())\"")
        }
        var labels: [String: String] = [:]
        let blanks = cursor.skipBlanks()
        if cursor.peek == UInt8(ascii: "{") {
            cursor.index += 1
            labels = try readLabels(&cursor, of: name)
            cursor.skipBlanks()
        } else if blanks == 0 && !cursor.atEnd {
            throw LineError("invalid metric name \"\(name)\(cursor.token())\"")
        }
        let valueText = cursor.token()
        guard !valueText.isEmpty else { throw LineError("sample \(name) has no value") }
        guard let value = Self.number(valueText) else {
            throw LineError("sample \(name): value \"\(valueText)\" is not a number")
        }
        var timestamp: Int64?
        if cursor.skipBlanks() > 0 && !cursor.atEnd {
            let text = cursor.token()
            guard let parsed = Int64(text) else {
                throw LineError("sample \(name): timestamp \"\(text)\" is not an integer")
            }
            timestamp = parsed
            cursor.skipBlanks()
        }
        guard cursor.atEnd else { throw LineError("sample \(name): unexpected text after the value") }

        let key = [name] + labels.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }
        guard seen.insert(key).inserted else {
            throw LineError("duplicate sample \(name)\(Self.describe(labels))")
        }
        familiesWithSamples.insert(family(of: name))
        samples.append(PrometheusText.Sample(name: name, labels: labels, value: value, timestamp: timestamp))
    }

    /// Labels after `{` up to and including `}`.
    private func readLabels(_ cursor: inout Cursor, of name: String) throws(LineError) -> [String: String] {
        var labels: [String: String] = [:]
        while true {
            cursor.skipBlanks()
            if cursor.peek == UInt8(ascii: "}") {
                cursor.index += 1
                return labels
            }
            let label = cursor.token(stoppingAt: Array("=,}\"".utf8))
            var check = Cursor(bytes: Array(label.utf8))
            guard check.labelName() == label else { throw LineError("sample \(name): invalid label name \"\(label)\"") }
            cursor.skipBlanks()
            guard cursor.consume(UInt8(ascii: "=")) else { throw LineError("sample \(name): expected = after label \(label)") }
            cursor.skipBlanks()
            guard cursor.consume(UInt8(ascii: "\"")) else {
                throw LineError("sample \(name): label \(label) needs a quoted value")
            }
            let value = try cursor.escapedText(until: UInt8(ascii: "\""), allowQuote: true)
            guard labels.updateValue(value, forKey: label) == nil else {
                throw LineError("sample \(name): label \(label) appears twice")
            }
            cursor.skipBlanks()
            if cursor.consume(UInt8(ascii: ",")) { continue }
            guard cursor.peek == UInt8(ascii: "}") else {
                throw LineError("sample \(name): expected , or } after label \(label)")
            }
        }
    }

    /// The family a sample belongs to: `x` for `x_bucket`, `x_sum`, `x_count` when `x` is a
    /// histogram or summary, else the sample's own name.
    private func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == .histogram || types[base] == .summary { return base }
        }
        return name
    }

    /// A Go-style float as the format allows: decimal with optional exponent, or NaN and
    /// infinities. Rejects what Swift's `Double(String)` also takes (hex, `nan`, `infinity`).
    private static func number(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            guard text.utf8.contains(where: { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  text.utf8.allSatisfy({ Array("0123456789.eE+-".utf8).contains($0) })
            else { return nil }
            return Double(text)
        }
    }

    private static func describe(_ labels: [String: String]) -> String {
        labels.isEmpty ? "" : "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }
}

/// A position in one line.
private struct Cursor {
    let bytes: [UInt8]
    var index = 0

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    /// Skips spaces and tabs; returns how many.
    @discardableResult
    mutating func skipBlanks() -> Int {
        let start = index
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
        return index - start
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// Everything up to the next blank (or a byte in `stops`).
    mutating func token(stoppingAt stops: [UInt8] = []) -> String {
        let start = index
        while let byte = peek, byte != UInt8(ascii: " "), byte != UInt8(ascii: "\t"), !stops.contains(byte) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, or nil (cursor unmoved) if none starts here.
    mutating func metricName() -> String? { identifier(allowingColon: true) }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, or nil (cursor unmoved) if none starts here.
    mutating func labelName() -> String? { identifier(allowingColon: false) }

    private mutating func identifier(allowingColon: Bool) -> String? {
        func isStart(_ byte: UInt8) -> Bool {
            (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
                || byte == UInt8(ascii: "_") || (allowingColon && byte == UInt8(ascii: ":"))
        }
        let start = index
        guard let first = peek, isStart(first) else { return nil }
        index += 1
        while let byte = peek, isStart(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// Unescapes up to `terminator` (consumed) or, when it is nil, to the end of the line.
    /// Escapes: `\\`, `\n`, and `\"` when `allowQuote`.
    mutating func escapedText(until terminator: UInt8?, allowQuote: Bool) throws(LineError) -> String {
        var text: [UInt8] = []
        while let byte = peek {
            index += 1
            if byte == terminator { return String(decoding: text, as: UTF8.self) }
            guard byte == UInt8(ascii: "\\") else {
                text.append(byte)
                continue
            }
            switch peek {
            case UInt8(ascii: "\\"): text.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "n"): text.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "\"") where allowQuote: text.append(UInt8(ascii: "\""))
            case let other?: throw LineError("invalid escape \"\\\(String(decoding: [other], as: UTF8.self))\"")
            case nil: throw LineError("escape at the end of the line")
            }
            index += 1
        }
        guard terminator == nil else { throw LineError("unterminated label value") }
        return String(decoding: text, as: UTF8.self)
    }
}
