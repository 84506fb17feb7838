import Foundation
import Glibc
import Posix
import TestSupport

/// A real etcd (Debian's `etcd-server`) for the shared-store tests: one member or several,
/// on free loopback ports, with temporary data directories. Never a mock. Members can be
/// stopped and started again (same data); everything is killed and removed at deinit.
final class EtcdCluster: @unchecked Sendable {
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

    /// `http://127.0.0.1:PORT,…`, as `veer serve --store etcd=` takes it.
    var clientURLs: String { members.map { "http://127.0.0.1:\($0.clientPort)" }.joined(separator: ",") }

    init(members count: Int = 1) throws {
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
        process.arguments = [
            "--name", member.name, "--data-dir", member.dataDirectory,
            "--listen-client-urls", "http://127.0.0.1:\(member.clientPort)",
            "--advertise-client-urls", "http://127.0.0.1:\(member.clientPort)",
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
        let address = try SocketAddress(parsing: "127.0.0.1:\(members[i].clientPort)")
        let deadline = ContinuousClock.now + Self.startupTimeout
        var last = ""
        while ContinuousClock.now < deadline {
            do {
                let reply = try HTTPClient.post(address, path: "/v3/kv/range", body: Array("{\"key\":\"AA==\"}".utf8), timeout: .seconds(1))
                if reply.status == 200 { return }
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
        let address = try SocketAddress(parsing: "127.0.0.1:\(members[0].clientPort)")
        let body = "{\"key\":\"\(Data(key.utf8).base64EncodedString())\",\"value\":\"\(Data(value.utf8).base64EncodedString())\"}"
        let reply = try HTTPClient.post(address, path: "/v3/kv/put", body: Array(body.utf8), timeout: .seconds(2))
        guard reply.status == 200 else { throw HarnessError("etcd put \(key): HTTP \(reply.status)") }
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
