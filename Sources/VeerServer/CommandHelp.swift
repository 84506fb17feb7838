import DNSSEC
import Traffic

/// Every command `veer` takes, and the usage of each, cut from `VeerCommand.usage` (the one
/// text that lists them): what `veer COMMAND --help` prints, and what a usage error prints
/// after naming the mistake, so an operator sees only the command they typed.
public enum CommandHelp {
    /// Veer's version, for `veer --version`.
    public static let version = "0.27.0"

    /// Every command as the words that name it (`["rollout", "start"]`): the local ones, the
    /// client's own `rollout wait`, and one per admin verb, so a new verb cannot be left out.
    public static var commands: [[String]] {
        [["serve"], ["check"], ["store", "import"], ["store", "export"], ["rollout", "wait"],
         ["keys", "generate"], ["keys", "ds"], ["keys", "list"], ["keys", "activate"], ["keys", "retire"]]
            + AdminCommand.Verb.allCases.filter { $0 != .help }.map(words)
    }

    /// `rolloutStart` → `["rollout", "start"]`: the words of an admin verb.
    static func words(_ verb: AdminCommand.Verb) -> [String] {
        var words = [""]
        for character in verb.rawValue {
            if character.isUppercase { words.append("") }
            words[words.count - 1].append(Character(character.lowercased()))
        }
        return words
    }

    /// Every command's usage: what `veer --help` and a mistake naming no command print.
    public static var all: String { VeerCommand.usage }

    /// What `veer --version` prints: Veer's version and the OpenSSL it is linked with.
    public static var versionText: String { "veer \(version) (\(CryptoLibrary.version))" }

    /// The usage lines of `command` (with the indented lines that continue them), or nil when
    /// `VeerCommand.usage` has none: `pause` matches `rollout pause|resume|abort NAME`.
    public static func usage(of command: [String]) -> String? {
        var found: [String] = []
        var inMatch = false
        for line in VeerCommand.usage.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            if let start = words.firstIndex(of: "veer") {
                var named = words[(start + 1)...].drop { $0.hasPrefix("[--admin") || $0 == "PATH]" }
                inMatch = command.allSatisfy { word in
                    guard let next = named.popFirst() else { return false }
                    return next.split(separator: "|").contains { $0 == word }
                }
                if inMatch { found.append("usage: veer " + words[(start + 1)...].joined(separator: " ")) }
            } else if inMatch {
                found.append("    " + line.drop { $0 == " " })
            }
        }
        return found.isEmpty ? nil : found.joined(separator: "\n")
    }

    /// The command `arguments` names (the longest that matches, ignoring `--admin PATH` and
    /// options), or nil.
    static func command(in arguments: ArraySlice<String>) -> [String]? {
        var words: [String] = []
        var rest = arguments
        while let word = rest.popFirst() {
            // The client's own options and their values (`--server HOST:PORT --ca FILE …`).
            if ["--admin", "--server", "--ca", "--cert", "--key"].contains(word) { _ = rest.popFirst(); continue }
            if word.hasPrefix("-") { continue }
            words.append(word.lowercased())
        }
        return commands.filter { words.starts(with: $0) }.max { $0.count < $1.count }
            ?? commands.filter { words.first == $0.first }.first.map { [$0[0]] }
    }

    /// For `veer … --help` (or `-h`): the usage of the command named, or all of them.
    static func help(_ arguments: ArraySlice<String>) -> String? {
        guard arguments.contains("--help") || arguments.contains("-h") else { return nil }
        return text(for: arguments)
    }

    /// The usage a mistake in `arguments` prints: that command's, or all of them when no
    /// command is named.
    static func text(for arguments: ArraySlice<String>) -> String {
        guard let command = command(in: arguments), let usage = usage(of: command) else { return VeerCommand.usage }
        return usage
    }
}
