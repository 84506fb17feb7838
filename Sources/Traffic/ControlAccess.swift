/// What a client certificate of the admin protocol over TLS may do (issue 26), from the
/// `--control-allow SUBJECT=NAME[,NAME…]` rules. Pure: the TLS edge supplies the names the
/// verified certificate carries, this decides.
///
/// - A certificate matches a rule when its subject CN, or one of its DNS subjectAltNames, is
///   the rule's SUBJECT (compared without regard to ASCII case). Rules for one subject add up,
///   and so do the rules of every name a certificate carries.
/// - A certificate that matches no rule may change everything (reload and store restore too).
/// - A matching certificate may change only the rules' names; commands that change no one
///   name (reload, store restore) are refused to it.
/// - Commands that change nothing (`status`, `rollout status`, `history`, `health`,
///   `analysis`, `help`) are allowed to every certificate the server trusts. A dry run is
///   judged as the change it shows.
public struct ControlAccess: Sendable, Equatable {
    /// Why a `--control-allow` value is not a rule.
    public struct RuleError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The rule as given, what is wrong with it and the form expected.
        public let description: String
    }

    /// The decision on one command.
    public enum Verdict: Sendable, Equatable {
        /// Go ahead; `requester` is what the audit log names.
        case allowed(Requester)
        /// Refused; the reply is `error: ` and this text, which ends `not allowed for SUBJECT`
        /// (and says what the certificate may change).
        case refused(String)
    }

    /// Lower-cased subject → the names it may change.
    public private(set) var scopes: [String: Set<NameKey>] = [:]

    /// No rules: every trusted certificate may change everything.
    public init() {}

    /// Adds the rule `SUBJECT=NAME[,NAME…]`, as `--control-allow` gives it.
    public mutating func allow(parsing text: String) throws(RuleError) {
        let form = "expected SUBJECT=NAME[,NAME...], e.g. deploy-bot=api.example.com"
        guard let equals = text.firstIndex(of: "=") else { throw RuleError(description: "\"\(text)\": no \"=\"; \(form)") }
        let subject = String(text[..<equals])
        guard !subject.isEmpty, !subject.contains(where: { $0 == " " || $0 == "\t" }) else {
            throw RuleError(description: "\"\(text)\": the subject is empty or holds blanks; \(form)")
        }
        let names = text[text.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
        var keys: Set<NameKey> = []
        for name in names {
            guard !name.isEmpty, name != ".", !name.contains(where: { $0 == " " || $0 == "\t" || $0 == "=" }) else {
                throw RuleError(description: "\"\(text)\": \"\(name)\" is not a name; \(form)")
            }
            keys.insert(NameKey(String(name)))
        }
        scopes[Self.folded(subject), default: []].formUnion(keys)
    }

    /// The verdict on `command` from a certificate whose subject CN is `commonName` (empty
    /// when it has none) and whose DNS subjectAltNames are `dnsNames`.
    public func decide(_ command: AdminCommand, commonName: String, dnsNames: [String]) -> Verdict {
        let carried = ([commonName] + dnsNames).filter { !$0.isEmpty }
        guard let first = carried.first else {
            return .refused("a certificate without a CN or DNS name is not allowed for anything (no subject to name)")
        }
        let matched = carried.filter { scopes[Self.folded($0)] != nil }
        let requester = Requester.certificate(matched.first ?? first)
        guard let target = Self.changes(command) else { return .allowed(requester) }
        guard let subject = matched.first else { return .allowed(requester) }
        let allowed = matched.reduce(into: Set<NameKey>()) { $0.formUnion(scopes[Self.folded($1)] ?? []) }
        let list = allowed.sorted().map(\.text).joined(separator: ",")
        switch target {
        case .name(let key) where allowed.contains(key):
            return .allowed(requester)
        case .name(let key):
            return .refused("changing \(key) is not allowed for \(subject) (it may change \(list))")
        case .everything(let verb):
            return .refused("\(verb) is not allowed for \(subject) (it may change only \(list))")
        }
    }

    /// What a command changes: nil for nothing, one name, or more than any one name.
    private enum Target: Equatable {
        case name(NameKey)
        case everything(String)
    }

    private static func changes(_ command: AdminCommand) -> Target? {
        switch command {
        case .status, .rolloutStatus, .history, .health, .analysis, .help:
            nil
        case .weight(let name, _, _, _, _), .shift(let name, _, _, _, _), .drain(let name, _, _, _), .undo(let name, _),
             .rolloutStart(let name, _, _, _, _, _), .rolloutPause(let name), .rolloutResume(let name), .rolloutAbort(let name):
            .name(NameKey(name))
        case .reload:
            .everything("reload")
        case .storeRestore:
            .everything("store restore")
        }
    }

    /// ASCII case folded: subjects are host-name-like, and DNS names ignore case.
    private static func folded(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
