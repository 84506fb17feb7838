import Authority
import DNSWire
import Posix
import Synchronization
import Traffic
import ZoneFile
import DNSSEC
import Foundation

/// What `veer serve` was asked to do.
struct ServeConfig {
    /// `make run` serves loopback on an unprivileged port; production passes `--listen …:53`.
    static let defaultListen = ["127.0.0.1:5353", "[::1]:5353"]

    var zonesDirectory = "zones"
    /// `--max-zone-bytes`: the largest zone file or `$INCLUDE` read.
    var maxZoneBytes = ZoneParser.Files.defaultMaxBytes
    var listen: [SocketAddress] = []
    var listenIsDefault = true
    var threads = max(1, Posix.Process.cpuCount)
    /// `--io`: the UDP loop asked for; nil: the default (see `UDPLoopChoice`).
    var io: UDPServer.IO?
    var maxUDPPayload = EDNS.defaultPayload
    var tcpMaxConnections = 256
    var tcpIdleTimeout = Duration.seconds(10)
    /// Runtime weights and the audit log live here; `make run` uses ./var.
    var stateDirectory = "var"
    /// The admin socket; by default inside the state directory.
    var adminPath = ""
    var allowedUIDs: Set<UInt32> = []
    var allowedGIDs: Set<UInt32> = []
    /// A weight raised this recently marks a migration target for automatic rollback.
    var rollbackWindowSeconds = RollbackRule.defaultWindowSeconds
    /// Sources allowed to read `_veer.NAME` TXT status; empty means loopback only.
    var statusQueryFrom: [AddressPrefix] = []
    /// Where to serve Prometheus metrics over HTTP, if anywhere.
    var metrics: SocketAddress?
    /// `--cohort-seed`: replaces the saved cohort seed, so servers without a shared store
    /// put each client in the same cohort.
    var cohortSeed: CohortSeed?
    /// `--store etcd=URL[,URL…]`: the state shared with other servers; nil: the state directory.
    var etcd: String?
    var storePrefix = "/veer/"
    /// `--store-ca`, `--store-cert`, `--store-key`, `--store-user`, `--store-password-file`.
    var storeAccess = EtcdAccess()
    /// `--server-id`: this server's name among those sharing the store (the host name by default).
    var serverID = Posix.Process.hostName
    /// `--cluster ID,ID,…`: the servers that should share the store (README "The expected
    /// cluster"); nil: whichever are live.
    var cluster: [String]?
    var rateLimit = RateLimiter.Settings()
    /// `--rrl-exempt`; nil: loopback.
    var rateLimitExempt: [AddressPrefix]?
    /// `--cookie-secret`: shared by servers that answer for the same address; nil: off.
    var cookieSecret: CookieSecret? = .random()
    /// `--keys DIR`: sign the zones that have keys there (README "DNSSEC"); nil: unsigned.
    var keysDirectory: String?
    /// `--signature-validity`, `--signature-refresh`, `--signature-inception-offset`,
    /// `--signature-jitter`: the defaults (14 d, 7 d, 1 h, 1 d) unless given (tests shorten them).
    var signaturePolicy = SignaturePolicy()
    /// `--control ADDR:PORT` and its files: the admin protocol over TLS; nil: not served.
    var controlTLS: ControlTLSConfig?

    /// What the server threads apply to each query (one rate limiter for all of them).
    func makeQueryPolicy() -> QueryPolicy {
        let exempt = (rateLimitExempt ?? StatusQueryPolicy.loopback).map { prefix in
            let words = prefix.words
            return (ipv6: words.ipv6, high: words.high, low: words.low, length: prefix.length)
        }
        return QueryPolicy(maxUDPPayload: maxUDPPayload, status: StatusQueryPolicy(prefixes: statusQueryFrom),
                           rateLimiter: rateLimit.rate > 0 ? RateLimiter(rateLimit) : nil,
                           rateLimitExempt: ExemptNetworks(exempt), cookieSecret: cookieSecret)
    }

