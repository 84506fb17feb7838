import Authority
import Dispatch
import DNSWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Posix
import Synchronization
import Traffic
import ZoneFile

/// Probes every weighted endpoint that names a health check, off the DNS path: TCP and HTTP
/// probes share the `Prober`'s one poll() thread, HTTPS goes through URLSession, timers and
/// state live on one serial queue. Every result goes to `onProbe` (the control side), with the transition it caused.
final class HealthMonitor: Sendable {
    /// A CNAME target's addresses are resolved again after this long.
    static let resolveCacheSeconds: Int64 = 30

    /// What one endpoint is probed with.
    struct Target: Sendable {
        let slot: Int
        let name: String
        let endpoint: String
        let check: HealthCheck
        /// For CNAME endpoints without `address=`: the name to resolve.
        let resolveHost: String?
        /// `address=`, else the endpoint's first A/AAAA address, else nil.
        let fixedAddress: String?
        /// Host header / SNI.
        let httpHost: String
        var policy: HealthPolicy { HealthPolicy(fall: check.fall, rise: check.rise, maxLatencyMs: check.maxLatencyMs) }
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
        var onProbe: (@Sendable (ProbeReport) -> Void)?
    }

    private let queue = DispatchQueue(label: "veer.health")
    private let resolver = DispatchQueue(label: "veer.health.resolve", attributes: .concurrent)
    private let prober: Prober
    private let session: URLSession
    private let shared = Mutex(Shared())

    init() throws {
        prober = try Prober()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = 4
        session = URLSession(configuration: configuration)
    }

    /// The targets of `zones`: every endpoint with `health=`.
    static func targets(_ zones: ZoneData) -> [Target] {
        zones.weighted.flatMap { set in
            set.endpoints.compactMap { endpoint -> Target? in
                guard let check = endpoint.check else { return nil }
                let cnameTarget: String? = endpoint.records.compactMap { data -> String? in
                    if case .cname(let target) = data { return String(target.description.dropLast()) }
                    return nil
                }.first
                let firstAddress: String? = endpoint.records.compactMap { data -> String? in
                    switch data {
                    case .a(let address): address.description
                    case .aaaa(let address): address.description
                    default: nil
                    }
                }.first
                let fixed = check.address ?? firstAddress
                return Target(slot: endpoint.slot, name: set.owner.lowercased().description, endpoint: endpoint.id,
                              check: check, resolveHost: fixed == nil ? cnameTarget : nil, fixedAddress: fixed,
                              httpHost: check.host ?? cnameTarget ?? fixed ?? "localhost")
            }
        }
    }

    /// Starts (or restarts after a reload) probing `zones`' endpoints. Endpoints whose check
    /// did not change keep their health; new ones start unknown (counted as up) and are
    /// probed at once.
    func configure(_ zones: ZoneData, onProbe: (@Sendable (ProbeReport) -> Void)? = nil) {
        let targets = Self.targets(zones)
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
        let started = Clock.now()
        let queue = self.queue
        let finish: @Sendable (ProbeResult) -> Void = { [weak self] result in
            guard let monitor = self else { return }
            queue.async { monitor.record(result, slot: slot, epoch: epoch) }
        }
        let timeout = Duration.milliseconds(target.check.timeoutMs)
        if target.check.kind == .https {
            probeHTTPS(target, started: started, finish: finish)
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

    /// HTTPS through FoundationNetworking (never a hand-written TLS). Host and SNI come from
    /// the URL: `host=`, else the CNAME target; `address=` puts the address in the URL.
    private func probeHTTPS(_ target: Target, started: UInt64, finish: @escaping @Sendable (ProbeResult) -> Void) {
        let host = target.check.address.map { $0.contains(":") ? "[\($0)]" : $0 } ?? target.httpHost
        guard let url = URL(string: "https://\(host):\(target.check.effectivePort)\(target.check.path)") else {
            finish(.failure(reason: "bad URL for \(host)", latencyMs: nil))
            return
        }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData,
                                 timeoutInterval: Double(target.check.timeoutMs) / 1000)
        request.setValue("veer-health/1", forHTTPHeaderField: "User-Agent")
        session.dataTask(with: request) { data, response, error in
            let latency = Int((Clock.now() - started) / 1_000_000)
            if let error {
                let timedOut = (error as? URLError)?.code == .timedOut
                finish(.failure(reason: timedOut ? "timeout after \(target.check.timeoutMs)ms" : "https: \(error.localizedDescription)",
                                latencyMs: latency))
                return
            }
            guard let http = response as? HTTPURLResponse else {
                finish(.failure(reason: "not an HTTP reply", latencyMs: latency))
                return
            }
            finish(Self.judgeHTTP(status: http.statusCode, body: Array(data ?? Data()), latency: latency, check: target.check))
        }.resume()
    }

    private func record(_ result: ProbeResult, slot: Int, epoch: Int) {
        let (report, callback) = shared.withLock { shared -> (ProbeReport?, (@Sendable (ProbeReport) -> Void)?) in
            guard var entry = shared.entries[slot], entry.epoch == epoch else { return (nil, nil) }
            let transition = entry.state.record(result, at: Int64(Clock.now() / 1_000_000), policy: entry.target.policy)
            shared.entries[slot] = entry
            let report = ProbeReport(slot: slot, anomaly: HealthState.anomaly(result, policy: entry.target.policy),
                                     transition: transition)
            return (report, shared.onProbe)
        }
        if let report, let callback { callback(report) }
    }
}

/// One probe's outcome as the control side sees it: every probe, so a rollout can abort on
/// the first anomaly, with the up/down change it caused, if any.
struct ProbeReport: Sendable {
    let slot: Int
    /// Why the probe counts against the endpoint, or nil for a clean one.
    let anomaly: String?
    let transition: HealthState.Transition?
}
