import Foundation
import Synchronization
import Testing

/// `veer rollout wait` against the real binary, as a pipeline runs it: started beside a
/// rollout, it prints each step and its exit status says how the rollout ended.
@Suite(.serialized)
struct RolloutWaitIntegrationTests {
    typealias Setup = HealthTests.Setup

    /// Runs `veer rollout wait …` on another thread; the returned function waits for its result.
    static func waitInBackground(_ setup: Setup, _ words: String...) throws -> () -> ProgramResult {
        let veer = try Tools.veer()
        let arguments = ["--admin", setup.state + "/admin.sock", "rollout", "wait"] + words
        let result = Mutex<ProgramResult?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let ran = (try? runProgram(veer, arguments, timeout: .seconds(30)))
                ?? ProgramResult(status: -1, output: "could not run veer", timedOut: false)
            result.withLock { $0 = ran }
            done.signal()
        }
        return {
            done.wait()
            return result.withLock { $0! }
        }
    }

    @Test func aCompletedRolloutExitsZeroAfterPrintingEachStep() throws {
        let setup = try Setup(maxLatency: nil)
        let start = try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,50,100", "--bake", "1s")
        #expect(start.status == 0, "\(start.output)")
        let wait = try setup.veer("rollout", "wait", "api.example.com", "--timeout", "20s")
        #expect(wait.status == 0, "\(wait.output)")
        let lines = wait.output.split(separator: "\n").map(String.init)
        // Each step bakes at least 1 s and the wait polls every 500 ms, so it sees every step.
        #expect(lines.first == "step 1/3 10% baking", "\(wait.output)")
        #expect(lines.contains("step 2/3 50% baking"), "\(wait.output)")
        #expect(lines.contains("step 3/3 100% baking"), "\(wait.output)")
        #expect(lines.last == "step 3/3 100% completed", "\(wait.output)")
        #expect(Set(lines).count == lines.count, "one line per change: \(wait.output)")
    }

    @Test func anAbortedRolloutExitsOneWithTheReason() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "1h").status == 0)
        let wait = try Self.waitInBackground(setup, "api.example.com")
        Thread.sleep(forTimeInterval: 0.8)
        setup.new.set(status: 503, body: "down")
        let result = wait()
        #expect(result.status == 1, "\(result.output)")
        #expect(result.output.hasPrefix("step 1/2 10% baking\n"), "\(result.output)")
        #expect(result.output.contains("aborted at step 1/2, rolled back: "), "\(result.output)")
        #expect(result.output.contains("status 503"), "the probe failure is the reason: \(result.output)")
    }

    @Test func aPauseFromAnotherClientExitsTwo() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "1h").status == 0)
        let wait = try Self.waitInBackground(setup, "api.example.com", "--json")
        Thread.sleep(forTimeInterval: 0.8)
        #expect(try setup.veer("rollout", "pause", "api.example.com").status == 0)
        let result = wait()
        #expect(result.status == 2, "\(result.output)")
        #expect(result.output.contains("paused at step 1/2: paused by uid"), "\(result.output)")
        let objects = result.output.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(objects.count == 2, "one JSON object per change: \(result.output)")
        let last = try JSONSerialization.jsonObject(with: Data((objects.last ?? "").utf8)) as? [String: Any]
        #expect(last?["phase"] as? String == "paused", "\(result.output)")
    }

    @Test func aTimeoutOnALongBakeExitsThreeAndLeavesTheRolloutRunning() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "1h").status == 0)
        let began = ContinuousClock.now
        let wait = try setup.veer("rollout", "wait", "api.example.com", "--timeout", "1s")
        let took = ContinuousClock.now - began
        #expect(wait.status == 3, "\(wait.output)")
        #expect(wait.output.contains("rollout still running after 1s (baking at step 1/2, 10%)"), "\(wait.output)")
        #expect(took >= .milliseconds(900) && took < .seconds(5), "\(took)")
        #expect(try RolloutIntegrationTests.rollout(setup)["phase"] as? String == "baking")
    }

    @Test func aServerRestartDuringTheWaitIsRiddenOut() throws {
        let setup = try Setup(maxLatency: nil)
        #expect(try setup.veer("rollout", "start", "api.example.com", "--to", "new", "--steps", "10,100", "--bake", "2s").status == 0)
        let wait = try Self.waitInBackground(setup, "api.example.com", "--timeout", "25s")
        Thread.sleep(forTimeInterval: 0.8)
        // A second without a server: without the grace the wait would exit 4 here.
        setup.server.stop()
        Thread.sleep(forTimeInterval: 1.0)
        let again = try setup.restarted()
        defer { again.stop() }
        let result = wait()
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("note: bake of step 1 resumed at server start"), "\(result.output)")
        #expect(result.output.contains("step 2/2 100% completed"), "\(result.output)")
    }

    @Test func withoutAServerOrARolloutTheWaitSaysSoAndExitsFour() throws {
        let missing = try runProgram(try Tools.veer(), ["--admin", "/nonexistent/admin.sock", "rollout", "wait", "api.example.com"])
        #expect(missing.status == 4, "\(missing.output)")
        #expect(missing.output.contains("admin socket /nonexistent/admin.sock"), "\(missing.output)")
        let setup = try Setup(maxLatency: nil)
        let none = try setup.veer("rollout", "wait", "api.example.com")
        #expect(none.status == 4, "\(none.output)")
        #expect(none.output.contains("has no rollout"), "\(none.output)")
    }

    @Test(arguments: [["rollout", "wait"], ["rollout", "wait", "a.example.com", "b.example.com"],
                      ["rollout", "wait", "a.example.com", "--timeout", "soon"], ["rollout", "wait", "a.example.com", "--bake", "1s"]])
    func badUsageExitsSixtyFour(words: [String]) throws {
        let result = try runProgram(try Tools.veer(), ["--admin", "/nonexistent/admin.sock"] + words)
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.contains("rollout wait NAME [--timeout D] [--json]"), "\(result.output)")
    }
}