    init(_ arguments: ArraySlice<String>) throws(UsageError) {
        let options = try OptionReader(arguments, valued: Set<String>([
            "zones", "max-zone-bytes", "listen", "threads", "io", "edns-payload", "tcp-max-connections", "tcp-idle-timeout",
            "state-dir", "admin", "admin-allow-uid", "admin-allow-gid", "rollback-window", "status-query-from", "metrics",
            "cohort-seed", "store", "store-prefix", "server-id", "cluster",
            "rrl-rate", "rrl-window", "rrl-slip", "rrl-ipv4-prefix", "rrl-ipv6-prefix", "rrl-exempt", "cookie-secret",
            "keys", "signature-validity", "signature-refresh", "signature-inception-offset", "signature-jitter",
        ]).union(ControlTLSConfig.options).union(EtcdAccess.options), switches: ["rrl-log-only"])
        guard options.positional.isEmpty else { throw UsageError("unexpected argument \"\(options.positional[0])\"") }
        zonesDirectory = options.last("zones") ?? zonesDirectory
        maxZoneBytes = try ZoneParser.Files.maxBytes(options)
        let listenText = options.all("listen")
        listenIsDefault = listenText.isEmpty
        for text in listenText.isEmpty ? Self.defaultListen : listenText {
            do {
                listen.append(try SocketAddress(parsing: text))
            } catch {
                throw UsageError("--listen \(text): \(error)")
            }
        }
        threads = try options.integer("threads", default: threads, range: 1...256)
        if let text = options.last("io") {
            guard let io = UDPServer.IO(rawValue: text) else { throw UsageError("--io must be uring or mmsg, got \"\(text)\"") }
            self.io = io
        }
        maxUDPPayload = UInt16(try options.integer("edns-payload", default: Int(maxUDPPayload), range: 512...4096))
        tcpMaxConnections = try options.integer("tcp-max-connections", default: tcpMaxConnections, range: 1...65536)
        tcpIdleTimeout = .seconds(try options.integer("tcp-idle-timeout", default: 10, range: 1...3600))
        rollbackWindowSeconds = Int64(try options.integer("rollback-window", default: Int(rollbackWindowSeconds), range: 0...31_536_000))
        if let text = options.last("store") {
            guard text.hasPrefix("etcd="), text.count > 5 else { throw UsageError("--store must be etcd=http://HOST:PORT[,http://HOST:PORT...], got \"\(text)\"") }
            etcd = String(text.dropFirst(5))
        }
        storeAccess = try EtcdAccess(options)
        storePrefix = options.last("store-prefix") ?? storePrefix
        guard storePrefix.hasPrefix("/") else { throw UsageError("--store-prefix must start with /, got \"\(storePrefix)\"") }
        serverID = options.last("server-id") ?? serverID
        guard !serverID.isEmpty, serverID.utf8.count <= 64, serverID.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw UsageError("--server-id must be 1 to 64 letters, digits, \"-\", \"_\" or \".\", got \"\(serverID)\"")
        }
        cluster = try options.last("cluster").map { text throws(UsageError) in try Self.cluster(text, serverID: serverID, store: etcd) }
        if let text = options.last("cohort-seed") {
            guard let seed = CohortSeed(hex: text) else { throw UsageError("--cohort-seed must be 32 lowercase hex digits, got \"\(text)\"") }
            cohortSeed = seed
        }
        statusQueryFrom = try Self.prefixes(options.all("status-query-from"), "status-query-from")
        rateLimit.rate = try options.integer("rrl-rate", default: rateLimit.rate, range: 0...1_000_000)
        rateLimit.window = try options.integer("rrl-window", default: rateLimit.window, range: 1...60)
        rateLimit.slip = try options.integer("rrl-slip", default: rateLimit.slip, range: 0...10)
        rateLimit.ipv4PrefixLength = try options.integer("rrl-ipv4-prefix", default: rateLimit.ipv4PrefixLength, range: 8...32)
        rateLimit.ipv6PrefixLength = try options.integer("rrl-ipv6-prefix", default: rateLimit.ipv6PrefixLength, range: 16...64)
        rateLimit.logOnly = options.has("rrl-log-only")
        let exempt = options.all("rrl-exempt")
        if exempt == ["none"] {
            rateLimitExempt = []
        } else if !exempt.isEmpty {
            rateLimitExempt = try Self.prefixes(exempt, "rrl-exempt")
        }
        if let text = options.last("cookie-secret") {
            if text == "off" {
                cookieSecret = nil
            } else {
                guard let secret = CookieSecret(hex: text) else {
                    throw UsageError("--cookie-secret must be 32 hex digits (16 octets) or \"off\", got \"\(text)\"")
                }
                cookieSecret = secret
            }
        }
        if let text = options.last("metrics") {
            do { metrics = try SocketAddress(parsing: text) } catch {
                throw UsageError("--metrics \(text): \(error)")
            }
        }
        keysDirectory = options.last("keys")
        signaturePolicy = try Self.signaturePolicy(options)
        controlTLS = try ControlTLSConfig(options)
        stateDirectory = options.last("state-dir") ?? stateDirectory
        adminPath = options.last("admin") ?? stateDirectory + "/admin.sock"
        for (name, target) in [("admin-allow-uid", \ServeConfig.allowedUIDs), ("admin-allow-gid", \ServeConfig.allowedGIDs)] {
            for text in options.all(name) {
                guard let id = UInt32(text) else { throw UsageError("--\(name) needs a numeric id, got \"\(text)\"") }
                self[keyPath: target].insert(id)
            }
        }
    }
}

