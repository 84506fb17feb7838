import Posix
import Traffic

/// `veer status|weight|shift|drain|undo|history|reload …`: sends the same line the admin
/// socket takes and prints the reply. Exit 0 on `ok`, 1 on `error:`, 64 on bad usage.
enum AdminClient {
    static let verbs: Set<String> = ["status", "weight", "shift", "drain", "undo", "history", "health", "reload"]
    static let defaultPath = "var/admin.sock"

    static func run(_ arguments: ArraySlice<String>) throws(UsageError) -> Int32 {
        let options = try OptionReader(arguments, valued: ["admin"], switches: ["json"])
        var words = options.positional
        if options.has("json") {
            guard words.first == "status" else { throw UsageError("--json goes with status") }
            words.append("json")
        }
        let line = words.joined(separator: " ")
        do throws(AdminError) {
            _ = try AdminCommand.parse(line)
        } catch {
            throw UsageError("\(error)")
        }
        let path = options.last("admin") ?? defaultPath
        let reply: String
        do {
            reply = try UnixLineClient.request(path: path, line: line)
        } catch {
            writeStderr("veer: admin socket \(path): \(error) (is `veer serve` running with this --admin path?)\n")
            return 1
        }
        if reply.hasPrefix("ok") {
            // The JSON form prints only the document, for scripts.
            print(options.has("json") ? String(reply.drop(while: { $0 != "\n" }).dropFirst()) : reply)
            return 0
        }
        writeStderr(reply + "\n")
        return 1
    }
}
