import Foundation

/// What dig printed, read from `+noall +comments +question +answer +authority +additional`.
/// Records are presentation lines with whitespace collapsed to single spaces
/// (`www.example.com. 3600 IN A 192.0.2.10`), as written in the tests' expectations.
/// When dig prints several messages (a retry over TCP), the last one wins.
struct DigResult: CustomStringConvertible {
    /// dig's exit status: 0 answered, 9 no reply.
    let exitStatus: Int32
    /// `NOERROR`, `NXDOMAIN`, …; nil when no message was printed.
    private(set) var status: String?
    private(set) var opcode: String?
    private(set) var flags: Set<String> = []
    /// The question lines without the leading `;` (`www.example.com. IN A`).
    private(set) var question: [String] = []
    private(set) var answer: [String] = []
    private(set) var authority: [String] = []
    private(set) var additional: [String] = []
    /// From `; EDNS: version: 0, flags:; udp: 1232`.
    private(set) var ednsVersion: Int?
    private(set) var ednsUDP: Int?
    /// The whole output, for failure messages.
    let output: String
    let command: String

    init(parsing output: String, status exitStatus: Int32, command: String) {
        self.exitStatus = exitStatus
        self.output = output
        self.command = command
        var section = ""
        for rawLine in output.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = normalised(rawLine)
            if line.hasPrefix(";; ->>HEADER<<-") {
                self.reset()
                opcode = field(line, after: "opcode: ", upTo: ",")
                status = field(line, after: "status: ", upTo: ",")
            } else if line.hasPrefix(";; flags:") {
                let text = field(line, after: ";; flags:", upTo: ";") ?? ""
                flags = Set(text.split(separator: " ").map(String.init))
            } else if line.hasPrefix("; EDNS:") {
                ednsVersion = field(line, after: "version: ", upTo: ",").flatMap { Int($0) }
                ednsUDP = field(line, after: "udp: ", upTo: ",").flatMap { Int($0) }
            } else if line.hasPrefix(";; ") && line.hasSuffix("SECTION:") {
                section = line
            } else if line.hasPrefix(";") {
                if section == ";; QUESTION SECTION:" { question.append(String(line.dropFirst())) }
            } else {
                switch section {
                case ";; ANSWER SECTION:": answer.append(line)
                case ";; AUTHORITY SECTION:": authority.append(line)
                case ";; ADDITIONAL SECTION:": additional.append(line)
                default: break
                }
            }
        }
    }

    /// Runs dig against a server: `dig @HOST -p PORT +norec +time=2 +tries=1` and the
    /// display options the parser reads, then `arguments` (later options win in dig).
    static func asking(_ host: String, port: UInt16, _ arguments: [String]) throws -> DigResult {
        let dig = try Tools.dig()
        let all = ["@\(host)", "-p", "\(port)", "+norec", "+time=2", "+tries=1",
                   "+noall", "+comments", "+question", "+answer", "+authority", "+additional"] + arguments
        let result = try runProgram(dig, all, timeout: .seconds(15))
        return DigResult(parsing: result.output, status: result.status, command: "dig " + all.joined(separator: " "))
    }

    private mutating func reset() {
        status = nil
        opcode = nil
        flags = []
        question = []
        answer = []
        authority = []
        additional = []
        ednsVersion = nil
        ednsUDP = nil
    }

    var description: String { "$ \(command)\n\(output)" }
}

/// `line` with runs of spaces and tabs collapsed to one space, trimmed.
func normalised<S: StringProtocol>(_ line: S) -> String {
    line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
}

/// The text after `marker` up to `terminator` (or the end), trimmed.
private func field(_ line: String, after marker: String, upTo terminator: Character) -> String? {
    guard let range = line.range(of: marker) else { return nil }
    let rest = line[range.upperBound...]
    let value = rest.prefix { $0 != terminator }
    return value.trimmingCharacters(in: .whitespaces)
}
