import Foundation
import Posix

/// An HTTPS gateway for tests: `openssl s_server -www` on 127.0.0.1 with a fresh self-signed
/// certificate for `gw.test` and `127.0.0.1`. It answers every GET with `HTTP/1.0 200 ok` and
/// a status page naming `s_server`. Stopped (and its files removed) when deinitialised.
///
/// Needs `openssl` on PATH; a missing one is a failure, never a skip.
public final class TLSGateway: @unchecked Sendable {
    /// Where a failed start is explained.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The DNS name in the certificate (subject CN and subjectAltName).
    public static let certificateName = "gw.test"
    /// Ports tried before giving up, in case another process takes the free port first.
    public static let attempts = 5
    /// How long s_server may take to start listening.
    public static let startupTimeout = Duration.seconds(10)

    public let port: UInt16
    /// A temporary directory with `cert.pem` and `key.pem`.
    public let directory: String
    /// The certificate, PEM: also the CA file that makes it trusted.
    public var certificate: String { directory + "/cert.pem" }
    public var address: SocketAddress { try! SocketAddress(parsing: "127.0.0.1:\(port)") }

    private let process: Foundation.Process

    public init() throws {
        let openssl = try Self.openssl()
        directory = try FileIO.makeTemporaryDirectory(prefix: "veer-tls-")
        let request = try Self.start(openssl, [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=\(Self.certificateName)",
            "-addext", "subjectAltName=DNS:\(Self.certificateName),IP:127.0.0.1",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem",
        ], log: directory + "/req.log")
        request.process.waitUntilExit()
        guard request.process.terminationStatus == 0 else {
            throw Failure(description: "openssl req exited with \(request.process.terminationStatus): \(request.output())")
        }
        var failures: [String] = []
        for _ in 0..<Self.attempts {
            // A port that was free a moment ago.
            let probe = try LoopbackTCPListener()
            let port = probe.port
            probe.stop()
            let (process, text) = try Self.start(openssl, [
                "s_server", "-accept", "127.0.0.1:\(port)", "-cert", directory + "/cert.pem",
                "-key", directory + "/key.pem", "-www",
            ], log: "\(directory)/s_server-\(port).log")
            // s_server prints ACCEPT once it listens.
            let deadline = ContinuousClock.now + Self.startupTimeout
            while process.isRunning, !text().contains("ACCEPT"), ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
            if process.isRunning, text().contains("ACCEPT") {
                self.port = port
                self.process = process
                return
            }
            Self.kill(process)
            failures.append("port \(port): \(text())")
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw Failure(description: "openssl s_server did not start: \(failures.joined(separator: "; "))")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Ends s_server; later connects are refused.
    public func stop() { Self.kill(process) }

    /// SIGKILL, not `terminate()`: children inherit the test runner's blocked signals, and
    /// s_server would never see a SIGTERM.
    private static func kill(_ process: Foundation.Process) {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// `openssl` from PATH.
    public static func openssl() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/openssl") {
            return "\(directory)/openssl"
        }
        throw Failure(description: "openssl not found: apt-get install openssl")
    }

    /// Starts `executable` (in `directory` when given) with stdout and stderr going to the file `log` (a file, not a pipe:
    /// nothing has to drain it); `output` reads what it wrote so far.
    static func start(_ executable: String, _ arguments: [String], in directory: String? = nil,
                      log: String) throws -> (process: Foundation.Process, output: () -> String) {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? file.close() }
        process.standardOutput = file
        process.standardError = file
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" })
    }
}
