import Foundation
import Glibc
import Posix
import Synchronization
import Testing
import TestSupport

/// A cluster an operator can trust (README "The expected cluster"): one live server per
/// `--server-id`, the servers `--cluster` expects counted by `--wait`, `status` and the health
/// quorum, and the same zones everywhere, checked by digest. Real etcd, real servers, dig and curl.
@Suite(.serialized)
struct ClusterTests {
    typealias Fleet = SharedStoreTests.Fleet

    /// The zone of the other shared-store tests with `www` moved: the same serial, other data.
    static let otherZone = SharedStoreTests.zone.replacingOccurrences(of: "www  IN A   192.0.2.10", with: "www  IN A   192.0.2.99")
    /// The next version every server is given in the reload tests.
    static let nextZone = SharedStoreTests.zone.replacingOccurrences(of: "2026112301", with: "2026112302")
        .replacingOccurrences(of: "www  IN A   192.0.2.10", with: "www  IN A   192.0.2.11")

    /// `veer status --json`'s `cluster` object on server `i`.
    static func cluster(_ fleet: Fleet, _ i: Int) throws -> [String: Any] {
        let text = try fleet.veer(i, "status", "--json").output
        let object = try JSONSerialization.jsonObject(with: Data(text.dropFirst(text.hasPrefix("ok\n") ? 3 : 0).utf8)) as? [String: Any]
        return try #require(object?["cluster"] as? [String: Any], "\(text)")
    }

    /// Writes `text` as server `i`'s example.com zone (it serves it after a `reload`).
    static func rewrite(_ fleet: Fleet, _ i: Int, _ text: String) throws {
        try writeZones(["example.com.zone": text], to: fleet.servers[i].zonesDirectory)
    }

    @Test func aDuplicateServerIDIsRefusedAtStartNamingTheHolder() throws {
        let fleet = try Fleet(servers: 1)
        let holder = fleet.servers[0].processIdentifier
        let state = try FileIO.makeTemporaryDirectory(prefix: "veer-shared-")
        let started = ContinuousClock.now
        do {
            _ = try VeerProcess(zones: ["example.com.zone": SharedStoreTests.zone],
                                extraArguments: ["--state-dir", state, "--store", "etcd=\(fleet.etcd.clientURLs)", "--server-id", "a"])
            Issue.record("a second server with --server-id a started while a holds it")
        } catch let failure as StartupFailure {
            #expect(failure.reason.hasPrefix("exited with status"), "\(failure)")
            #expect(failure.stderr.contains("--server-id a is held by a live server: host "), "\(failure)")
            #expect(failure.stderr.contains("pid \(holder) started at "), "the holder's pid is named: \(failure)")
            #expect(ContinuousClock.now - started < .seconds(8), "refused once the holder renewed, not after a long wait")
        }
        // The holder is untouched: still the one live server a.
        let cluster = try Self.cluster(fleet, 0)
        #expect(cluster["live"] as? [String] == ["a"])
        let servers = try #require(cluster["servers"] as? [[String: Any]])
        #expect(servers.first?["pid"] as? Int == Int(holder), "\(servers)")
        #expect(fleet.servers[0].isRunning)
    }

    @Test func aRestartAfterAKillTakesItsIDOnceItsLeaseRunsOut() throws {
        let fleet = try Fleet(servers: 2, extra: ["--cluster", "a,b"])
        kill(fleet.servers[0].processIdentifier, SIGKILL)
        // At once, while the killed run's registration still stands: the new run waits out
        // its lease (nobody renews it) instead of refusing.
        fleet.servers[0] = try fleet.start(0)
        _ = try fleet.servers[0].logLine(containing: "--server-id a is free again; registered")
        let pid = Int(fleet.servers[0].processIdentifier)
        _ = try fleet.waitForStatus(1) { _ in
            ((try? Self.cluster(fleet, 1))?["servers"] as? [[String: Any]])?.contains { $0["id"] as? String == "a" && $0["pid"] as? Int == pid } == true
        }
        let status = try fleet.veer(1, "status").output
        #expect(status.contains("cluster: expected a, b; live a, b\n"), "\(status)")
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait")
        #expect(shift.status == 0, "\(shift.output)")
        #expect(shift.output.contains("served by all 2 expected servers at revision"), "\(shift.output)")
    }