extension ServeConfig {
    /// The signature timing options, each a whole number of seconds with `s`, `m`, `h` or
    /// `d` (`14d`, `90s`), checked together (`SignaturePolicy.problem`).
    static func signaturePolicy(_ options: OptionReader) throws(UsageError) -> SignaturePolicy {
        var policy = SignaturePolicy()
        for (name, field) in [("signature-validity", \SignaturePolicy.validity), ("signature-refresh", \SignaturePolicy.refreshBefore),
                              ("signature-inception-offset", \SignaturePolicy.inceptionOffset), ("signature-jitter", \SignaturePolicy.jitter)] {
            guard let text = options.last(name) else { continue }
            guard let seconds = seconds(text) else {
                throw UsageError("--\(name) must be a duration such as 90s, 30m, 6h or 14d, got \"\(text)\"")
            }
            policy[keyPath: field] = seconds
        }
        // A short validity given alone keeps working: the jitter shrinks with it.
        if options.last("signature-jitter") == nil, policy.problem != nil, policy.refreshBefore < policy.validity {
            policy.jitter = (policy.validity - policy.refreshBefore) / 2
        }
        if let problem = policy.problem { throw UsageError("--signature-*: \(problem)") }
        return policy
    }

    /// Seconds of `text`: digits and one unit, `s`, `m`, `h` or `d`; nil when malformed or
    /// beyond 68 years.
    static func seconds(_ text: String) -> UInt32? {
        guard let unit = text.last, let scale: UInt64 = ["s": 1, "m": 60, "h": 3600, "d": 86_400][unit],
              let value = UInt64(text.dropLast()), !text.dropLast().hasPrefix("+") else { return nil }
        let (total, overflow) = value.multipliedReportingOverflow(by: scale)
        guard !overflow, total <= UInt64(Int32.max) else { return nil }
        return UInt32(total)
    }

    /// Every `CIDR,CIDR…` given to `--NAME`, parsed.
    static func prefixes(_ texts: [String], _ option: String) throws(UsageError) -> [AddressPrefix] {
        var prefixes: [AddressPrefix] = []
        for text in texts {
            for item in text.split(separator: ",") {
                do {
                    prefixes.append(try AddressPrefix(parsing: String(item)))
                } catch {
                    throw UsageError("--\(option) \(item): \(error)")
                }
            }
        }
        return prefixes
    }
}

/// `veer serve`: loads the zones and saved weights, binds (or takes the sockets systemd
/// handed over), answers until SIGTERM/SIGINT; SIGHUP and the admin `reload` re-read the zones.
final class Server: Sendable {
    let config: ServeConfig
    let control: Control
    /// The sockets systemd handed over (socket activation); when there are any, they are
    /// served instead of `--listen`.
    let inherited: [InheritedSocket]

