import Foundation
import Glibc
import Posix
import Synchronization
import Testing
import TestSupport

/// Several real Veer servers sharing one migration through a real etcd: a shift made on one
/// is answered by all, concurrent changes conflict cleanly, a rollout survives its leader,
/// health is a quorum's verdict, and etcd going away loses nothing.
@Suite(.serialized)
struct SharedStoreTests {
    /// The weighted name api.example.com, old=100 new=0, as the single-server tests serve it.
    static let zone = WeightsTests.zone

    /// Veer servers `a`, `b`, `c`… on one etcd, each with its own state directory.
    final class Fleet: @unchecked Sendable {
        let etcd: EtcdCluster
        var servers: [VeerProcess] = []
        let states: [String]
        let zones: [String]
        let ids: [String]
        /// More `veer serve` arguments for every server.
        let extra: [String]

        /// More `veer serve` arguments for server i (`each[i]`, when given).
        let each: [[String]]

        init(servers count: Int = 3, etcdMembers: Int = 1, zones: [String]? = nil, extra: [String] = [], each: [[String]] = []) throws {
            self.extra = extra
            self.each = each
            etcd = try EtcdCluster(members: etcdMembers)
            ids = (0..<count).map { String(UnicodeScalar(UInt8(97 + $0))) }
            states = try (0..<count).map { _ in try FileIO.makeTemporaryDirectory(prefix: "veer-shared-") }
            self.zones = zones ?? Array(repeating: SharedStoreTests.zone, count: count)
            for i in 0..<count { servers.append(try start(i)) }
        }

        func start(_ i: Int) throws -> VeerProcess {
            try VeerProcess(zones: ["example.com.zone": zones[i]],
                            extraArguments: ["--state-dir", states[i], "--store", "etcd=\(etcd.clientURLs)", "--server-id", ids[i]] + extra + (i < each.count ? each[i] : []))
        }

        func veer(_ i: Int, _ words: String...) throws -> ProgramResult {
            try runProgram(try Tools.veer(), ["--admin", states[i] + "/admin.sock"] + words)
        }

        /// `endpoint=new weight=W …` from `dig TXT _veer.api.example.com` on server `i`.
        func weight(_ i: Int, _ endpoint: String) throws -> Int? {
            let txt = try servers[i].dig("TXT", "_veer.api.example.com")
            for line in txt.answer {
                guard let range = line.range(of: "endpoint=\(endpoint) weight=") else { continue }
                return Int(line[range.upperBound...].prefix { $0.isNumber })
            }
            return nil
        }

