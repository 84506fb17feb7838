import Synchronization
import Traffic

/// Keeps this server's `History` for the live page: the control clock hands it every weighted
/// name's state on each tick (`record`), the page copies out what it draws (`read`). The
/// query path never touches it.
final class HistoryRecorder: Sendable {
    private let history = Mutex(History())
    private let monitor: MonitorSlot

    init(monitor: MonitorSlot) {
        self.monitor = monitor
    }

    /// One observation of every weighted name: called on the control queue after each tick,
    /// with the served totals the tick just passed to the plane.
    func record(_ plane: (effective: EffectiveWeights, rollouts: [NameKey: Rollout]), served: [UInt64], now: Moment) {
        let latency = monitor.states().compactMapValues { $0.state.lastResult?.latencyMs }
        let observations = HistoryObservation.all(plane.effective, rollouts: plane.rollouts, served: served, latencyMs: latency)
        history.withLock { $0.observe(observations, now: now) }
    }

    /// Reads the history under its lock; `body` should copy out what it needs, quickly.
    func read<T>(_ body: (History) -> T) -> T {
        history.withLock { body($0) }
    }
}