    init(config: ServeConfig) throws(StartupError) {
        self.config = config
        // First, while no other thread runs: taking them unsets LISTEN_* in the environment.
        do {
            inherited = try SocketActivation.takeInherited()
        } catch {
            throw StartupError(lines: ["socket activation: \(error)"])
        }
        let (zones, errors) = ZoneParser.loadDirectory(config.zonesDirectory, files: .system(maxBytes: config.maxZoneBytes))
        guard errors.isEmpty else { throw StartupError(lines: errors.map(\.description)) }
        guard !zones.isEmpty else { throw StartupError(lines: ["\(config.zonesDirectory): no *.zone files to serve"]) }
        let store: any StateStore
        var shared: (any SharedStore)?
        do {
            let local = try FileStateStore(directory: config.stateDirectory)
            if let urls = config.etcd {
                let client: EtcdClient
                do { client = try EtcdClient(urls: urls, access: config.storeAccess) } catch { throw StoreError(.io, "\(error)") }
                try client.checkAccess(prefix: config.storePrefix)
                let etcd = EtcdStateStore(client: client, prefix: config.storePrefix, serverID: config.serverID, local: local,
                                          expected: config.cluster)
                try Self.register(etcd)
                (store, shared) = (etcd, etcd)
                Log.info("state: shared in \(store.location) as server \(config.serverID), local copy in \(local.path)")
            } else {
                store = local
            }
        } catch {
            throw StartupError(lines: ["\(error)"])
        }
        var plane = ControlPlane.Settings()
        plane.rollbackWindowMs = config.rollbackWindowSeconds * 1000
        control = try Control(settings: Control.Settings(
            zonesDirectory: config.zonesDirectory, maxZoneBytes: config.maxZoneBytes, allowedUIDs: config.allowedUIDs, allowedGIDs: config.allowedGIDs,
            plane: plane, cohortSeed: config.cohortSeed, signing: config.keysDirectory.map {
                ZoneSigning(keysDirectory: $0, policy: config.signaturePolicy, cacheDirectory: config.stateDirectory + "/signatures")
            }), zones: zones, store: store, shared: shared)
        for zone in control.box.current.zones.zones {
            Log.info("zone: \(zone.origin) serial=\(zone.serial) file=\(zone.file)")
        }
        Posix.Process.releaseFreedMemory()
    }

    /// Binds every socket, starts the loops, and never returns.
    func run() throws(StartupError) -> Never {
        let box = control.box, counters = control.counters
        let policy = config.makeQueryPolicy()
        let makeHandler: @Sendable () -> any PacketHandler = {
            DNSHandler(box: box, counters: counters, policy: policy)
        }
        let loop = UDPLoopChoice.choose(requested: config.io, probe: UDPServer.uringUnavailability)
        if loop.fellBack { Log.warning(loop.logLine) } else { Log.info(loop.logLine) }
        let (udp, tcp) = inherited.isEmpty ? try bindListen(loop.io, makeHandler) : try serveInherited(loop.io, makeHandler)
        let control = self.control
        let admin: UnixLineServer
        do {
            admin = try UnixLineServer(path: config.adminPath) { line, peer in control.handle(line, peer: peer) }
        } catch {
            throw StartupError(lines: ["admin socket: \(error)"])
        }
        var metrics: MetricsServer?
        if let address = config.metrics {
            do {
                metrics = try MetricsServer(address: address, resources: LivePage.resources(status: control.status, history: control.history)) {
                    control.metricsText()
                }
            } catch {
                throw StartupError(lines: ["metrics listener: \(error)"])
            }
        }
        let controlTLS = try config.controlTLS.map { config throws(StartupError) in try ControlTLSFront(config: config, admin: control.admin) }
        if let controlTLS { control.reloader.alsoReload { controlTLS.reload() } }
        let origin = inherited.isEmpty ? "" : " (inherited from systemd)"
        for address in udp.boundAddresses { Log.info("listening: udp \(address)\(origin)") }
        for address in tcp.boundAddresses { Log.info("listening: tcp \(address)\(origin)") }
        Log.info("listening: admin \(config.adminPath)")
        if let metrics { Log.info("listening: metrics http://\(metrics.boundAddress)\(MetricsServer.path)") }
        if let metrics { Log.info("listening: live page http://\(metrics.boundAddress)\(LivePage.pagePath)") }
        for line in controlTLS?.logLines ?? [] { Log.info(line) }
        udp.start()
        metrics?.start()
        tcp.start()
        admin.start()
        controlTLS?.start()
        do {
            control.start(health: try HealthMonitor())
        } catch {
            throw StartupError(lines: ["health checks: \(error)"])
        }
        Signals.on(Signals.hangup) { _ = control.reload() }
        for signal in [Signals.terminate, Signals.interrupt] {
            Signals.on(signal) {
                Log.info("stopping: signal \(signal)")
                Self.notify(["STOPPING=1"])
                admin.stop()
                controlTLS?.stop()
                exit(0)
            }
        }
        let rateLimit = config.rateLimit
        let rateLimitLog = rateLimit.rate > 0 ? RateLimitLog(counters: counters, logOnly: rateLimit.logOnly) : nil
        if rateLimit.rate > 0 {
            Log.info("rate limiting: \(rateLimit.rate) responses/s per /\(rateLimit.ipv4PrefixLength) or /\(rateLimit.ipv6PrefixLength), window \(rateLimit.window) s, slip \(rateLimit.slip)"
                + (rateLimit.logOnly ? ", log only" : ""))
        }
        Log.info("dns cookies: " + (config.cookieSecret == nil ? "off" : "on"))
        Log.info("ready: \(config.threads) udp thread(s) per address, generation \(box.generation)")
        Self.notify(["READY=1", Self.status(box)])
        withExtendedLifetime(rateLimitLog) { Posix.Process.parkForever() }
    }

