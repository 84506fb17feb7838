import Posix
import Synchronization
import Traffic

/// `veer serve --control ADDR:PORT --control-ca FILE --control-cert FILE --control-key FILE
/// [--control-crl FILE] [--control-allow SUBJECT=NAME[,NAME…]]...`: the admin protocol over
/// TLS with client certificates (issue 26).
struct ControlTLSConfig: Sendable {
    /// The options `veer serve` takes for it.
    static let options: Set<String> = ["control", "control-ca", "control-cert", "control-key", "control-crl", "control-allow"]

    var address: SocketAddress
    var ca: String
    var certificate: String
    var key: String
    /// Revoked client certificates, re-read on `reload` and SIGHUP.
    var crl: String?
    var access: ControlAccess

    /// From `veer serve`'s options: nil without `--control`; a usage error when `--control`
    /// lacks its files or they come without it.
    init?(_ options: OptionReader) throws(UsageError) {
        guard let text = options.last("control") else {
            if let stray = Self.options.sorted().first(where: { !options.all($0).isEmpty }) {
                throw UsageError("--\(stray) goes with --control ADDR:PORT")
            }
            return nil
        }
        do { address = try SocketAddress(parsing: text) } catch {
            throw UsageError("--control \(text): \(error)")
        }
        func file(_ name: String) throws(UsageError) -> String {
            guard let path = options.last(name), !path.isEmpty else {
                throw UsageError("--control needs --control-ca, --control-cert and --control-key (PEM files); --\(name) is missing")
            }
            return path
        }
        ca = try file("control-ca")
        certificate = try file("control-cert")
        key = try file("control-key")
        crl = options.last("control-crl")
        access = ControlAccess()
        for rule in options.all("control-allow") {
            do throws(ControlAccess.RuleError) { try access.allow(parsing: rule) } catch {
                throw UsageError("--control-allow \(error)")
            }
        }
    }

    /// The server context from the files, as they are now.
    func makeContext() throws(TLSError) -> TLSContext {
        try TLSContext.server(ca: ca, certificate: certificate, key: key, crl: crl)
    }
}

/// The TLS edge of the admin protocol: the listener, the certificate files (read again on
/// `reload`), and each line handed to the admin front with the verdict of `ControlAccess` on
/// the client's certificate.
final class ControlTLSFront: Sendable {
    let config: ControlTLSConfig
    let server: TLSLineServer

    /// Reads the files and binds; `start()` serves.
    init(config: ControlTLSConfig, admin: AdminFront) throws(StartupError) {
        self.config = config
        let context: TLSContext
        do { context = try config.makeContext() } catch {
            throw StartupError(lines: ["control: \(error)"])
        }
        let access = config.access
        do {
            let refusals = RefusalLog()
            server = try TLSLineServer(address: config.address, context: context, refused: { address, reason in
                refusals.note("control: refused \(address.map { "\($0)" } ?? "a client"): \(reason)")
            }, handler: { line, peer in
                Self.answer(line, peer: peer, access: access, admin: admin)
            })
        } catch {
            throw StartupError(lines: ["control listener: \(error)"])
        }
    }

    /// One line from a verified client: judged by its certificate's names, then answered by
    /// the admin front as a line from the Unix socket is.
    static func answer(_ line: String, peer: TLSPeer, access: ControlAccess, admin: AdminFront) -> String {
        admin.answer(line) { command in
            let verdict = access.decide(command, commonName: peer.commonName, dnsNames: peer.dnsNames)
            if case .refused(let reason) = verdict {
                Log.warning("control: refused \(peer.address.map { "\($0)" } ?? "a client") \"\(AdminCommand.trimmed(line))\": \(reason)")
            }
            return verdict
        }
    }

    /// What start-up prints: the real port, the files, the scopes.
    var logLines: [String] {
        let scopes = config.access.scopes.keys.sorted().map { subject in
            "\(subject)=" + (config.access.scopes[subject] ?? []).sorted().map(\.text).joined(separator: ",")
        }
        return ["listening: control tls://\(server.boundAddress) ca=\(config.ca) crl=\(config.crl ?? "none")"
                + (scopes.isEmpty ? " (every certificate may change every name)" : " scoped: " + scopes.joined(separator: " "))]
    }

    /// Starts accepting clients.
    func start() { server.start() }

    /// Stops accepting and disconnects every client.
    func stop() { server.stop() }

    /// Reads the CA, certificate, key and CRL again for new connections; on an error keeps
    /// the ones in use and returns it.
    func reload() -> [String] {
        do {
            server.replaceContext(try config.makeContext())
            Log.info("control: certificates reloaded" + (config.crl.map { ", CRL \($0)" } ?? ""))
            return []
        } catch {
            Log.error("control: \(error); still using the certificates read before")
            return ["control: \(error); still using the certificates read before"]
        }
    }
}

/// Refused handshakes, logged at most `perSecond` a second: each costs a client a handshake,
/// but a flood of them must not flood the log. The lines left out are counted in the next
/// one logged.
final class RefusalLog: Sendable {
    static let perSecond = 10
    private struct Window {
        var second: Int64 = 0
        var logged = 0
        var left = 0
    }
    private let window = Mutex(Window())
    private let clock: @Sendable () -> Int64

    init(clock: @escaping @Sendable () -> Int64 = { Clock.wallSeconds() }) {
        self.clock = clock
    }

    /// Logs `line` unless `perSecond` were logged this second; returns what it logged.
    @discardableResult
    func note(_ line: String) -> String? {
        let now = clock()
        let text: String? = window.withLock { window in
            if window.second != now {
                let left = window.left
                window = Window(second: now, logged: 0, left: 0)
                if left > 0 {
                    window.logged = 1
                    return line + " (and \(left) more refused handshake\(left == 1 ? "" : "s") not logged)"
                }
            }
            guard window.logged < Self.perSecond else {
                window.left += 1
                return nil
            }
            window.logged += 1
            return line
        }
        if let text { Log.warning(text) }
        return text
    }
}
