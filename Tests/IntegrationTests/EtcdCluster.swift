import Foundation
import Glibc
import Posix
import TestSupport

/// A real etcd (Debian's `etcd-server`) for the shared-store tests: one member or several,
/// on free loopback ports, with temporary data directories. Never a mock. Members can be
/// stopped and started again (same data); everything is killed and removed at deinit. With
/// `TLS`, clients speak https to it (peers stay on plain http: only the client side is Veer's).
final class EtcdCluster: @unchecked Sendable {
    /// etcd's client side over TLS: `--cert-file`, `--key-file`, and with
    /// `clientCertificateAuth`, `--client-cert-auth --trusted-ca-file`. `client` is the
    /// certificate and key the harness itself presents (nil: none).
    struct TLS {
        var ca: String
        var certificate: String
        var key: String
        var clientCertificateAuth: Bool
        var client: (certificate: String, key: String)?
    }

    struct Member {
        let name: String
        let clientPort: UInt16
        let peerPort: UInt16
        let dataDirectory: String
        var process: Foundation.Process?
    }

    static let startupTimeout = Duration.seconds(20)
    private(set) var members: [Member]
    let root: String
    private let token = "veer-test-\(UUID().uuidString)"
    let tls: TLS?
    /// More `etcd` arguments for every member (`--auth-token simple --auth-token-ttl 2`).
    let extraArguments: [String]
    /// The harness's own TLS context for `tls`.
    private let context: TLSContext?
    /// The harness's auth token, once `enableAuth` has run.
    private var rootToken: String?
    /// root's password, to log in again when etcd forgot `rootToken` (`--auth-token-ttl`, a restart).
    private var rootPassword: String?

    /// `http://127.0.0.1:PORT,…` (https with `tls`), as `veer serve --store etcd=` takes it.
    var clientURLs: String { members.map { "\(tls == nil ? "http" : "https")://127.0.0.1:\($0.clientPort)" }.joined(separator: ",") }

    init(members count: Int = 1, tls: TLS? = nil, extraArguments: [String] = []) throws {
        self.tls = tls
        self.extraArguments = extraArguments
        context = try tls.map { try TLSContext.client(ca: $0.ca, certificate: $0.client?.certificate, key: $0.client?.key) }
        guard let etcd = Tools.onPath("etcd") else {
            throw HarnessError("etcd is missing: apt-get install etcd-server (the shared-store tests run a real etcd)")
        }
        root = try FileIO.makeTemporaryDirectory(prefix: "veer-etcd-")
        var ports: [UInt16] = []
        while ports.count < 2 * count {
            let port = try Self.freePort()
            if !ports.contains(port) { ports.append(port) }
        }
        let root = self.root
        members = (0..<count).map { i in
            Member(name: "m\(i)", clientPort: ports[2 * i], peerPort: ports[2 * i + 1], dataDirectory: "\(root)/m\(i)", process: nil)
        }
        for i in members.indices { try launch(i, binary: etcd) }
        for i in members.indices { try waitReady(i) }
    }

