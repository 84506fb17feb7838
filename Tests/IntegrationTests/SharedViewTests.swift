import Foundation
import Glibc
import Posix
import Synchronization
import Testing
import TestSupport

/// What several servers on one etcd show and log: a follower's `rollout status` shows the
/// leader's bake, the generation promise the README makes, and log lines that say what
/// happened (no conflict warning at a normal first start, a notice at most when one member
/// of three goes, "no quorum" when the quorum does).
@Suite(.serialized)
struct SharedViewTests {
    typealias Fleet = SharedStoreTests.Fleet

    /// `baked Ns` from `rollout status` text, in seconds.
    static func baked(_ text: String) -> Int? {
        guard let range = text.range(of: "baked ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// `cleanProbes` of the first rollout in `rollout status --json`.
    static func cleanProbes(_ text: String) -> Int? {
        let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        return list?.first?["cleanProbes"] as? Int
    }

    @Test func aFollowerShowsTheLeadersBakeProgress() throws {
        let old = try LoopbackHTTPServer(), new = try LoopbackHTTPServer()
        old.set(status: 200, body: "ok")
        new.set(status: 200, body: "ok")
        let zone = HealthTests.zone(oldPort: old.port, newPort: new.port, maxLatency: nil)
        let fleet = try Fleet(servers: 2, zones: Array(repeating: zone, count: 2))
        let leader = try #require(try SharedStoreTests.leader(fleet, asking: 0))
        let follower = 1 - leader
        let start = try fleet.veer(follower, "rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "30s")
        #expect(start.status == 0, "\(start.output)")
        // Under the leader's 10 s checkpoint: a follower that showed only checkpoints says 0 s.
        Thread.sleep(forTimeInterval: 6)
        let leading = try fleet.veer(leader, "rollout", "status", "api.example.com").output
        let following = try fleet.veer(follower, "rollout", "status", "api.example.com").output
        let a = try #require(Self.baked(leading), "\(leading)"), b = try #require(Self.baked(following), "\(following)")
        #expect(a >= 4, "the leader baked: \(leading)")
        #expect(Swift.abs(a - b) <= 1, "leader \(a) s, follower \(b) s:\n\(leading)\n\(following)")
        let leaderProbes = Self.cleanProbes(try fleet.veer(leader, "rollout", "status", "--json").output) ?? 0
        let followerProbes = Self.cleanProbes(try fleet.veer(follower, "rollout", "status", "--json").output) ?? 0
        #expect(leaderProbes > 0)
        #expect(followerProbes > 0, "the follower shows the leader's clean probes (leader \(leaderProbes))")
    }

    /// The generation counts what one server published (its health and reloads included),
    /// so only its own increase means anything; servers serve the same state when they show
    /// the same revision of the shared store, as the README now says.
    @Test func serversOnTheSameRevisionMayDifferInGenerationButNotInRevision() throws {
        let fleet = try Fleet(servers: 2)
        func status(_ i: Int) throws -> [String: Any] {
            let text = try fleet.veer(i, "status", "--json").output
            return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        }
        let before = try #require(try status(0)["generation"] as? Int)
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "25%", "--wait").status == 0)
        let (a, b) = (try status(0), try status(1))
        #expect(try #require(a["generation"] as? Int) > before, "a change raises the generation")
        // A reload on server 1 alone publishes there and changes nothing shared.
        #expect(try fleet.veer(1, "reload").status == 0)
        let (a2, b2) = (try status(0), try status(1))
        #expect(a2["generation"] as? Int == a["generation"] as? Int)
        #expect(b2["generation"] as? Int == (b["generation"] as? Int).map { $0 + 1 }, "\(b) then \(b2)")
        let revisions = [a2, b2].map { ($0["store"] as? [String: Any])?["revision"] as? Int }
        #expect(revisions[0] != nil && revisions[0] == revisions[1], "the same revision on both: \(revisions)")
    }

    @Test func serversStartedTogetherLogNoConflictWarning() throws {
        let etcd = try EtcdCluster()
        // A select=client name makes each server save its cohort seed at once: one wins.
        let zone = SharedStoreTests.zone.replacingOccurrences(of: "endpoint=old weight=100", with: "endpoint=old weight=100 select=client")
        let servers = Mutex<[VeerProcess]>([])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { i in
            do {
                let state = try FileIO.makeTemporaryDirectory(prefix: "veer-shared-")
                let server = try VeerProcess(zones: ["example.com.zone": zone],
                                             extraArguments: ["--state-dir", state, "--store", "etcd=\(etcd.clientURLs)", "--server-id", "s\(i)"])
                servers.withLock { $0.append(server) }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        Thread.sleep(forTimeInterval: 2)
        for server in servers.withLock({ $0 }) {
            let warnings = server.stderr.split(separator: "\n").filter { $0.contains("conflict") || $0.contains(" error ") }
            #expect(warnings.isEmpty, "\(server.stderr)")
        }
    }

    @Test func oneMemberDownIsANoticeAndALostQuorumSaysNoQuorum() throws {
        let fleet = try Fleet(servers: 2, etcdMembers: 3)
        Thread.sleep(forTimeInterval: 1)
        // Every member the servers might watch through: take down the first, then a second.
        fleet.etcd.stop(0)
        let shift = try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait")
        #expect(shift.status == 0, "\(shift.output)")
        Thread.sleep(forTimeInterval: 3)
        for server in fleet.servers {
            let bad = server.stderr.split(separator: "\n").filter { $0.contains(" error ") || $0.contains("unreachable") }
            #expect(bad.isEmpty, "one member of three down:\n\(server.stderr)")
        }
        fleet.etcd.stop(1)
        let line = try fleet.servers[0].logLine(containing: "etcd unreachable", timeout: .seconds(15))
        #expect(line.contains("no quorum"), "\(line)")
    }
}
