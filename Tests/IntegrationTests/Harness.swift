import Foundation
import Posix
import TestSupport
import Synchronization

/// A harness failure that a person has to read: what went wrong and what was seen.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Where the programs the integration tests run live.
enum Tools {
    /// The `veer` binary: `$VEER_BIN`, else the `veer` next to the running test executable
    /// (`swift test` builds both into `.build/<config>/`).
    static func veer() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["VEER_BIN"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw HarnessError("VEER_BIN=\(path) is not an executable file")
            }
            return path
        }
        var searched: [String] = []
        for start in [CommandLine.arguments.first ?? "", Bundle.main.bundlePath, Bundle.main.executablePath ?? ""]
        where !start.isEmpty {
            var directory = URL(fileURLWithPath: start).standardizedFileURL.deletingLastPathComponent()
            // The test executable may sit inside a bundle directory; a few levels are enough.
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("veer").path
                searched.append(candidate)
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw HarnessError("""
            veer binary not found: set VEER_BIN or run under `swift test` (which builds it next to the tests); \
            looked at \(searched.joined(separator: ", "))
            """)
    }

    /// `dig` from PATH. Never skipped: missing dig is a failure.
    static func dig() throws -> String {
        try onPath("dig") ?? { throw HarnessError("dig not found: apt-get install bind9-dnsutils") }()
    }

    static func onPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// How a finished program ended and what it wrote.
struct ProgramResult {
    let status: Int32
    /// Standard output and standard error, interleaved as written.
    let output: String
    let timedOut: Bool
}

/// A fresh, empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("veer-it-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Writes each zone (file name → text) into `directory`, creating it.
func writeZones(_ zones: [String: String], to directory: URL) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for (name, text) in zones {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }
}

/// Runs `executable` to completion with stdout and stderr in one pipe, killing it after
/// `timeout` (then `timedOut` is true). `directory`: the working directory, if not ours;
/// `input`: a file to read standard input from (else /dev/null).
func runProgram(_ executable: String, _ arguments: [String], in directory: URL? = nil,
                input: String? = nil, timeout: Duration = .seconds(10)) throws -> ProgramResult {
    let process = Foundation.Process()
    process.executableURL = URL(fileURLWithPath: executable)
    if let directory { process.currentDirectoryURL = directory }
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    if let input {
        guard let file = FileHandle(forReadingAtPath: input) else { throw HarnessError("cannot open \(input) for standard input") }
        process.standardInput = file
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    let timedOut = Atomic<Bool>(false)
    let watchdog = DispatchWorkItem { [process] in
        if process.isRunning {
            timedOut.store(true, ordering: .relaxed)
            kill(process.processIdentifier, SIGKILL)
        }
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout.seconds, execute: watchdog)
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    return ProgramResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
                         timedOut: timedOut.load(ordering: .relaxed))
}

/// `veer serve` could not start: its exit status and everything it wrote.
struct StartupFailure: Error, CustomStringConvertible {
    let reason: String
    let stderr: String
    var description: String { "veer serve did not start: \(reason)\n--- stderr ---\n\(stderr)" }
}

/// One running `veer serve` on a port the kernel chose, serving zones written to a fresh
/// temporary directory (`zones/`, with `state/` for runtime weights and the admin socket,
/// and the process's working directory there too, so parallel servers share nothing).
/// Killed when stopped or deinitialised.
final class VeerProcess: @unchecked Sendable {
    /// Seconds to wait for the `listening: udp` line.
    static let startupTimeout = Duration.seconds(10)

    /// The address that `veer serve` reported for UDP (TCP is on the same port).
    let address: SocketAddress
    /// The host part, as dig wants it after `@`.
    let host: String
    var port: UInt16 { address.port }
    /// The temporary directory holding `zones/` and `state/`.
    let root: URL
    /// Where the zone files are: rewrite one and send SIGHUP to reload.
    var zonesDirectory: URL { root.appendingPathComponent("zones", isDirectory: true) }
    /// The default state directory (an `--state-dir` in `extraArguments` overrides it).
    var stateDirectory: URL { root.appendingPathComponent("state", isDirectory: true) }

    private let process: Foundation.Process
    private let log: StderrLog