    deinit {
        for member in members {
            if let process = member.process, process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Stops member `i` (SIGKILL: as a crash or a lost machine would).
    func stop(_ i: Int) {
        guard let process = members[i].process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        members[i].process = nil
    }

    /// Holds member `i` with SIGSTOP: its connections stay open and its sockets take
    /// requests, but nothing is answered until `resume`, as on a stalled disk or machine.
    func pause(_ i: Int) {
        guard let process = members[i].process, process.isRunning else { return }
        kill(process.processIdentifier, SIGSTOP)
    }

    /// Lets a member held by `pause` run again (SIGCONT).
    func resume(_ i: Int) {
        guard let process = members[i].process else { return }
        kill(process.processIdentifier, SIGCONT)
    }

    /// Starts member `i` again on its data directory and waits until it answers.
    func start(_ i: Int) throws {
        guard let etcd = Tools.onPath("etcd") else { throw HarnessError("etcd is missing") }
        try launch(i, binary: etcd)
        try waitReady(i)
    }

    private func launch(_ i: Int, binary: String) throws {
        let member = members[i]
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: binary)
        let cluster = members.map { "\($0.name)=http://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
        let scheme = tls == nil ? "http" : "https"
        var security: [String] = []
        if let tls {
            security = ["--cert-file", tls.certificate, "--key-file", tls.key]
            if tls.clientCertificateAuth { security += ["--client-cert-auth", "--trusted-ca-file", tls.ca] }
        }
        process.arguments = security + extraArguments + [
            "--name", member.name, "--data-dir", member.dataDirectory,
            "--listen-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--advertise-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--listen-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-cluster", cluster, "--initial-cluster-token", token, "--initial-cluster-state", "new",
            "--log-level", "error",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardInput = FileHandle.nullDevice
        try process.run()
        members[i].process = process
    }

    /// Until member `i` answers a range request (it has joined a cluster with a leader).
    private func waitReady(_ i: Int) throws {
        let deadline = ContinuousClock.now + Self.startupTimeout
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                let reply = try post(i, "/v3/kv/range", "{\"key\":\"AA==\"}", timeout: .seconds(1))
                // With auth on, a member that asks who is calling, or forgot the harness's
                // token in a restart, is serving too.
                let text = String(decoding: reply.body, as: UTF8.self)
                if reply.status == 200 || text.contains("user name is empty") || text.contains("invalid auth token") { return }
                last = "HTTP \(reply.status)"
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("etcd member \(members[i].name) not ready within \(Self.startupTimeout): \(last)")
    }

    /// Puts `value` at `key` through member 0's gateway, as `etcdctl put` would: what an
    /// operator's mistake or another program writes behind Veer's back.
    func put(_ key: String, _ value: String) throws {
        let body = "{\"key\":\"\(Data(key.utf8).base64EncodedString())\",\"value\":\"\(Data(value.utf8).base64EncodedString())\"}"
        let reply = try post(0, "/v3/kv/put", body, timeout: .seconds(2))
        guard reply.status == 200 else { throw HarnessError("etcd put \(key): HTTP \(reply.status)") }
    }

    /// One request to member `i`'s gateway, over TLS with `tls`, with `token` (`.some(nil)`:
    /// none; etcd refuses even a login that carries a stale one), by default root's once
    /// `enableAuth` ran, logging in again once when etcd has forgotten it.
    func post(_ i: Int, _ path: String, _ body: String, token: String?? = nil, timeout: Duration = .seconds(2)) throws -> HTTPResponse {
        let address = try SocketAddress(parsing: "127.0.0.1:\(members[i].clientPort)")
        let endpoint = HTTPEndpoint(address, tls: context.map { .init(context: $0, host: "127.0.0.1") })
        func send(_ token: String?) throws -> HTTPResponse {
            try HTTPClient.post(endpoint, path: path, body: Array(body.utf8),
                                headers: token.map { [(name: "Authorization", value: $0)] } ?? [], timeout: timeout)
        }
        if let token { return try send(token) }
        let reply = try send(rootToken)
        guard let rootPassword, String(decoding: reply.body, as: UTF8.self).contains("invalid auth token") else { return reply }
        rootToken = try authenticate("root", rootPassword)
        return try send(rootToken)
    }

    /// Turns etcd v3 auth on, as an operator does with `etcdctl user add`, `role add`, `role
    /// grant-permission`, `user grant-role` and `auth enable`: a `root` user (password
    /// `rootPassword`), and for each of `users` (name → (password, prefix or nil)) a user
    /// whose role of the same name may read and write keys under the prefix (nil: no role).
    func enableAuth(rootPassword: String, users: [String: (password: String, prefix: String?)]) throws {
        func call(_ path: String, _ body: [String: String]) throws {
            let data = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            let reply = try post(0, path, data)
            guard reply.status == 200 else {
                throw HarnessError("etcd \(path): HTTP \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
            }
        }
        try call("/v3/auth/user/add", ["name": "root", "password": rootPassword])
        try call("/v3/auth/role/add", ["name": "root"])
        try call("/v3/auth/user/grant", ["user": "root", "role": "root"])
        for (name, user) in users.sorted(by: { $0.key < $1.key }) {
            try call("/v3/auth/user/add", ["name": name, "password": user.password])
            guard let prefix = user.prefix else { continue }
            try call("/v3/auth/role/add", ["name": name])
            let key = Data(prefix.utf8).base64EncodedString()
            var end = Array(prefix.utf8)
            end[end.count - 1] += 1
            let body: [String: Any] = ["name": name, "perm": ["permType": "READWRITE", "key": key, "range_end": Data(end).base64EncodedString()]]
            let reply = try post(0, "/v3/auth/role/grant", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
            guard reply.status == 200 else { throw HarnessError("etcd role grant \(name): HTTP \(reply.status)") }
            try call("/v3/auth/user/grant", ["user": name, "role": name])
        }
        try call("/v3/auth/enable", [:])
        rootToken = try authenticate("root", rootPassword)
        self.rootPassword = rootPassword
    }

    /// A fresh auth token for `user` from `/v3/auth/authenticate`.
    func authenticate(_ user: String, _ password: String) throws -> String {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: ["name": user, "password": password]), as: UTF8.self)
        let reply = try post(0, "/v3/auth/authenticate", body, token: .some(nil))
        guard let object = try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any],
              let token = object["token"] as? String else {
            throw HarnessError("etcd authenticate \(user): HTTP \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
        }
        return token
    }

    /// Whether etcd still takes `token` (a range under /veer/ with it). Using a simple token
    /// restarts its `--auth-token-ttl`: ask once per token.
    func accepts(token: String) throws -> Bool {
        let body = "{\"key\":\"\(Data("/veer/".utf8).base64EncodedString())\",\"range_end\":\"\(Data("/veer0".utf8).base64EncodedString())\",\"limit\":\"1\"}"
        let reply = try post(0, "/v3/kv/range", body, token: .some(token))
        let text = String(decoding: reply.body, as: UTF8.self)
        guard reply.status == 200 || text.contains("invalid auth token") else { throw HarnessError("etcd range with a token: HTTP \(reply.status) \(text)") }
        return reply.status == 200
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0).
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("bind 127.0.0.1:0: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }
}
