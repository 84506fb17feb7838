import Authority
import Dispatch
import DNSWire
import Posix
import Synchronization
import Traffic
import ZoneFile

/// Probes every weighted endpoint that names a health check, off the DNS path: TCP and HTTP
/// probes share the `Prober`'s one poll() thread, HTTPS probes block a thread each in libcurl
/// (`HTTPSProbe`) on a few lanes of their own, timers and state live on one serial queue.
/// Every result goes to `onProbe` (the control side), with the transition it caused.
final class HealthMonitor: Sendable {
    /// A CNAME target's addresses are resolved again after this long.
    static let resolveCacheSeconds: Int64 = 30

    /// What one endpoint is probed with.
    struct Target: Sendable {
        let slot: Int
        let name: NameKey
        let endpoint: String
        let check: HealthCheck
        /// For CNAME endpoints without `address=`: the name to resolve.
        let resolveHost: String?
        /// `address=`, else the endpoint's first A/AAAA address, else nil.
        let fixedAddress: String?
        /// Host header / SNI.
        let httpHost: String
        var policy: HealthPolicy { HealthPolicy(fall: check.fall, rise: check.rise, maxLatencyMs: check.maxLatencyMs) }

        /// The target of an endpoint with `health=`; nil for one without.
        init?(name: NameKey, endpoint: WeightedName.Endpoint, slot: Int) {
            guard let check = endpoint.check else { return nil }
            let cnameTarget: String? = endpoint.records.compactMap { record -> String? in
                if case .cname(let target) = record.data { return String(target.description.dropLast()) }
                return nil
            }.first
            let firstAddress: String? = endpoint.records.compactMap { record -> String? in
                switch record.data {
                case .a(let address): address.description
                case .aaaa(let address): address.description
                default: nil
                }
            }.first
            let fixed = check.address ?? firstAddress
            self.slot = slot
            self.name = name
            self.endpoint = endpoint.id
            self.check = check
            resolveHost = fixed == nil ? cnameTarget : nil
            fixedAddress = fixed
            httpHost = check.host ?? cnameTarget ?? fixed ?? "localhost"
        }
    }

    private struct Entry {
        var target: Target
        var state = HealthState()
        var timer: DispatchSourceTimer?
        /// Bumped when the target is replaced, so late results of an old probe are ignored.
        var epoch: Int
    }

    private struct Shared {
        var entries: [Int: Entry] = [:]
        var epoch = 0
        var resolved: [String: (addresses: [SocketAddress], at: Int64)] = [:]
        /// Slots with an HTTPS probe queued or running: a slot's next probe waits its turn
        /// (it is skipped) rather than piling up behind a lane's slow ones.
        var httpsBusy: Set<Int> = []
        var onProbe: (@Sendable (ProbeReport) -> Void)?
    }

    private let queue = DispatchQueue(label: "veer.health")
    private let resolver = DispatchQueue(label: "veer.health.resolve", attributes: .concurrent)
    private let prober: Prober
    /// HTTPS probes at most this many at once: each holds a thread while libcurl blocks, so
    /// they get serial queues of their own (a slot always uses the same one) rather than a
    /// concurrent queue whose thread count libdispatch decides.
    static let httpsLaneCount = 8
    private let httpsLanes = (0..<HealthMonitor.httpsLaneCount).map { DispatchQueue(label: "veer.health.https.\($0)") }
    private let shared = Mutex(Shared())

    init() throws {
        prober = try Prober()
    }