    /// Writes `zones` (file name → text) and starts
    /// `veer serve --zones TMP/zones --state-dir TMP/state --listen LISTEN EXTRA…` in TMP.
    init(zones: [String: String], listen: String = "127.0.0.1:0", extraArguments: [String] = [],
         environment: [String: String] = [:]) throws {
        let binary = try Tools.veer()
        let directory = try makeTemporaryDirectory()
        let zonesDirectory = directory.appendingPathComponent("zones", isDirectory: true)
        let stateDirectory = directory.appendingPathComponent("state", isDirectory: true)
        try writeZones(zones, to: zonesDirectory)
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        root = directory

        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // Each server gets its own state directory (weights, audit log, admin socket) and
        // works in its own directory, so servers started in parallel share nothing.
        process.currentDirectoryURL = directory
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.arguments = ["serve", "--zones", zonesDirectory.path, "--state-dir", stateDirectory.path,
                             "--listen", listen] + extraArguments
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let log = StderrLog(reading: pipe.fileHandleForReading)
        try process.run()
        self.process = process
        self.log = log

        // Wait for "… info listening: udp ADDRESS:PORT".
        let deadline = ContinuousClock.now + Self.startupTimeout
        var found: String?
        while found == nil {
            found = log.text.split(separator: "\n").lazy.compactMap { line -> String? in
                guard let range = line.range(of: "listening: udp ") else { return nil }
                return String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
            }.first
            if found != nil { break }
            if !process.isRunning {
                process.waitUntilExit()
                log.waitForEOF(timeout: .seconds(2))
                try? FileManager.default.removeItem(at: directory)
                throw StartupFailure(reason: "exited with status \(process.terminationStatus)", stderr: log.text)
            }
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                try? FileManager.default.removeItem(at: directory)
                throw StartupFailure(reason: "no \"listening: udp\" line within \(Self.startupTimeout)", stderr: log.text)
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        let text = found!
        address = try SocketAddress(parsing: text)
        host = address.isIPv6 ? "::1" : String(text[..<text.lastIndex(of: ":")!])
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// Everything the server wrote to stderr so far.
    var stderr: String { log.text }

    /// The first stderr line containing `text`, waiting up to `timeout` for it: lines logged
    /// after `listening: udp` (the metrics listener's, `ready:`) may not be written yet.
    func logLine(containing text: String, timeout: Duration = .seconds(10)) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = log.text.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            guard ContinuousClock.now < deadline, process.isRunning else {
                throw HarnessError("no \"\(text)\" in the server's log within \(timeout):\n\(log.text)")
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
    }

    /// Where `--metrics` serves, from its `listening: metrics http://ADDRESS/metrics` line.
    func metricsAddress() throws -> SocketAddress {
        let line = try logLine(containing: "listening: metrics http://")
        let url = String(line[line.range(of: "http://")!.upperBound...]).replacingOccurrences(of: "/metrics", with: "")
        return try SocketAddress(parsing: url)
    }

    var isRunning: Bool { process.isRunning }

    /// The server's process id, for signals.
    var processIdentifier: Int32 { process.processIdentifier }

    /// SIGTERM, then wait (SIGKILL after 5 s). Returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs dig against this server (`DigResult.asking`).
    func dig(_ arguments: [String]) throws -> DigResult {
        try DigResult.asking(host, port: port, arguments)
    }

    func dig(_ arguments: String...) throws -> DigResult { try dig(arguments) }

    /// One UDP exchange: the first datagram back, or nil after `timeout`.
    func udp(_ query: [UInt8], timeout: Duration = .seconds(2)) throws -> [UInt8]? {
        try DNSClient.udp(query, to: address, timeout: timeout)
    }

    /// Pipelined TCP: all queries in one write, one response read per query.
    func tcp(_ queries: [[UInt8]], timeout: Duration = .seconds(5)) throws -> [[UInt8]] {
        try DNSClient.tcp(queries, to: address, timeout: timeout)
    }
}

/// Collects a child's stderr on its own thread, so the pipe never fills.
private final class StderrLog: Sendable {
    private struct State {
        var data = Data()
        var atEOF = false
    }
    private let state = Mutex(State())

    init(reading handle: FileHandle) {
        let thread = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                state.withLock { $0.data.append(chunk) }
            }
            state.withLock { $0.atEOF = true }
        }
        thread.start()
    }

    var text: String { state.withLock { String(decoding: $0.data, as: UTF8.self) } }

    func waitForEOF(timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while !state.withLock({ $0.atEOF }) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.005) }
    }
}

extension Duration {
    /// As a `TimeInterval`, for Foundation and Dispatch.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
