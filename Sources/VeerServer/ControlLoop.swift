import Dispatch
import Synchronization
import Traffic

/// The control plane on its one serial queue: every event goes through the plane there,
/// with the time, and the executor carries out the effects before the next event starts.
/// Effects run outside the plane's lock, so a slow disk delays the next event, never a probe
/// or a query; the query path never waits for this side at all.
final class ControlLoop: Sendable {
    let queue = DispatchQueue(label: "veer.control")
    let clock: @Sendable () -> Moment
    private let plane: Mutex<ControlPlane>
    private let executor: EffectExecutor

    init(plane: ControlPlane, executor: EffectExecutor, clock: @escaping @Sendable () -> Moment) {
        self.plane = Mutex(plane)
        self.executor = executor
        self.clock = clock
    }

    /// Runs `event` and returns its reply; from any thread but the queue's.
    @discardableResult
    func send(_ event: ControlPlane.Event) -> String? {
        queue.sync { run(event) }
    }

    /// Queues `event` (a probe result, the shared store's news) without waiting.
    func post(_ event: ControlPlane.Event) {
        queue.async { [self] in run(event) }
    }

    /// Runs `event` through the plane and carries out its effects; on the queue.
    @discardableResult
    func run(_ event: ControlPlane.Event) -> String? {
        let now = clock()
        return perform(plane.withLock { $0.handle(event, now: now) })
    }

    /// Carries out `effects`, feeding each save's outcome back to the plane.
    @discardableResult
    func perform(_ effects: [ControlPlane.Effect]) -> String? {
        executor.perform(effects, saved: { outcome in
            let now = clock()
            return plane.withLock { $0.handle(.persisted(outcome), now: now) }
        }, post: { [weak self] event in self?.post(event) })
    }

    /// Reads the plane between two events, their effects done; from any thread but the queue's.
    func read<T>(_ body: (ControlPlane) -> T) -> T {
        queue.sync { plane.withLock { body($0) } }
    }

    /// Reads the plane as it is now, from any thread (the queue's included).
    func latest<T>(_ body: (ControlPlane) -> T) -> T {
        plane.withLock { body($0) }
    }
}
