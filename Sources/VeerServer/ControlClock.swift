import Dispatch
import Synchronization
import Traffic

/// The control clock: a `.tick` through the plane every `tickMs` (bakes, windows, retries,
/// analyses) with the served totals (`.served`, for the drain report), and every
/// `sampleEveryMs` those totals kept about a minute for the last-minute counts.
final class ControlClock: Sendable {
    /// How often the control clock ticks (bakes, windows, retries, counter samples).
    static let tickMs = 200
    /// Counter samples are kept this often for the last-minute counts.
    static let sampleEveryMs: Int64 = 5_000
    /// Counter samples between two halvings of the cohort samples: about a minute.
    static let agingSamples = 12

    let loop: ControlLoop
    let counters: CounterRegistry
    /// With a shared store: where this server says when it last answered drained endpoints.
    let shared: (any SharedStore)?
    /// The live page's history, fed after every tick.
    let history: HistoryRecorder?
    /// Served totals by slot every `sampleEveryMs`, oldest first, about a minute of them.
    private let samples = Mutex<(list: [(at: Int64, totals: [UInt64])], count: Int)>(([], 0))
    private let timer = Mutex<TimerHandle?>(nil)
    /// The plane's `drainRevision` last handed to the shared store.
    private let publishedDrain = Atomic<UInt64>(0)

    init(loop: ControlLoop, counters: CounterRegistry, shared: (any SharedStore)?, history: HistoryRecorder? = nil) {
        self.loop = loop
        self.counters = counters
        self.shared = shared
        self.history = history
    }

    /// Starts ticking on the control queue.
    func start() {
        let source = DispatchSource.makeTimerSource(queue: loop.queue)
        source.schedule(deadline: .now(), repeating: .milliseconds(Self.tickMs), leeway: .milliseconds(20))
        source.setEventHandler { [weak self] in self?.tick() }
        timer.withLock { $0 = TimerHandle(source: source) }
        source.resume()
    }

    /// The oldest totals kept, about a minute old: what the last-minute counts subtract.
    var minuteAgo: [UInt64] {
        samples.withLock { $0.list.first?.totals ?? [] }
    }

    private func tick() {
        loop.run(.tick)
        let now = loop.clock().monotonic
        let slotCount = loop.latest { $0.effective.slotCount }
        // Every tick, so "last answered" is exact to the tick: a pass over the counters.
        let totals = counters.totals(count: slotCount)
        loop.run(.served(totals))
        history?.record(loop.latest { ($0.effective, $0.rollouts) }, served: totals, now: loop.clock())
        if let shared, let drained = loop.latest({ $0.drainRevision != publishedDrain.load(ordering: .relaxed) ? ($0.drainRevision, $0.drained) : nil }) {
            shared.publishDrain(drained.1.map { ($0.key.name.text, $0.key.id, $0.value) })
            publishedDrain.store(drained.0, ordering: .relaxed)
        }
        samples.withLock { samples in
            guard samples.list.last.map({ now - $0.at >= Self.sampleEveryMs }) ?? true else { return }
            samples.list.append((now, counters.totals(count: slotCount)))
            // Sampled client keys halve every minute: `status` and `--dry-run` show recent ones.
            samples.count += 1
            if samples.count % Self.agingSamples == 0 { counters.ageSamples() }
            // Keep the newest sample that is at least a minute old, and everything after.
            while samples.list.count > 1 && now - samples.list[1].at >= 60_000 { samples.list.removeFirst() }
        }
    }
}

/// A dispatch timer held by a Sendable owner; DispatchSourceTimer is thread-safe but not
/// marked Sendable.
struct TimerHandle: @unchecked Sendable {
    let source: DispatchSourceTimer
}
