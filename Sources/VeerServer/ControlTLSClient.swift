import Posix

/// Where the `veer` admin commands send their line: the Unix socket (`--admin PATH`, the
/// default) or a server's admin protocol over TLS (`--server HOST:PORT --ca FILE --cert FILE
/// --key FILE`, issue 26). Replies and exit statuses are the same either way.
enum AdminTransport {
    case socket(path: String)
    case tls(host: String, port: UInt16, ca: String, certificate: String, key: String)

    /// The client options, each with a value.
    static let valued: Set<String> = ["admin", "server", "ca", "cert", "key"]

    /// Collects the client's own options out of a command line (`--server H:P`,
    /// `--server=H:P`); the other words are left in order.
    struct Options {
        private(set) var values: [String: String] = [:]

        /// Takes `word` (and its value from `rest`) when it is a client option; false if not.
        mutating func take(_ word: String, _ rest: inout ArraySlice<String>) throws(UsageError) -> Bool {
            guard word.hasPrefix("--") else { return false }
            let body = word.dropFirst(2)
            let name = String(body.prefix { $0 != "=" })
            guard AdminTransport.valued.contains(name) else { return false }
            let value: String
            if body.count > name.count {
                value = String(body.dropFirst(name.count + 1))
            } else {
                guard let next = rest.popFirst() else { throw UsageError("--\(name) needs a value") }
                value = next
            }
            values[name] = value
            return true
        }

        /// The transport they describe.
        func transport() throws(UsageError) -> AdminTransport {
            guard let server = values["server"] else {
                if let stray = ["ca", "cert", "key"].first(where: { values[$0] != nil }) {
                    throw UsageError("--\(stray) goes with --server HOST:PORT")
                }
                return .socket(path: values["admin"] ?? AdminClient.defaultPath)
            }
            guard values["admin"] == nil else { throw UsageError("--admin and --server: one or the other") }
            let (host, port) = try AdminTransport.hostAndPort(server)
            func file(_ name: String) throws(UsageError) -> String {
                guard let path = values[name], !path.isEmpty else {
                    throw UsageError("--server needs --ca, --cert and --key (PEM files); --\(name) is missing")
                }
                return path
            }
            return .tls(host: host, port: port, ca: try file("ca"), certificate: try file("cert"), key: try file("key"))
        }
    }

    /// `ns1.example.com:8953`, `192.0.2.53:8953`, `[2001:db8::53]:8953`.
    static func hostAndPort(_ text: String) throws(UsageError) -> (String, UInt16) {
        let form = "--server takes HOST:PORT, e.g. ns1.example.com:8953 or [2001:db8::53]:8953, got \"\(text)\""
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            throw UsageError(form)
        }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, !host.contains(where: { $0 == "[" || $0 == "]" || $0 == " " }) else { throw UsageError(form) }
        return (String(host), port)
    }

    /// Sends `line` and returns the reply, or the message for standard error saying what
    /// failed and what to check.
    func request(_ line: String, timeout: Duration) -> Result<String, TransportFailure> {
        switch self {
        case .socket(let path):
            do {
                return .success(try UnixLineClient.request(path: path, line: line, timeout: timeout))
            } catch {
                return .failure(TransportFailure("admin socket \(path): \(error) (is `veer serve` running with this --admin path?)"))
            }
        case .tls(let host, let port, let ca, let certificate, let key):
            let server = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            do throws(TLSError) {
                let context = try TLSContext.client(ca: ca, certificate: certificate, key: key)
                return .success(try TLSLineClient.request(host: host, port: port, context: context, line: line, timeout: timeout))
            } catch {
                return .failure(TransportFailure("control server \(server): \(error)"))
            }
        }
    }
}

/// Why a request did not get a reply: a message for people.
struct TransportFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