    @Test func aDeadExpectedServerIsNamedByWaitStatusAndMetrics() throws {
        let fleet = try Fleet(servers: 3, extra: ["--cluster", "a,b,c", "--metrics", "127.0.0.1:0"])
        kill(fleet.servers[2].processIdentifier, SIGKILL)
        let status = try fleet.waitForStatus(0, timeout: .seconds(15)) { $0.contains("MISSING c") }
        #expect(status.contains("cluster: expected a, b, c; live a, b; MISSING c"), "\(status)")
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait")
        #expect(shift.status != 0, "\(shift.output)")
        #expect(shift.output.hasPrefix("error: the change is saved"), "\(shift.output)")
        #expect(shift.output.contains("c (missing: not registered)"), "\(shift.output)")
        #expect(!shift.output.contains("b (") && !shift.output.contains("b at revision"), "b serves it: \(shift.output)")
        let cluster = try Self.cluster(fleet, 1)
        #expect(cluster["expected"] as? [String] == ["a", "b", "c"])
        #expect(cluster["live"] as? [String] == ["a", "b"])
        #expect(cluster["missing"] as? [String] == ["c"])
        let metrics = try PrometheusText(parsing: scrapeWithCurl(try fleet.servers[0].metricsAddress()))
        #expect(metrics.value("veer_cluster_servers", ["state": "expected"]) == 3)
        #expect(metrics.value("veer_cluster_servers", ["state": "live"]) == 2)
        #expect(metrics.value("veer_cluster_servers", ["state": "missing"]) == 1)
    }

    @Test func aServerServingOtherZoneContentsIsFlaggedUntilItReloads() throws {
        let zones = [SharedStoreTests.zone, SharedStoreTests.zone, Self.otherZone]
        let fleet = try Fleet(servers: 3, zones: zones, extra: ["--cluster", "a,b,c", "--metrics", "127.0.0.1:0"])
        let status = try fleet.waitForStatus(0) { $0.contains("zones DIFFER on c") }
        #expect(status.contains("zones DIFFER on c: not serving what the other servers serve"), "\(status)")
        #expect(status.contains("zones DIFFER: example.com. serial 2026112301 sha256 "), "\(status)")
        #expect(status.contains(" on a, b; serial 2026112301 sha256 "), "the same serial, other data: \(status)")
        let json = try Self.cluster(fleet, 1)
        #expect(json["zonesDifferOn"] as? [String] == ["c"], "\(json)")
        let metrics = try PrometheusText(parsing: scrapeWithCurl(try fleet.servers[0].metricsAddress()))
        #expect(metrics.value("veer_cluster_zones_differ", ["server": "c"]) == 1)
        #expect(metrics.value("veer_cluster_zones_differ", ["server": "a"]) == 0)
        #expect(metrics.value("veer_cluster_zone_mismatch", ["zone": "example.com."]) == 1)

        let refused = try fleet.veer(0, "reload", "--wait")
        #expect(refused.status != 0, "\(refused.output)")
        #expect(refused.output.hasPrefix("error: reloaded here, but after"), "\(refused.output)")
        #expect(refused.output.contains("c (example.com. serial 2026112301 sha256 "), "\(refused.output)")
        #expect(!refused.output.contains("b ("), "\(refused.output)")

        // c given the zone the others serve: the flag goes, on status and metrics.
        try Self.rewrite(fleet, 2, SharedStoreTests.zone)
        #expect(try fleet.veer(2, "reload").status == 0)
        let agreed = try fleet.veer(0, "reload", "--wait")
        #expect(agreed.status == 0, "\(agreed.output)")
        #expect(agreed.output.contains("the same zones on all 3 expected servers after"), "\(agreed.output)")
        let clean = try fleet.waitForStatus(1) { !$0.contains("DIFFER") && $0.contains("zones: the same on all 3 servers") }
        #expect(clean.contains("zones: the same on all 3 servers that published them (example.com. serial 2026112301 sha256 "), "\(clean)")
        let after = try PrometheusText(parsing: scrapeWithCurl(try fleet.servers[0].metricsAddress()))
        #expect(after.value("veer_cluster_zones_differ", ["server": "c"]) == 0)
        #expect(after.value("veer_cluster_zone_mismatch", ["zone": "example.com."]) == 0)
    }

    @Test func aServerSigningWithOtherKeysIsFlaggedUntilItHasTheSameKeys() throws {
        let shared = try FileIO.makeTemporaryDirectory(prefix: "veer-keys-")
        let other = try FileIO.makeTemporaryDirectory(prefix: "veer-keys-")
        defer { for dir in [shared, other] { try? FileManager.default.removeItem(atPath: dir) } }
        for dir in [shared, other] {
            let made = try SignedServer.keysCommand(["generate", "example.com", "--dir", dir])
            #expect(made.status == 0, "\(made.output)")
        }
        let tag = { (dir: String) throws -> String in
            try #require(try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".private") }?
                .split(separator: "+").last?.split(separator: ".").first.map(String.init))
        }
        let sharedTag = try tag(shared), otherTag = try tag(other)
        let fleet = try Fleet(servers: 3, extra: ["--cluster", "a,b,c"], each: [["--keys", shared], ["--keys", shared], ["--keys", other]])
        let status = try fleet.waitForStatus(0) { $0.contains("zones DIFFER on c") }
        #expect(status.contains(" keys \(sharedTag) on a, b; serial 2026112301 sha256 "), "the same data, other keys: \(status)")
        #expect(status.contains(" keys \(otherTag) on c"), "\(status)")
        #expect(status.contains("dnssec: example.com. key \(sharedTag) ecdsap256sha256 active since "), "\(status)")

