import Foundation
import Posix
import TestSupport

/// A signed zone served by a real `veer serve --keys`: keys made with `veer keys generate`,
/// the DS read back with `veer keys ds` (README "DNSSEC").
final class SignedServer: @unchecked Sendable {
    /// Where the keys live (outside the server's directory, so a restart keeps them).
    let keys: URL
    let state: URL
    let zone: String
    var server: VeerProcess

    /// Makes a key for `zone` in a new directory and starts a server of `zones` with it.
    init(zones: [String: String], zone: String = "example.com", extraArguments: [String] = []) throws {
        let directory = try makeTemporaryDirectory()
        keys = directory.appendingPathComponent("keys", isDirectory: true)
        state = directory.appendingPathComponent("state", isDirectory: true)
        self.zone = zone
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let made = try Self.keysCommand(["generate", zone, "--dir", keys.path])
        guard made.status == 0 else { throw HarnessError("veer keys generate: \(made.output)") }
        server = try VeerProcess(zones: zones, extraArguments: ["--keys", keys.path, "--state-dir", state.path, "--rrl-rate", "0"] + extraArguments)
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(at: keys.deletingLastPathComponent())
    }

    /// `veer keys WORDS…`.
    static func keysCommand(_ words: [String]) throws -> ProgramResult {
        try runProgram(try Tools.veer(), ["keys"] + words, timeout: .seconds(20))
    }

    /// The zone's DS records as `veer keys ds` prints them, each as `KEYTAG ALG DIGESTTYPE HEX`.
    func dsRecords() throws -> [String] {
        let printed = try Self.keysCommand(["ds", zone, "--dir", keys.path])
        guard printed.status == 0 else { throw HarnessError("veer keys ds: \(printed.output)") }
        return printed.output.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix(";") else { return nil }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let at = fields.firstIndex(of: "DS"), fields.count >= at + 5 else { return nil }
            return fields[(at + 1)...(at + 4)].joined(separator: " ")
        }
    }

    /// `veer --admin … WORDS…` against this server.
    func admin(_ words: String...) throws -> ProgramResult {
        try runProgram(try Tools.veer(), ["--admin", state.path + "/admin.sock"] + words, timeout: .seconds(30))
    }

    /// Stops the server and starts it again on the same keys and state (the signature cache).
    func restart(zones: [String: String], extraArguments: [String] = []) throws {
        server.stop()
        server = try VeerProcess(zones: zones, extraArguments: ["--keys", keys.path, "--state-dir", state.path, "--rrl-rate", "0"] + extraArguments)
    }
}

/// A real Unbound validating through a stub zone to Veer: `trust-anchor:` the zone's DS,
/// nothing kept past its second (`cache-max-ttl: 0`; `flush` empties the cache for queries
/// asked faster, through `unbound-control` on a loopback port), no skew allowed on signature times (`val-sig-skew-*: 0`, so an expired
/// signature fails), `do-not-query-localhost: no`, ECS sent to Veer (`subnetcache`).
final class UnboundProcess: @unchecked Sendable {
    let port: UInt16
    let directory: URL
    private let process: Spawned
    private let conf: URL

    /// Starts `unbound -d -c CONF` on a free loopback port, trusting `ds` (each
    /// `KEYTAG ALG DIGESTTYPE HEX`) for `zone`, with a stub zone to `veerPort`.
    init(zone: String, ds: [String], veerPort: UInt16) throws {
        guard let binary = Tools.onPath("unbound") ?? ["/usr/sbin/unbound"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError("unbound not found: apt-get install unbound")
        }
        directory = try makeTemporaryDirectory()
        conf = directory.appendingPathComponent("unbound.conf")
        var lastError = ""
        for _ in 0..<5 {
            let port = try EtcdCluster.freePort(), controlPort = try EtcdCluster.freePort()
            try Self.configuration(port: port, controlPort: controlPort, zone: zone, ds: ds, veerPort: veerPort, directory: directory.path)
                .write(to: conf, atomically: true, encoding: .utf8)
            let log = directory.appendingPathComponent("unbound-\(port).log").path
            let process = try Spawned(binary, ["-d", "-c", conf.path], logPath: log)
            do {
                try process.waitForLog("start of service", timeout: .seconds(15))
                self.port = port
                self.process = process
                return
            } catch {
                lastError = "\(error)"
                process.stop()
            }
        }
        throw HarnessError("unbound did not start: \(lastError)")
    }

