import DNSWire
import Posix
import TestSupport
import Testing

/// Bounded corruption test (STYLE.md "Fuzzing stays enabled"): many mutated packets at a
/// running server, then it must still answer. Seeded, so a failure can be replayed.
@Suite struct RobustnessTests {
    static let seed: UInt64 = 0x7665_6572_2D66_757A   // "veer-fuz"
    static let udpPackets = 100_000
    static let udpBudget = Duration.seconds(20)
    /// A good query every this many packets: paces the sender to the server, so more than
    /// the socket buffer is exercised, and notices an early death.
    static let probeInterval = 1_000
    static let tcpConnections = 4
    static let tcpMessagesPerConnection = 500
    static let tcpBatch = 25

    /// The server closes a TCP connection on a message it will not answer (shorter than a
    /// header, QR=1) or a zero-length frame. 99 times in 100 such a message is repaired so
    /// that a connection carries many messages to the parser before it ends.
    static func mostlyKeepingTheConnection(_ message: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var message = Array(message.prefix(TCPServer.maxMessage))
        guard random.below(100) != 0 else { return message }
        if message.count < Header.size { message += [UInt8](repeating: 0, count: Header.size - message.count) }
        message[2] &= 0x7F   // QR clear
        return message
    }

    @Test func survivesMutatedPacketsOverUDPAndTCP() throws {
        let server = try Fixture.server()
        var mutator = Mutator(seeds: try Mutator.seedQueries(), random: SplitMix64(seed: Self.seed))

        // UDP: fire and forget, with a probe now and then.
        let sender = try UDPSender(to: server.address)
        let prober = try UDPSender(to: server.address)
        let probe = try Raw.query("www.example.com", .a, id: 0x9999)
        let start = ContinuousClock.now
        var sent = 0, probesAnswered = 0, probes = 0
        var sendError: (any Error)?
        while sent < Self.udpPackets && ContinuousClock.now - start < Self.udpBudget {
            do {
                try sender.send(mutator.next())
            } catch {
                sendError = error   // ECONNREFUSED: nobody listens any more
                break
            }
            sent += 1
            if sent % Self.probeInterval == 0 {
                probes += 1
                try prober.send(probe)
                while let reply = try prober.receive(timeout: .milliseconds(500)) {
                    if reply.count >= 2 && reply[0] == 0x99 && reply[1] == 0x99 { probesAnswered += 1; break }
                }
            }
        }
        let udpTime = ContinuousClock.now - start
        #expect(sendError == nil, "UDP send failed after \(sent) packets: \(String(describing: sendError))\n\(server.stderr)")
        #expect(server.isRunning, "server died during the UDP fuzz (\(sent) sent)\n\(server.stderr)")
        #expect(sent >= Self.udpPackets || udpTime >= Self.udpBudget)
        #expect(probesAnswered > 0, "no probe answered during the UDP fuzz")

        // TCP: batches of framed mutated messages on a few connections; reconnect when the
        // server closes one.
        var tcpSent = 0, reconnects = 0
        let tcpStart = ContinuousClock.now
        for _ in 0..<Self.tcpConnections {
            var client = try TCPClient(connectingTo: server.address, timeout: .seconds(2))
            var remaining = Self.tcpMessagesPerConnection
            while remaining > 0 && ContinuousClock.now - tcpStart < .seconds(15) {
                let count = min(Self.tcpBatch, remaining)
                var framed: [UInt8] = []
                for _ in 0..<count {
                    framed += TCPClient.frame(Self.mostlyKeepingTheConnection(mutator.next(), &mutator.random))
                }
                remaining -= count
                tcpSent += count
                var closed: Bool
                do {
                    try client.send(raw: framed, timeout: .seconds(2))
                    closed = try client.waitForClose(timeout: .milliseconds(10))
                } catch {
                    closed = true
                }
                if closed {
                    reconnects += 1
                    client = try TCPClient(connectingTo: server.address, timeout: .seconds(2))
                }
            }
            // End on a frame whose length prefix promises more than is sent, then hang up.
            try? client.send(raw: [0x01, 0xF4] + mutator.next().prefix(10), timeout: .seconds(1))
        }
        #expect(server.isRunning, "server died during the TCP fuzz\n\(server.stderr)")

        // Afterwards: the right answer over UDP (dig) and TCP.
        let udp = try server.dig("www.example.com", "A")
        #expect(udp.status == "NOERROR" && udp.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(udp)\n\(server.stderr)")
        let tcp = try server.dig("big.example.com", "TXT", "+tcp")
        #expect(tcp.answer.count == Fixture.bigCount, "\(tcp)")
        #expect(server.isRunning, "\(server.stderr)")
        print("fuzz: udp \(sent) packets in \(udpTime), probes \(probesAnswered)/\(probes); tcp \(tcpSent) messages, \(reconnects) reconnects")
    }
}