        // c given a copy of the keys the others sign with: the flag goes.
        for file in try FileManager.default.contentsOfDirectory(atPath: other) {
            try FileManager.default.removeItem(atPath: other + "/" + file)
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: shared) {
            try FileManager.default.copyItem(atPath: shared + "/" + file, toPath: other + "/" + file)
        }
        #expect(try fleet.veer(2, "reload").status == 0)
        let clean = try fleet.waitForStatus(1) { !$0.contains("DIFFER") && $0.contains("zones: the same on all 3 servers") }
        #expect(clean.contains(" keys \(sharedTag))"), "\(clean)")
    }

    @Test func reloadWaitReturnsOnceEveryExpectedServerServesTheNewZones() throws {
        let fleet = try Fleet(servers: 3, extra: ["--cluster", "a,b,c"])
        _ = try fleet.waitForStatus(0) { $0.contains("zones: the same on all 3 servers") }
        for i in 0..<3 { try Self.rewrite(fleet, i, Self.nextZone) }
        // a reloads and waits while b and c reload after it.
        let result = Mutex<ProgramResult?>(nil)
        let group = DispatchGroup()
        let admin = fleet.states[0] + "/admin.sock"
        DispatchQueue.global().async(group: group) {
            let reply = try? runProgram(try Tools.veer(), ["--admin", admin, "reload", "--wait"])
            result.withLock { $0 = reply }
        }
        for i in 1..<3 { #expect(try fleet.veer(i, "reload").status == 0) }
        group.wait()
        let reply = try #require(result.withLock { $0 })
        #expect(reply.status == 0, "\(reply.output)")
        #expect(reply.output.hasPrefix("ok reloaded, generation"), "\(reply.output)")
        #expect(reply.output.contains("the same zones on all 3 expected servers after"), "\(reply.output)")
        for i in 0..<3 {
            #expect(try fleet.servers[i].dig("A", "www.example.com").answer.joined().contains("192.0.2.11"), "server \(fleet.ids[i])")
        }
        let status = try fleet.veer(2, "status").output
        #expect(status.contains("zones: the same on all 3 servers that published them (example.com. serial 2026112302 sha256 "), "\(status)")
    }

    /// Two of three live servers see the new gateway down: counted against the live servers
    /// that is a quorum (2 of 3), against `--cluster` of five it is not (2 of 5). When all
    /// three see it down (3 of 5) it is drained and rolled back, and the reason says of what.
    @Test func quorumHealthCountsAgainstTheExpectedServers() throws {
        let old = try LoopbackHTTPServer(), new = try LoopbackHTTPServer()
        old.set(status: 200, body: "ok")
        new.set(status: 200, body: "ok")
        // a and b probe the new gateway on a port where nothing listens.
        let broken = try EtcdCluster.freePort()
        let zones = Array(repeating: HealthTests.zone(oldPort: old.port, newPort: broken, maxLatency: nil), count: 2)
            + [HealthTests.zone(oldPort: old.port, newPort: new.port, maxLatency: nil)]
        let fleet = try Fleet(zones: zones, extra: ["--cluster", "a,b,c,d,e"])
        #expect(try fleet.veer(2, "shift", "api.example.com", "new", "25%").status == 0)
        for i in 0..<3 { #expect(try fleet.waitForWeight(i, "new", 25) != nil, "server \(fleet.ids[i]) serves the shift") }
        // An absence can only be watched for a while: a and b see new down after
        // fall × interval and publish it within a beat; 2 of 5 is no quorum.
        Thread.sleep(forTimeInterval: Double(HealthTests.fall * HealthTests.interval) / 1000 + 1.5)
        for i in 0..<3 {
            let txt = try fleet.servers[i].dig("TXT", "_veer.api.example.com").answer.joined()
            #expect(txt.contains("endpoint=new weight=25 effective=25"), "server \(fleet.ids[i]): \(txt)")
        }
        new.set(status: 503, body: "down")
        for i in 0..<3 { #expect(try fleet.waitForWeight(i, "new", 0, timeout: .seconds(10)) != nil, "server \(fleet.ids[i]) rolled back") }
        var history = ""
        let deadline = ContinuousClock.now + .seconds(5)
        while !history.contains("expected servers (3 live)") && ContinuousClock.now < deadline {
            history = try fleet.veer(2, "history", "api.example.com", "200").output
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(history.contains("down on 3 of 5 expected servers (3 live)"), "\(history)")
    }
}