    deinit {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    static func configuration(port: UInt16, controlPort: UInt16, zone: String, ds: [String], veerPort: UInt16, directory: String) -> String {
        """
        server:
          interface: 127.0.0.1@\(port)
          port: \(port)
          do-daemonize: no
          use-syslog: no
          logfile: ""
          username: ""
          chroot: ""
          directory: "\(directory)"
          pidfile: ""
          do-ip6: no
          do-not-query-localhost: no
          access-control: 127.0.0.0/8 allow
          module-config: "subnetcache validator iterator"
          send-client-subnet: 127.0.0.1
          val-log-level: 2
          verbosity: 1
          cache-max-ttl: 0
          cache-max-negative-ttl: 0
          val-sig-skew-min: 0
          val-sig-skew-max: 0
        \(ds.map { "  trust-anchor: \"\(zone). DS \($0)\"" }.joined(separator: "\n"))
        remote-control:
          control-enable: yes
          control-interface: 127.0.0.1
          control-port: \(controlPort)
          control-use-cert: no
        stub-zone:
          name: "\(zone)"
          stub-addr: 127.0.0.1@\(veerPort)
        """
    }

    /// What Unbound logged (validation failures at `val-log-level: 2`).
    var log: String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".log") }.compactMap { try? String(contentsOfFile: directory.path + "/" + $0, encoding: .utf8) }
            .joined(separator: "\n")
    }

    /// `unbound-control flush_zone ZONE`: the next query of any name there reaches Veer.
    func flush(_ zone: String) throws {
        guard let control = Tools.onPath("unbound-control") ?? ["/usr/sbin/unbound-control"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError("unbound-control not found: apt-get install unbound")
        }
        let result = try runProgram(control, ["-c", conf.path, "flush_zone", zone], timeout: .seconds(10))
        guard result.status == 0 else { throw HarnessError("unbound-control flush_zone \(zone): \(result.output)") }
    }

    /// `dig @127.0.0.1 -p PORT +dnssec ARGUMENTS` through this resolver (recursion desired).
    func dig(_ arguments: String...) throws -> DigResult {
        try DigResult.asking("127.0.0.1", port: port, ["+rec", "+dnssec"] + arguments)
    }
}

/// `delv @127.0.0.1 -p PORT -a ANCHORS +root=ZONE NAME TYPE` straight to Veer: BIND's
/// validator, trusting the zone's DS (`trust-anchors { ZONE static-ds … }`).
struct Delv {
    let anchors: URL
    let zone: String
    let port: UInt16

    init(zone: String, ds: [String], port: UInt16, directory: URL) throws {
        guard Tools.onPath("delv") != nil else { throw HarnessError("delv not found: apt-get install bind9-dnsutils") }
        anchors = directory.appendingPathComponent("anchors.conf")
        let lines = ds.map { record -> String in
            let fields = record.split(separator: " ")
            return "  \(zone). static-ds \(fields[0]) \(fields[1]) \(fields[2]) \"\(fields[3])\";"
        }
        try "trust-anchors {\n\(lines.joined(separator: "\n"))\n};\n".write(to: anchors, atomically: true, encoding: .utf8)
        self.zone = zone
        self.port = port
    }

    /// delv's output for `name type`; validated answers say `; fully validated`, proven
    /// negative ones `; negative response, fully validated`.
    func validate(_ name: String, _ type: String) throws -> String {
        let result = try runProgram(Tools.onPath("delv")!, ["@127.0.0.1", "-p", "\(port)", "-a", anchors.path, "+root=\(zone)", name, type],
                                    timeout: .seconds(20))
        return result.output
    }
}
