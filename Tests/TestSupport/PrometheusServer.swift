import Foundation
import Glibc
import Posix

/// A real Prometheus for tests: the `prometheus` binary (Debian's package) on a free loopback
/// port, with a temporary configuration that scrapes the given targets every `scrapeInterval`
/// and a temporary data directory. Never a mock.
///
/// `stop()` ends it (SIGTERM, then waits) and `start()` brings it back on the same port and
/// data directory, so a test can take Prometheus away in the middle of a rollout. The process
/// is killed and the directory removed when the last reference goes away.
public final class PrometheusServer: @unchecked Sendable {
    /// How long Prometheus may take to answer `/-/ready` after starting.
    public static let startupTimeout: Duration = .seconds(20)
    /// Ports tried when the one picked was taken between the pick and Prometheus's bind.
    static let portAttempts = 5

    /// The port Prometheus listens on.
    public private(set) var port: UInt16 = 0
    /// `127.0.0.1:<port>`.
    public var address: SocketAddress { try! SocketAddress(parsing: "127.0.0.1:\(port)") }
    /// The temporary directory with `prometheus.yml`, `data/` and `prometheus.log`.
    public let directory: String
    private let binary: String
    private let lock = NSLock()
    private var process: Foundation.Process?

    /// Writes the configuration and starts Prometheus scraping `targets` (`127.0.0.1:PORT`),
    /// then waits until it is ready.
    ///
    /// - Throws: `PrometheusServer.Failure` when `prometheus` is not installed (install
    ///   Debian's `prometheus` package), or does not become ready.
    public init(targets: [String], scrapeInterval: String = "1s") throws {
        binary = try Self.binary(searching: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("veer-prometheus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let quoted = targets.map { "'\($0)'" }.joined(separator: ", ")
        let config = """
            global:
              scrape_interval: \(scrapeInterval)
              scrape_timeout: \(scrapeInterval)
              evaluation_interval: \(scrapeInterval)
            scrape_configs:
              - job_name: gateways
                static_configs:
                  - targets: [\(quoted)]

            """
        try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        var lastError: Error?
        for _ in 0..<Self.portAttempts {
            port = try Self.freePort()
            do {
                try start()
                return
            } catch {
                lastError = error
                stop()
            }
        }
        throw lastError ?? Failure("prometheus did not start")
    }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts Prometheus (again) on `port` and the same data directory, and waits until
    /// `/-/ready` answers 200. Does nothing when it is running.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        if let process, process.isRunning { return }
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ]
        _ = FileManager.default.createFile(atPath: directory + "/prometheus.log", contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/prometheus.log")
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        try waitReady(process)
    }

    /// Ends Prometheus with SIGTERM (it closes its database) and waits for it to exit. Queries
    /// fail with ECONNREFUSED until `start()`. Calling it again does nothing.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard let process else { return }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        self.process = nil
    }

    /// Instant queries Prometheus has answered since it (last) started, from its own
    /// `prometheus_http_requests_total{handler="/api/v1/query"}`, all status codes.
    public func queryRequestCount() throws -> Int {
        let reply = try HTTPClient.get(address, path: "/metrics", timeout: .seconds(5))
        guard reply.status == 200 else { throw Failure("prometheus /metrics: HTTP \(reply.status)") }
        var total = 0.0
        for line in String(decoding: reply.body, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("prometheus_http_requests_total{") && line.contains("handler=\"/api/v1/query\"") {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { total += value }
        }
        return Int(total)
    }

    /// The end of Prometheus's log, for failure messages.
    public func logTail() -> String {
        let text = (try? String(contentsOfFile: directory + "/prometheus.log", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(10).joined(separator: "\n")
    }

    private func waitReady(_ process: Foundation.Process) throws {
        let deadline = ContinuousClock.now + Self.startupTimeout
        var last = ""
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                throw Failure("prometheus exited (status \(process.terminationStatus)) before it was ready on port \(port):\n\(logTail())")
            }
            do {
                let reply = try HTTPClient.get(address, path: "/-/ready", timeout: .seconds(1))
                if reply.status == 200 { return }
                last = "HTTP \(reply.status)"
            } catch {
                last = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw Failure("prometheus not ready on port \(port) within \(Self.startupTimeout): \(last)\n\(logTail())")
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0).
    /// Another process may take it before Prometheus binds it: `init` then tries another.
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure("bind 127.0.0.1:0: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// The `prometheus` executable in one of the directories of `path` (as in `PATH`).
    ///
    /// - Throws: `Failure` naming the missing tool and its package.
    public static func binary(searching path: String) throws -> String {
        let found = path.split(separator: ":").map { "\($0)/prometheus" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let found else {
            throw Failure("prometheus is missing: the analysis tests need a real Prometheus (apt-get install prometheus)")
        }
        return found
    }

    /// Why the test Prometheus could not be started or read.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong, for the test's failure message.
        public let description: String
        /// A failure saying `description`.
        public init(_ description: String) { self.description = description }
    }
}
