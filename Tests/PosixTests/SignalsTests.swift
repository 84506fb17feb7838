import Posix
import Synchronization
import Testing

@Suite struct SignalsTests {
    @Test func hangupRunsTheHandlerInsteadOfEndingTheProcess() throws {
        let count = Atomic<Int>(0)
        Signals.on(Signals.hangup) { count.add(1, ordering: .relaxed) }
        try Signals.send(Signals.hangup, to: Process.currentPID)
        let deadline = Clock.now() + 5_000_000_000
        while count.load(ordering: .relaxed) == 0 && Clock.now() < deadline { Clock.sleep(.milliseconds(10)) }
        #expect(count.load(ordering: .relaxed) == 1)
    }
}
