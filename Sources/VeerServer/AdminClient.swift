import Posix
import Traffic

/// `veer status|weight|shift|drain|undo|rollout|history|health|analysis|reload …`: sends
/// the same line the admin socket takes and prints the reply. Exit 0 on `ok`, 1 on `error:`, 64 on bad usage.
/// `rollout wait` is the client's own loop over `rollout status` (`RolloutWait`).
enum AdminClient {
    static let verbs: Set<String> = ["status", "weight", "shift", "drain", "undo", "rollout", "history", "health", "analysis", "reload"]
    static let defaultPath = "var/admin.sock"
    /// How long the CLI waits for a reply: a change may wait for a stalled etcd to settle
    /// (its 2 s request timeout per member, then up to 5 s of resends) and `--wait` adds up
    /// to 5 s; giving up before the server answers would leave the operator guessing.
    static let replyTimeout = Duration.seconds(30)

    /// A read command, which has a JSON form.
    static func readsJSON(_ words: [String]) -> Bool {
        ["status", "analysis", "history", "health"].contains(words.first) || words.prefix(2) == ["rollout", "status"]
    }

    static func run(_ arguments: ArraySlice<String>) throws(UsageError) -> Int32 {
        // `--admin PATH` (or `--server HOST:PORT --ca --cert --key`) and `--json` are the
        // client's; every other word, options of the command included (`--steps 1,5`,
        // `--dry-run`), goes to the server as typed.
        var words: [String] = []
        var options = AdminTransport.Options()
        var json = false
        var rest = arguments[...]
        while let word = rest.popFirst() {
            if try options.take(word, &rest) {
                continue
            } else if word == "--json" {
                json = true
            } else {
                words.append(word)
            }
        }
        let transport = try options.transport()
        if words.prefix(2) == ["rollout", "wait"] {
            return try RolloutWait.run(Array(words.dropFirst(2)), transport: transport, json: json)
        }
        // The protocol's own form (`status json`) prints the document alone too.
        if !json, words.last?.lowercased() == "json", Self.readsJSON(words) {
            json = true
            words.removeLast()
        }
        if json {
            guard Self.readsJSON(words) else {
                throw UsageError("--json goes with status, rollout status, rollout wait, history, health and analysis")
            }
            words.append("json")
        }
        let line = words.joined(separator: " ")
        do throws(AdminError) {
            _ = try AdminCommand.parse(AdminCommand.waitSwitch(line).line)
        } catch {
            // The command's usage follows the message: the protocol's "; usage: …" is not repeated.
            let text = "\(error)"
            throw UsageError(text.range(of: "; usage: ").map { String(text[..<$0.lowerBound]) } ?? text)
        }
        let reply: String
        switch transport.request(line, timeout: replyTimeout) {
        case .success(let text): reply = text
        case .failure(let failure):
            writeStderr("veer: \(failure)\n")
            return 1
        }
        if reply.hasPrefix("ok") {
            // The JSON form prints only the document, for scripts.
            print(json ? String(reply.drop(while: { $0 != "\n" }).dropFirst()) : reply)
            return 0
        }
        writeStderr(reply + "\n")
        return 1
    }
}