    /// systemd's STATUS= line: what is served.
    static func status(_ box: SnapshotBox) -> String {
        let snapshot = box.current
        return "STATUS=serving \(snapshot.zones.zones.count) zone(s), generation \(snapshot.generation)"
    }

    private static let notifyFailed = Atomic<Bool>(false)

    /// Tells systemd (`NOTIFY_SOCKET`, `Type=notify`); a failure is logged once.
    static func notify(_ lines: [String]) {
        guard let error = ServiceNotify.send(lines), !notifyFailed.exchange(true, ordering: .relaxed) else { return }
        Log.warning("systemd: \(error)")
    }

    /// Binds `--listen` (or the default addresses).
    private func bindListen(_ io: UDPServer.IO, _ makeHandler: @escaping @Sendable () -> any PacketHandler) throws(StartupError) -> (UDPServer, TCPServer) {
        var addresses = config.listen
        do {
            return try bind(addresses, io, makeHandler)
        } catch let error where config.listenIsDefault && addresses.count > 1 && "\(error)".contains("EADDRNOTAVAIL") {
            // A machine without IPv6 loopback still gets `make run` on 127.0.0.1.
            Log.warning("listen: \(error); serving IPv4 only")
            addresses = addresses.filter { !$0.isIPv6 }
            do { return try bind(addresses, io, makeHandler) } catch { throw StartupError(lines: ["\(error)"]) }
        } catch {
            throw StartupError(lines: ["\(error)"])
        }
    }

    /// Serves the sockets systemd handed over: the datagram ones over UDP, the listening
    /// stream ones over TCP.
    private func serveInherited(_ io: UDPServer.IO, _ makeHandler: @escaping @Sendable () -> any PacketHandler) throws(StartupError) -> (UDPServer, TCPServer) {
        if !config.listenIsDefault {
            let asked = config.listen.map(\.description).joined(separator: " ")
            Log.info("listen: serving the \(inherited.count) socket(s) inherited from systemd (LISTEN_FDS), not --listen \(asked)")
        }
        let datagram = inherited.filter { $0.kind == .datagram }
        let stream = inherited.filter { $0.kind == .stream }
        if datagram.isEmpty { Log.warning("listen: systemd handed over no datagram socket: not serving UDP") }
        if stream.isEmpty { Log.warning("listen: systemd handed over no stream socket: not serving TCP (RFC 7766 asks for both)") }
        do {
            let udp = try UDPServer(inherited: datagram, threads: config.threads,
                                    maxResponse: Int(config.maxUDPPayload), io: io, makeHandler: makeHandler)
            let tcp = try TCPServer(inherited: stream, maxConnections: config.tcpMaxConnections,
                                    idleTimeout: config.tcpIdleTimeout, makeHandler: makeHandler)
            return (udp, tcp)
        } catch {
            throw StartupError(lines: ["\(error)"])
        }
    }

    /// Attempts at binding when a port 0 was asked for: the port the kernel gave UDP may
    /// already be some TCP connection's local port, and then a fresh pair is tried.
    static let portZeroBindAttempts = 8

    private func bind(_ addresses: [SocketAddress], _ io: UDPServer.IO,
                      _ makeHandler: @escaping @Sendable () -> any PacketHandler) throws -> (UDPServer, TCPServer) {
        let attempts = addresses.contains { $0.port == 0 } ? Self.portZeroBindAttempts : 1
        for attempt in 1...attempts {
            do {
                let udp = try UDPServer(listen: addresses, threads: config.threads,
                                        maxResponse: Int(config.maxUDPPayload), io: io, makeHandler: makeHandler)
                // TCP on the same ports UDP got (they matter when port 0 was asked for).
                let tcp = try TCPServer(listen: udp.boundAddresses, maxConnections: config.tcpMaxConnections,
                                        idleTimeout: config.tcpIdleTimeout, makeHandler: makeHandler)
                return (udp, tcp)
            } catch let error as SystemError where error.errno == .EADDRINUSE && attempt < attempts {
                continue
            }
        }
        preconditionFailure("the last attempt returns or throws")
    }
}

/// Why the server cannot start: every line is printed, exit status 1.
struct StartupError: Error {
    let lines: [String]
}