    /// Starts (or restarts after a reload) probing `targets`. Endpoints whose check did not
    /// change keep their health; new ones start unknown (counted as up) and are probed at once.
    func configure(_ targets: [Target], onProbe: (@Sendable (ProbeReport) -> Void)? = nil) {
        queue.async { [self] in
            shared.withLock { shared in
                if let onProbe { shared.onProbe = onProbe }
                let wanted = Dictionary(targets.map { ($0.slot, $0) }, uniquingKeysWith: { a, _ in a })
                for (slot, entry) in shared.entries where wanted[slot]?.check != entry.target.check {
                    entry.timer?.cancel()
                    shared.entries[slot] = nil
                }
                for target in targets where shared.entries[target.slot] == nil {
                    shared.epoch += 1
                    let epoch = shared.epoch
                    let timer = DispatchSource.makeTimerSource(queue: queue)
                    timer.schedule(deadline: .now(), repeating: .milliseconds(target.check.intervalMs),
                                   leeway: .milliseconds(max(1, target.check.intervalMs / 20)))
                    timer.setEventHandler { [weak self] in self?.probe(slot: target.slot, epoch: epoch) }
                    shared.entries[target.slot] = Entry(target: target, timer: timer, epoch: epoch)
                    timer.resume()
                }
            }
        }
    }

    /// Every probed endpoint's health by slot, for status.
    func states() -> [Int: (check: String, state: HealthState)] {
        shared.withLock { shared in shared.entries.mapValues { ($0.target.check.name, $0.state) } }
    }

    // MARK: - Probing

    private func probe(slot: Int, epoch: Int) {
        guard let target = shared.withLock({ $0.entries[slot].flatMap { $0.epoch == epoch ? $0.target : nil } }) else { return }
        let queue = self.queue
        let finish: @Sendable (ProbeResult) -> Void = { [weak self] result in
            guard let monitor = self else { return }
            queue.async { monitor.record(result, slot: slot, epoch: epoch) }
        }
        let timeout = Duration.milliseconds(target.check.timeoutMs)
        if target.check.kind == .https {
            probeHTTPS(target, finish: finish)
            return
        }
        addresses(for: target) { [prober] result in
            switch result {
            case .failure(let failure):
                finish(.failure(reason: failure.reason, latencyMs: nil))
            case .success(let address):
                let request = target.check.kind == .tcp
                    ? ProbeRequest.tcp(address, timeout: timeout)
                    : ProbeRequest.http(address, host: target.httpHost, path: target.check.path, timeout: timeout)
                prober.probe(request) { outcome in finish(Self.judge(outcome, target: target)) }
            }
        }
    }

    /// The address to probe: fixed, or the CNAME target resolved (cached, off the queue).
    private func addresses(for target: Target, _ body: @escaping @Sendable (Result<SocketAddress, ProbeFailure>) -> Void) {
        let port = target.check.effectivePort
        if let fixed = target.fixedAddress {
            let text = fixed.contains(":") ? "[\(fixed)]:\(port)" : "\(fixed):\(port)"
            do { body(.success(try SocketAddress(parsing: text))) } catch {
                body(.failure(ProbeFailure("bad address \(fixed): \(error)")))
            }
            return
        }
        guard let host = target.resolveHost else { body(.failure(ProbeFailure("nothing to probe"))); return }
        let now = Clock.wallSeconds()
        if let cached = shared.withLock({ $0.resolved[host] }), now - cached.at < Self.resolveCacheSeconds,
           let first = cached.addresses.first {
            body(.success(first))
            return
        }
        resolver.async { [self] in
            do {
                let found = try Prober.resolve(host: host, port: port)
                shared.withLock { $0.resolved[host] = (found, now) }
                body(.success(found[0]))
            } catch {
                body(.failure(ProbeFailure("\(error)")))
            }
        }
    }

    struct ProbeFailure: Error { let reason: String; init(_ reason: String) { self.reason = reason } }

    /// Turns a transport outcome into a probe result: connect, status and body checks.
    static func judge(_ outcome: ProbeOutcome, target: Target) -> ProbeResult {
        let latency = milliseconds(outcome.latency)
        if let failure = outcome.failure {
            if case .timeout = failure { return .failure(reason: "timeout after \(target.check.timeoutMs)ms", latencyMs: latency) }
            return .failure(reason: "\(failure)", latencyMs: latency)
        }
        guard target.check.kind != .tcp else { return .success(latencyMs: latency) }
        guard let response = HTTPProbe.parseResponse(outcome.response) else {
            return .failure(reason: "not an HTTP reply", latencyMs: latency)
        }
        return judgeHTTP(status: response.status, body: response.body, latency: latency, check: target.check)
    }