        /// Until server `i` answers `endpoint` with `weight`, for up to `timeout`; the time it took.
        func waitForWeight(_ i: Int, _ endpoint: String, _ weight: Int, timeout: Duration = .seconds(5)) throws -> Duration? {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < timeout {
                if try self.weight(i, endpoint) == weight { return ContinuousClock.now - start }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return nil
        }

        /// Until `veer status` on server `i` satisfies `done`.
        func waitForStatus(_ i: Int, timeout: Duration = .seconds(10), _ done: (String) -> Bool) throws -> String {
            let deadline = ContinuousClock.now + timeout
            var last = ""
            while ContinuousClock.now < deadline {
                last = try veer(i, "status").output
                if done(last) { return last }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return last
        }
    }

    @Test func aShiftOnOneServerIsAnsweredByEveryServerWithinASecond() throws {
        let fleet = try Fleet()
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "25%", "--wait")
        #expect(shift.status == 0, "\(shift.output)")
        #expect(shift.output.contains("served by all 3 live servers at revision"), "\(shift.output)")
        for i in 1...2 {
            let took = try fleet.waitForWeight(i, "new", 25, timeout: .seconds(1))
            #expect(took != nil, "server \(fleet.ids[i]) did not answer new=25 within 1 s")
        }
        let status = try fleet.veer(2, "status").output
        #expect(status.contains("store: etcd http://127.0.0.1:"), "\(status)")
        for id in fleet.ids { #expect(status.contains("\n\(id)  "), "server \(id) listed: \(status)") }
        // The audit log is the store's: any server shows the change.
        let history = try fleet.veer(1, "history", "api.example.com").output
        #expect(history.contains("new 0 -> 25 reason=\"shift api.example.com new 25%\""), "\(history)")
    }

    @Test func concurrentShiftsOfOneNameGetOneOkAndOneConflictAndLoseNothing() throws {
        let fleet = try Fleet(servers: 2)
        var accepted: [String] = [], refused: [String] = []
        var conflicts = 0
        // Two operators on two servers, at the same moment; rounds until the two overlap.
        for round in 0..<20 where conflicts == 0 {
            let lines = ["shift api.example.com new \(10 + 2 * round)%", "shift api.example.com new \(11 + 2 * round)%"]
            let results = Mutex<[Int: ProgramResult]>([:])
            let group = DispatchGroup()
            // Both servers held (SIGSTOP) while both commands queue on their admin sockets,
            // then released together: each prepares its change from the same revision.
            let pids = fleet.servers.map(\.processIdentifier)
            for pid in pids { kill(pid, SIGSTOP) }
            for i in 0..<2 {
                let admin = fleet.states[i] + "/admin.sock"
                DispatchQueue.global().async(group: group) {
                    let words = lines[i].split(separator: " ").map(String.init)
                    let result = try? runProgram(try Tools.veer(), ["--admin", admin] + words)
                    results.withLock { $0[i] = result }
                }
            }
            Thread.sleep(forTimeInterval: 0.2)
            for pid in pids { kill(pid, SIGCONT) }
            group.wait()
            let all = results.withLock { $0 }
            let oks = (0..<2).filter { all[$0]?.status == 0 }
            accepted += oks.map { lines[$0] }
            guard oks.count < 2 else {
                // Both saved, one after the other: let both servers serve the last one before
                // the next round, so each round starts from one revision.
                _ = try fleet.waitForStatus(0) { mine in (try? fleet.veer(1, "status").output).map { Self.revision($0) == Self.revision(mine) } ?? false }
                continue
            }
            conflicts += 1
            #expect(oks.count == 1, "\(all.mapValues { $0.output })")
            guard let winner = oks.first else { break }
            let loser = 1 - winner
            refused.append(lines[loser])
            let text = all[loser]?.output ?? ""
            #expect(text.hasPrefix("error: conflict: the shared state changed first"), "\(text)")
            #expect(text.contains("on \(fleet.ids[winner]): \"\(lines[winner])\""), "the conflict says who won: \(text)")
            let expected = 10 + 2 * round + winner
            for i in 0..<2 { #expect(try fleet.waitForWeight(i, "new", expected) != nil, "the winner's weights everywhere") }
        }
        #expect(conflicts == 1, "20 rounds of simultaneous shifts on two servers never overlapped")
        // Every accepted change is in the audit log exactly once; the refused one is not.
        let history = try fleet.veer(1, "history", "api.example.com", "200").output
        for line in accepted { #expect(history.components(separatedBy: "reason=\"\(line)\"").count - 1 == 2, "\(line): \(history)") }
        for line in refused { #expect(!history.contains("reason=\"\(line)\""), "refused, yet audited: \(line)") }
    }

    @Test func withEtcdDownServersKeepAnsweringRefuseChangesAndResyncWhenItReturns() throws {
        let fleet = try Fleet(servers: 2)
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "20%", "--wait").status == 0)
        fleet.etcd.stop(0)
        // Answers go on with the last weights.
        for i in 0..<2 { #expect(try fleet.weight(i, "new") == 20) }
        let refused = try fleet.veer(1, "shift", "api.example.com", "new", "40%")
        #expect(refused.status != 0 && refused.output.contains("unreachable"), "\(refused.output)")
        let status = try fleet.waitForStatus(1) { $0.contains("UNREACHABLE since") }
        #expect(status.contains("UNREACHABLE since"), "\(status)")

        // A server restarted while etcd is down serves its local copy.
        fleet.servers[0].stop()
        fleet.servers[0] = try fleet.start(0)
        #expect(try fleet.weight(0, "new") == 20)

        try fleet.etcd.start(0)
        _ = try fleet.waitForStatus(1) { $0.contains("reachable since") && !$0.contains("UNREACHABLE") }
        let again = try fleet.veer(1, "shift", "api.example.com", "new", "40%", "--wait")
        #expect(again.status == 0, "a change works again without restarting Veer: \(again.output)")
        for i in 0..<2 { #expect(try fleet.waitForWeight(i, "new", 40) != nil) }
    }

    @Test func aThreeMemberEtcdWithOneMemberStoppedKeepsWorking() throws {
        let fleet = try Fleet(servers: 2, etcdMembers: 3)
        fleet.etcd.stop(0)
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait")
        #expect(shift.status == 0, "\(shift.output)")
        for i in 0..<2 { #expect(try fleet.waitForWeight(i, "new", 10, timeout: .seconds(2)) != nil) }
    }

    @Test func aLocalStateMovesIntoEtcdAndBack() throws {
        let etcd = try EtcdCluster()
        let single = try FileIO.makeTemporaryDirectory(prefix: "veer-single-")
        let server = try WeightsTests.start(state: single)
        #expect(try WeightsTests.veer(single, "shift", "api.example.com", "new", "30%").status == 0)
        server.stop()
        let veer = try Tools.veer()
        let imported = try runProgram(veer, ["store", "import", "--state-dir", single, "--store", "etcd=\(etcd.clientURLs)"])
        #expect(imported.status == 0 && imported.output.contains("ok imported") && imported.output.contains("2 audit line(s)"), "\(imported.output)")
        let again = try runProgram(veer, ["store", "import", "--state-dir", single, "--store", "etcd=\(etcd.clientURLs)"])
        #expect(again.status != 0 && again.output.contains("already holds a state"), "\(again.output)")

        let shared = try FileIO.makeTemporaryDirectory(prefix: "veer-shared-")
        let member = try VeerProcess(zones: ["example.com.zone": Self.zone],
                                     extraArguments: ["--state-dir", shared, "--store", "etcd=\(etcd.clientURLs)", "--server-id", "a"])
        #expect(try member.dig("TXT", "_veer.api.example.com").answer.joined().contains("endpoint=new weight=30"))
        #expect(try WeightsTests.veer(shared, "history").output.contains("new 0 -> 30"))
        member.stop()

        let back = try FileIO.makeTemporaryDirectory(prefix: "veer-back-")
        let exported = try runProgram(veer, ["store", "export", "--state-dir", back, "--store", "etcd=\(etcd.clientURLs)"])
        #expect(exported.status == 0, "\(exported.output)")
        let restored = try WeightsTests.start(state: back)
        #expect(try restored.dig("TXT", "_veer.api.example.com").answer.joined().contains("endpoint=new weight=30"))
        #expect(try WeightsTests.veer(back, "history").output.contains("new 0 -> 30"))
    }

    /// The revision `status` says this server serves.
    static func revision(_ status: String) -> String? {
        status.range(of: "serves revision ").map { String(status[$0.upperBound...].prefix { $0.isNumber }) }
    }

    // MARK: - Leader and quorum

    /// Index of the server `status` names as leader, once there is one.
    static func leader(_ fleet: Fleet, asking i: Int) throws -> Int? {
        let status = try fleet.waitForStatus(i) { $0.contains(", leader ") && !$0.contains(", leader none") }
        guard let range = status.range(of: ", leader ") else { return nil }
        let id = String(status[range.upperBound...].prefix { $0.isLetter })
        return fleet.ids.firstIndex(of: id)
    }

    @Test func aRolloutWhoseLeaderIsKilledCompletesOnAnotherServerStepByStep() throws {
        let old = try LoopbackHTTPServer(), new = try LoopbackHTTPServer()
        old.set(status: 200, body: "ok")
        new.set(status: 200, body: "ok")
        let zone = HealthTests.zone(oldPort: old.port, newPort: new.port, maxLatency: nil)
        let fleet = try Fleet(zones: Array(repeating: zone, count: 3))
        let first = try #require(try Self.leader(fleet, asking: 0))
        let start = try fleet.veer((first + 1) % 3, "rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "2s")
        #expect(start.status == 0, "a rollout started on a server that does not lead: \(start.output)")
        // Step 2 in force: kill the leader mid-bake, as a crash would.
        #expect(try fleet.waitForWeight((first + 1) % 3, "new", 50, timeout: .seconds(15)) != nil)
        kill(fleet.servers[first].processIdentifier, SIGKILL)
        let survivor = (first + 1) % 3
        let took = try fleet.waitForWeight(survivor, "new", 100, timeout: .seconds(20))
        #expect(took != nil, "the rollout completed on another server")
        let next = try #require(try Self.leader(fleet, asking: survivor))
        #expect(next != first)
        var history = ""
        for _ in 0..<300 where !history.contains("rollout to new completed") {
            history = try fleet.veer(survivor, "history", "api.example.com", "200").output
            Thread.sleep(forTimeInterval: 0.05)
        }
        for step in ["promoted to step 2/3 50%", "promoted to step 3/3 100%", "rollout to new completed"] {
            #expect(history.components(separatedBy: step).count - 1 == 1, "\(step) once: \(history)")
        }
    }

    /// Regression (make chaos, cluster, a silent cut): a leader whose etcd stopped answering
    /// without closing anything led on until its watch timed out and a resync failed (about
    /// 11 s), while its 3 s lease ran out and another server took over. It must stop leading
    /// before its lease can run out: `leadsFor` (2 s) after its last renewal was sent.
    @Test func aLeaderWhoseEtcdStopsAnsweringStopsLeadingBeforeItsLeaseCanRunOut() throws {
        let fleet = try Fleet(servers: 1)
        #expect(try Self.leader(fleet, asking: 0) == 0)
        let server = fleet.servers[0]
        let marker = "this server stops leading before the lease can run out"
        #expect(!server.stderr.contains(marker))
        fleet.etcd.pause(0)
        defer { fleet.etcd.resume(0) }
        let held = ContinuousClock.now
        // The log, not `status`: status also lists the servers from etcd, which is held.
        let deadline = held + .seconds(15)
        while !server.stderr.contains(marker), ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let stopped = ContinuousClock.now - held
        #expect(server.stderr.contains(marker), "\(server.stderr)")
        // The last renewal was sent at most a beat (0.5 s) before etcd was held.
        #expect(stopped < .milliseconds(2_500), "stopped leading \(stopped) after etcd was held: its lease may have run out first")
        let after = server.stderr.components(separatedBy: marker).last ?? ""
        #expect(after.contains("leader: another server drives rollouts"), "the plane was told: \(after)")
        fleet.etcd.resume(0)
        let again = try fleet.waitForStatus(0, timeout: .seconds(15)) { $0.contains(", leader a") }
        #expect(again.contains(", leader a"), "leads again once etcd answers: \(again)")
    }

    @Test func aGatewayUnreachableFromOneServerIsNotDrainedAndOneFailingForAllIsRolledBackOnce() throws {
        let old = try LoopbackHTTPServer(), new = try LoopbackHTTPServer()
        old.set(status: 200, body: "ok")
        new.set(status: 200, body: "ok")
        // Server a probes the new gateway on a port where nothing listens: its path is broken.
        let broken = try EtcdCluster.freePort()
        let zones = [HealthTests.zone(oldPort: old.port, newPort: broken, maxLatency: nil)]
            + Array(repeating: HealthTests.zone(oldPort: old.port, newPort: new.port, maxLatency: nil), count: 2)
        let fleet = try Fleet(zones: zones)
        #expect(try fleet.veer(1, "shift", "api.example.com", "new", "25%", "--wait").status == 0)
        // a sees new down after fall × interval; the quorum (1 of 3) does not.
        Thread.sleep(forTimeInterval: Double(HealthTests.fall * HealthTests.interval) / 1000 + 1.5)
        for i in 0..<3 {
            #expect(try fleet.weight(i, "new") == 25, "not drained by one server's broken path")
            let txt = try fleet.servers[i].dig("TXT", "_veer.api.example.com").answer.joined()
            #expect(txt.contains("endpoint=new weight=25 effective=25"), "server \(fleet.ids[i]): \(txt)")
        }
        // Now it fails for everyone: down on 3 of 3, rolled back once by the leader.
        new.set(status: 503, body: "down")
        for i in 0..<3 { #expect(try fleet.waitForWeight(i, "new", 0, timeout: .seconds(10)) != nil, "server \(fleet.ids[i]) rolled back") }
        Thread.sleep(forTimeInterval: 1)
        let history = try fleet.veer(2, "history", "api.example.com", "200").output
        #expect(history.components(separatedBy: "uid=veer api.example.com. new 25 -> 0").count - 1 == 1, "one rollback, not one per server: \(history)")
        #expect(history.contains("down on 3 of 3 servers") || history.contains("down on 2 of 3 servers"), "\(history)")
    }
}
