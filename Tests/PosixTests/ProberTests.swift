import Posix
import TestSupport
import Synchronization
import Testing

/// Runs one probe and waits for its outcome.
private func run(_ prober: Prober, _ request: ProbeRequest) async -> ProbeOutcome {
    await withCheckedContinuation { continuation in
        prober.probe(request) { continuation.resume(returning: $0) }
    }
}

private func milliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct ProberTests {
    // MARK: TCP connect probes

    @Test func tcpProbeConnectsToListener() async throws {
        let listener = try LoopbackTCPListener()
        defer { listener.stop() }
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .tcp(listener.address, timeout: .seconds(2)))
        #expect(outcome.failure == nil)
        #expect(outcome.latency > .zero && outcome.latency < .seconds(2))
        #expect(outcome.response.isEmpty)
    }

    @Test func tcpProbeToClosedPortIsRefused() async throws {
        let listener = try LoopbackTCPListener()
        let closed = listener.address
        listener.stop()
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .tcp(closed, timeout: .seconds(2)))
        #expect(outcome.failure == .connect(.ECONNREFUSED))
        #expect(outcome.latency < .seconds(2))
    }

    @Test func tcpProbeToIPv6ClosedPortIsRefused() async throws {
        let listener = try LoopbackTCPListener()
        let closed = try SocketAddress(parsing: "[::1]:\(listener.port)")
        listener.stop()
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .tcp(closed, timeout: .seconds(2)))
        #expect(outcome.failure == .connect(.ECONNREFUSED))
    }

    @Test func tcpProbeTimesOutWhenBacklogIsFull() async throws {
        // Never accepts: the first handshakes fill the backlog, later SYNs are dropped.
        let listener = try LoopbackTCPListener(accepting: false)
        defer { listener.stop() }
        let prober = try Prober()
        defer { prober.stop() }
        var outcomes: [ProbeOutcome] = []
        for _ in 0..<8 {
            let outcome = await run(prober, .tcp(listener.address, timeout: .milliseconds(300)))
            outcomes.append(outcome)
            if outcome.failure != nil { break }
        }
        let last = try #require(outcomes.last)
        #expect(outcomes.count >= 2, "the backlog holds at least one handshake")
        #expect(last.failure == .timeout(phase: "connect"))
        #expect(last.latency >= .milliseconds(300) && last.latency < .seconds(2))
    }

    // MARK: HTTP probes

    @Test func httpProbeReads200WithBody() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 200, delay: .zero, body: "healthy")
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw.example.net.", path: "/healthz", timeout: .seconds(2)))
        #expect(outcome.failure == nil)
        let response = try #require(HTTPProbe.parseResponse(outcome.response))
        #expect(response.status == 200)
        #expect(text(response.body) == "healthy")
        #expect(server.requestCount == 1)
        let request = text(server.lastRequest)
        #expect(request.hasPrefix("GET /healthz HTTP/1.1\r\n"))
        #expect(request.contains("\r\nHost: gw.example.net\r\n"))
        #expect(request.contains("\r\nUser-Agent: veer-health/1\r\n"))
    }

    @Test func httpProbeReads503() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 503, delay: .zero, body: "draining")
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw", path: "/", timeout: .seconds(2)))
        #expect(outcome.failure == nil)
        let response = try #require(HTTPProbe.parseResponse(outcome.response))
        #expect(response.status == 503)
        #expect(text(response.body) == "draining")
    }

    @Test func delayedReplyLatencyCoversTheDelay() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 200, delay: .milliseconds(250), body: "slow")
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw", path: "/", timeout: .seconds(3)))
        #expect(outcome.failure == nil)
        #expect(outcome.latency >= .milliseconds(250))
        #expect(outcome.latency < .seconds(3))
        #expect(HTTPProbe.parseResponse(outcome.response)?.status == 200)
    }

    @Test func replySlowerThanTimeoutIsReadTimeout() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 200, delay: .seconds(5), body: "too late")
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw", path: "/", timeout: .milliseconds(200)))
        #expect(outcome.failure == .timeout(phase: "read"))
        #expect(outcome.latency >= .milliseconds(200))
        #expect(outcome.latency < .seconds(2), "took \(milliseconds(outcome.latency)) ms")
        #expect(outcome.response.isEmpty)
    }

    @Test func chunkedReplyEndsProbeBeforeServerCloses() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nup!\r\n0\r\n\r\n"
        server.set(reply: Array(reply.utf8), holdOpen: .seconds(10))
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw", path: "/", timeout: .seconds(5)))
        #expect(outcome.failure == nil)
        #expect(outcome.latency < .seconds(2), "took \(milliseconds(outcome.latency)) ms")
        #expect(HTTPProbe.parseResponse(outcome.response).map { text($0.body) } == "up!")
    }

    @Test func garbageReplyEndsProbeAndDoesNotParse() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(reply: Array("SSH-2.0-OpenSSH_9.6\r\n".utf8), holdOpen: .seconds(10))
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw", path: "/", timeout: .seconds(5)))
        #expect(outcome.failure == nil)
        #expect(outcome.latency < .seconds(2))
        #expect(HTTPProbe.parseResponse(outcome.response) == nil)
    }

    @Test func closeDelimitedReplyIsReadUntilClose() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(reply: Array("HTTP/1.0 200 OK\r\n\r\nuntil close".utf8))
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw", path: "/", timeout: .seconds(2)))
        #expect(outcome.failure == nil)
        #expect(HTTPProbe.parseResponse(outcome.response).map { text($0.body) } == "until close")
    }

    @Test func replyIsCutAtMaxResponse() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 200, delay: .zero, body: String(repeating: "x", count: 100_000))
        let prober = try Prober()
        defer { prober.stop() }
        let outcome = await run(prober, .http(server.address, host: "gw", path: "/", timeout: .seconds(2), maxResponse: 1024))
        #expect(outcome.failure == nil)
        #expect(outcome.response.count == 1024)
        #expect(HTTPProbe.parseResponse(outcome.response) == nil)
        let truncated = try #require(HTTPProbe.parseResponse(outcome.response, allowingTruncatedBody: true))
        #expect(truncated.status == 200)
        #expect(!truncated.bodyIsComplete)
    }

    // MARK: Many probes, one thread

    @Test func twoHundredProbesRunOnOneThread() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 200, delay: .milliseconds(200), body: "ok")
        let prober = try Prober()
        defer { prober.stop() }
        let count = 200
        let results = Mutex<[(outcome: ProbeOutcome, thread: UInt)]>([])
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            for _ in 0..<count {
                prober.probe(.http(server.address, host: "gw", path: "/", timeout: .seconds(10))) { outcome in
                    let done = results.withLock { results in
                        results.append((outcome, Process.currentThreadID))
                        return results.count == count
                    }
                    if done { continuation.resume() }
                }
            }
        }
        let all = results.withLock { $0 }
        #expect(all.count == count)
        #expect(all.allSatisfy { $0.outcome.failure == nil && HTTPProbe.parseResponse($0.outcome.response)?.status == 200 })
        #expect(Set(all.map(\.thread)).count == 1, "every completion runs on the one prober thread")
        // Concurrent, not one after another: the server saw many requests waiting out their
        // 200 ms delay at the same time (one at a time would make the peak 1).
        #expect(server.peakConcurrentRequests >= 50, "peak \(server.peakConcurrentRequests) requests at once")
        #expect(server.requestCount == count)
    }

    @Test func thousandConnectProbesAtOnce() async throws {
        let listener = try LoopbackTCPListener()
        defer { listener.stop() }
        let prober = try Prober()
        defer { prober.stop() }
        let count = 1000
        let failures = Mutex<(done: Int, failed: [ProbeOutcome])>((0, []))
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            for _ in 0..<count {
                prober.probe(.tcp(listener.address, timeout: .seconds(10))) { outcome in
                    let done = failures.withLock { state in
                        state.done += 1
                        if outcome.failure != nil { state.failed.append(outcome) }
                        return state.done == count
                    }
                    if done { continuation.resume() }
                }
            }
        }
        #expect(failures.withLock { $0.failed } == [])
    }

    // MARK: Life cycle

    @Test func stopEndsProbesInFlightAndLaterProbes() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 200, delay: .seconds(10), body: "never")
        let prober = try Prober()
        let outcome = await withCheckedContinuation { continuation in
            prober.probe(.http(server.address, host: "gw", path: "/", timeout: .seconds(20))) {
                continuation.resume(returning: $0)
            }
            Clock.sleep(.milliseconds(100))
            prober.stop()
        }
        #expect(outcome.failure == .stopped)
        #expect(outcome.latency < .seconds(5))
        let later = await run(prober, .tcp(server.address, timeout: .seconds(1)))
        #expect(later.failure == .stopped)
    }

    @Test func completionMayStartTheNextProbe() async throws {
        let listener = try LoopbackTCPListener()
        defer { listener.stop() }
        let prober = try Prober()
        defer { prober.stop() }
        let request = ProbeRequest.tcp(listener.address, timeout: .seconds(2))
        let second = await withCheckedContinuation { continuation in
            prober.probe(request) { first in
                #expect(first.failure == nil)
                prober.probe(request) { continuation.resume(returning: $0) }
            }
        }
        #expect(second.failure == nil)
    }

    @Test func droppingTheLastReferenceStopsTheProber() async throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.set(status: 200, delay: .seconds(10), body: "never")
        let request = ProbeRequest.http(server.address, host: "gw", path: "/", timeout: .seconds(20))
        var prober: Prober? = try Prober()
        let outcome = await withCheckedContinuation { continuation in
            prober?.probe(request) { continuation.resume(returning: $0) }
            prober = nil
        }
        #expect(outcome.failure == .stopped)
    }

    // MARK: Resolution

    @Test func resolveNumericAndHostsFileNames() throws {
        #expect(try Prober.resolve(host: "127.0.0.1", port: 8080) == [try SocketAddress(parsing: "127.0.0.1:8080")])
        let local = try Prober.resolve(host: "localhost", port: 80)
        #expect(local.contains(try SocketAddress(parsing: "127.0.0.1:80")))
    }

    @Test func resolveEmptyNameThrows() {
        #expect(throws: ResolveError(host: "", reason: "empty host name")) {
            try Prober.resolve(host: "", port: 80)
        }
    }

    @Test func outcomeDescriptionsAreLoggable() {
        #expect("\(ProbeOutcome(failure: nil, latency: .microseconds(1_250)))" == "ok in 1.2 ms")
        #expect("\(ProbeOutcome(failure: .timeout(phase: "read"), latency: .seconds(2)))" == "timeout during read after 2000.0 ms")
        #expect("\(ProbeOutcome.Failure.connect(.ECONNREFUSED))" == "connect: ECONNREFUSED")
    }
}