    static func judgeHTTP(status: Int, body: [UInt8], latency: Int, check: HealthCheck) -> ProbeResult {
        guard check.expect.contains(where: { $0.contains(status) }) else {
            return .failure(reason: "status \(status)", latencyMs: latency)
        }
        if let needle = check.body, !String(decoding: body, as: UTF8.self).contains(needle) {
            return .failure(reason: "body lacks \"\(needle)\"", latencyMs: latency)
        }
        return .success(latencyMs: latency)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    /// HTTPS through libcurl: the URL names `httpHost` (SNI, certificate name, Host header)
    /// while the connection goes to `address=`, the endpoint's address or the resolved CNAME
    /// target, as for HTTP; `insecure` and `ca=` apply to this probe alone.
    private func probeHTTPS(_ target: Target, finish: @escaping @Sendable (ProbeResult) -> Void) {
        let slot = target.slot
        guard shared.withLock({ $0.httpsBusy.insert(slot).inserted }) else { return }
        let lane = httpsLanes[slot % httpsLanes.count]
        addresses(for: target) { [self] result in
            switch result {
            case .failure(let failure):
                shared.withLock { _ = $0.httpsBusy.remove(slot) }
                finish(.failure(reason: failure.reason, latencyMs: nil))
            case .success(let address):
                let check = target.check
                let request = HTTPSProbe.Request(host: target.httpHost, port: check.effectivePort, path: check.path,
                                                 connectTo: address, timeout: .milliseconds(check.timeoutMs),
                                                 insecure: check.insecure, caFile: check.ca)
                lane.async { [self] in
                    let (outcome, latency) = HTTPSProbe.get(request)
                    shared.withLock { _ = $0.httpsBusy.remove(slot) }
                    finish(Self.judge(outcome, latency: Self.milliseconds(latency), check: check))
                }
            }
        }
    }

    /// Turns an HTTPS outcome into a probe result, with the same status and body rules as HTTP.
    static func judge(_ outcome: HTTPSProbe.Outcome, latency: Int, check: HealthCheck) -> ProbeResult {
        switch outcome {
        case .reply(let status, let body):
            return judgeHTTP(status: status, body: body, latency: latency, check: check)
        case .timeout:
            return .failure(reason: "timeout after \(check.timeoutMs)ms", latencyMs: latency)
        case .failure(let reason):
            return .failure(reason: "https: \(reason)", latencyMs: latency)
        }
    }

    private func record(_ result: ProbeResult, slot: Int, epoch: Int) {
        let (report, callback) = shared.withLock { shared -> (ProbeReport?, (@Sendable (ProbeReport) -> Void)?) in
            guard var entry = shared.entries[slot], entry.epoch == epoch else { return (nil, nil) }
            let transition = entry.state.record(result, at: Int64(Clock.now() / 1_000_000), policy: entry.target.policy)
            shared.entries[slot] = entry
            let report = ProbeReport(slot: slot, anomaly: HealthState.anomaly(result, policy: entry.target.policy),
                                     status: entry.state.status, transition: transition)
            return (report, shared.onProbe)
        }
        if let report, let callback { callback(report) }
    }
}

/// The health monitor once it runs (nil before): the executor points it at adopted zones,
/// status reads its states.
final class MonitorSlot: Sendable {
    private let monitor = Mutex<HealthMonitor?>(nil)

    func attach(_ health: HealthMonitor) {
        monitor.withLock { $0 = health }
    }

    /// Probes `targets` from now on (a reload's zones); nothing before the monitor runs.
    func configure(_ targets: [HealthMonitor.Target]) {
        monitor.withLock { $0 }?.configure(targets)
    }

    /// Every probed endpoint's check and state by slot; empty before the monitor runs.
    func states() -> [Int: (check: String, state: HealthState)] {
        monitor.withLock { $0 }?.states() ?? [:]
    }
}
