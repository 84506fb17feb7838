import Posix
import TestSupport
import Synchronization
import Testing

@Suite struct UDPServerTests {
    @Test func answersDatagrams() throws {
        let server = try UDPServer(listen: [loopback], threads: 2) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let address = server.boundAddresses[0]
        #expect(address.port != 0)
        for index in 0..<20 {
            let query: [UInt8] = [UInt8(index), 1, 2, 3]
            let answer = try DNSClient.udp(query, to: address, timeout: .seconds(2))
            #expect(answer == [0xAA] + query)
        }
    }

    @Test func batchFromOneSocketIsAnsweredToEachSource() throws {
        let server = try UDPServer(listen: [loopback], threads: 1) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let senders = try (0..<8).map { _ in try UDPSender(to: server.boundAddresses[0]) }
        for (index, sender) in senders.enumerated() { try sender.send([UInt8(index)]) }
        for (index, sender) in senders.enumerated() {
            #expect(try sender.receive(timeout: .seconds(2)) == [0xAA, UInt8(index)])
        }
    }

    @Test func anIdleThreadCallsItsHandlersIdleAndStillAnswers() throws {
        let handler = IdleCounter()
        let server = try UDPServer(listen: [loopback], threads: 1) { handler }
        defer { server.stop() }
        server.start()
        #expect(handler.waitForIdle())
        #expect(try DNSClient.udp([1, 2], to: server.boundAddresses[0], timeout: .seconds(2)) == [0xAA, 1, 2])
    }

    @Test func zeroLengthAnswerSendsNothing() throws {
        let server = try UDPServer(listen: [loopback], threads: 1) { EchoHandler() }
        defer { server.stop() }
        server.start()
        #expect(try DNSClient.udp([0xFF, 1], to: server.boundAddresses[0], timeout: .milliseconds(300)) == nil)
    }

    @Test func oversizedQueryIsDropped() throws {
        let server = try UDPServer(listen: [loopback], threads: 1) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let sender = try UDPSender(to: server.boundAddresses[0])
        try sender.send([UInt8](repeating: 7, count: UDPServer.maxQuery + 1))
        #expect(try sender.receive(timeout: .milliseconds(300)) == nil)
        try sender.send([1, 2])
        #expect(try sender.receive(timeout: .seconds(2)) == [0xAA, 1, 2])
    }

    @Test func wildcardAnswersFromQueriedAddress() throws {
        let server = try UDPServer(listen: [try SocketAddress(parsing: "0.0.0.0:0")], threads: 1) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let port = server.boundAddresses[0].port
        // 127.0.0.2 is loopback too; a connected client only accepts answers from it.
        let target = try SocketAddress(parsing: "127.0.0.2:\(port)")
        #expect(try DNSClient.udp([9], to: target, timeout: .seconds(2)) == [0xAA, 9])
    }

    @Test func ipv6Loopback() throws {
        let server = try UDPServer(listen: [try SocketAddress(parsing: "[::1]:0")], threads: 1) { EchoHandler() }
        defer { server.stop() }
        server.start()
        #expect(server.boundAddresses[0].isIPv6)
        #expect(try DNSClient.udp([5], to: server.boundAddresses[0], timeout: .seconds(2)) == [0xAA, 5])
    }

    @Test func portInUseIsEADDRINUSE() throws {
        let first = try UDPServer(listen: [loopback], threads: 2) { EchoHandler() }
        defer { first.stop() }
        let taken = first.boundAddresses[0]
        #expect {
            _ = try UDPServer(listen: [taken], threads: 1) { EchoHandler() }
        } throws: { error in
            "\(error)" == "bind \(taken): EADDRINUSE (Address already in use)"
        }
    }
}
