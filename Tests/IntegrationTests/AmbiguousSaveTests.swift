import Foundation
import Glibc
import Posix
import Synchronization
import Testing
import TestSupport

/// A change sent while etcd is held with SIGSTOP: the transaction may be applied when etcd
/// runs again, so it is never answered "failed, nothing changed" (issue 23, repro 1).
@Suite(.serialized)
struct AmbiguousSaveTests {
    typealias Fleet = SharedStoreTests.Fleet

    /// How many changes `history` shows for `reason` (each shift writes two lines: old and new).
    static func audited(_ fleet: Fleet, _ reason: String) throws -> Int {
        try fleet.veer(1, "history", "api.example.com", "200").output.components(separatedBy: "reason=\"\(reason)\"").count - 1
    }

    /// Runs `veer shift …` on server 0 off this thread; the result comes with `wait`.
    static func shiftInBackground(_ fleet: Fleet, _ percent: String) -> () -> ProgramResult? {
        let result = Mutex<ProgramResult?>(nil)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            let reply = try? fleet.veer(0, "shift", "api.example.com", "new", percent)
            result.withLock { $0 = reply }
        }
        return {
            group.wait()
            return result.withLock { $0 }
        }
    }

    @Test func aShiftDuringAnEtcdStallIsNeverAnsweredAsFailedAndThenApplied() throws {
        let fleet = try Fleet(servers: 2)
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait").status == 0)
        fleet.etcd.pause(0)
        let wait = Self.shiftInBackground(fleet, "37%")
        // Past the 2 s request timeout, inside the 5 s the store takes to find out.
        Thread.sleep(forTimeInterval: 3)
        fleet.etcd.resume(0)
        let reply = try #require(wait(), "veer shift did not run")
        #expect(reply.status == 0 && reply.output.hasPrefix("ok"), "etcd answered within the bound: \(reply.output)")
        #expect(!reply.output.contains("nothing changed"), "\(reply.output)")
        for i in 0..<2 { #expect(try fleet.waitForWeight(i, "new", 37, timeout: .seconds(10)) != nil, "server \(fleet.ids[i]) serves it") }
        #expect(try Self.audited(fleet, "shift api.example.com new 37%") == 2, "in the history once")
    }

    @Test func aShiftWhileEtcdStaysStoppedPastTheBoundSaysTheOutcomeIsUnknownAndHowToCheck() throws {
        let fleet = try Fleet(servers: 2)
        #expect(try fleet.veer(0, "shift", "api.example.com", "new", "10%", "--wait").status == 0)
        fleet.etcd.pause(0)
        let reply = try fleet.veer(0, "shift", "api.example.com", "new", "37%")
        fleet.etcd.resume(0)
        #expect(reply.status != 0, "\(reply.output)")
        #expect(reply.output.hasPrefix("error: outcome unknown:"), "\(reply.output)")
        #expect(reply.output.contains("check with `history api.example.com.`"), "\(reply.output)")
        #expect(!reply.output.contains("nothing changed"), "\(reply.output)")
        // Whatever etcd does with what was sent, the history and both servers agree on it. (etcd
        // 3.4 applies the stalled transaction once it runs: server a then adopts its own save
        // from the watch, as it would another server's.)
        Thread.sleep(forTimeInterval: 2)
        let applied = try Self.audited(fleet, "shift api.example.com new 37%")
        #expect(applied == 0 || applied == 2, "in the history once or not at all")
        let expected = applied == 2 ? 37 : 10
        for i in 0..<2 {
            #expect(try fleet.waitForWeight(i, "new", expected, timeout: .seconds(10)) != nil,
                    "server \(fleet.ids[i]) serves new=\(expected), as the history says")
        }
        // Changes work again, from whatever the store holds.
        let again = try fleet.veer(1, "shift", "api.example.com", "new", "50%", "--wait")
        #expect(again.status == 0, "\(again.output)")
    }
}
