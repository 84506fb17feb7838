import Posix
import TestSupport
import Testing

@Suite struct TCPServerTests {
    private func startServer(maxConnections: Int = 256, idleTimeout: Duration = .seconds(10)) throws -> TCPServer {
        let server = try TCPServer(listen: [loopback], maxConnections: maxConnections, idleTimeout: idleTimeout) {
            EchoHandler()
        }
        server.start()
        return server
    }

    @Test func pipelinedQueriesAreAnsweredInOrder() throws {
        let server = try startServer()
        defer { server.stop() }
        let answers = try DNSClient.tcp([[1, 1], [2, 2, 2], [3]], to: server.boundAddresses[0], timeout: .seconds(5))
        #expect(answers == [[0xBB, 1, 1], [0xBB, 2, 2, 2], [0xBB, 3]])
    }

    @Test func anIdleLoopCallsItsHandlersIdleAndStillAnswers() throws {
        let handler = IdleCounter()
        let server = try TCPServer(listen: [loopback], maxConnections: 8, idleTimeout: .seconds(10)) { handler }
        server.start()
        defer { server.stop() }
        #expect(handler.waitForIdle())
        #expect(try DNSClient.tcp([[5, 6]], to: server.boundAddresses[0], timeout: .seconds(5)) == [[0xBB, 5, 6]])
    }

    @Test func splitWriteIsReassembled() throws {
        let server = try startServer()
        defer { server.stop() }
        let client = try TCPClient(connectingTo: server.boundAddresses[0], timeout: .seconds(5))
        let framed = TCPClient.frame([7, 8, 9, 10])
        try client.send(raw: [framed[0]])
        Clock.sleep(.milliseconds(50))
        try client.send(raw: Array(framed[1...3]))
        Clock.sleep(.milliseconds(50))
        // The rest of this message and all of the next one in one write.
        try client.send(raw: Array(framed[4...]) + TCPClient.frame([11]))
        #expect(try client.receiveMessage(timeout: .seconds(5)) == [0xBB, 7, 8, 9, 10])
        #expect(try client.receiveMessage(timeout: .seconds(5)) == [0xBB, 11])
    }

    @Test func largestMessageRoundTrips() throws {
        let server = try startServer()
        defer { server.stop() }
        let query = [UInt8](repeating: 0x42, count: TCPServer.maxMessage - 1)
        let answers = try DNSClient.tcp([query, query], to: server.boundAddresses[0], timeout: .seconds(10))
        #expect(answers == [[0xBB] + query, [0xBB] + query])
    }

    @Test func idleConnectionIsClosed() throws {
        let server = try startServer(idleTimeout: .milliseconds(200))
        defer { server.stop() }
        let client = try TCPClient(connectingTo: server.boundAddresses[0], timeout: .seconds(5))
        try client.send(message: [1])
        #expect(try client.receiveMessage(timeout: .seconds(5)) == [0xBB, 1])
        let start = Clock.now()
        #expect(try client.waitForClose(timeout: .seconds(5)))
        let waited = Clock.now() - start
        #expect(waited >= 150_000_000 && waited < 2_000_000_000)
    }

    @Test func zeroLengthAnswerClosesAfterEarlierAnswers() throws {
        let server = try startServer()
        defer { server.stop() }
        let answers = try DNSClient.tcp([[1], [0xFF], [2]], to: server.boundAddresses[0], timeout: .seconds(5))
        #expect(answers == [[0xBB, 1]])
    }

    @Test func connectionCapEvictsLeastRecentlyActive() throws {
        let server = try startServer(maxConnections: 2)
        defer { server.stop() }
        let address = server.boundAddresses[0]
        let oldest = try TCPClient(connectingTo: address, timeout: .seconds(5))
        try oldest.send(message: [1])
        #expect(try oldest.receiveMessage(timeout: .seconds(5)) == [0xBB, 1])
        Clock.sleep(.milliseconds(20))
        let second = try TCPClient(connectingTo: address, timeout: .seconds(5))
        try second.send(message: [2])
        #expect(try second.receiveMessage(timeout: .seconds(5)) == [0xBB, 2])
        let third = try TCPClient(connectingTo: address, timeout: .seconds(5))
        try third.send(message: [3])
        #expect(try third.receiveMessage(timeout: .seconds(5)) == [0xBB, 3])
        #expect(try oldest.waitForClose(timeout: .seconds(2)))
        try second.send(message: [4])
        #expect(try second.receiveMessage(timeout: .seconds(5)) == [0xBB, 4])
    }

    @Test func slowReaderDoesNotBlockOthers() throws {
        let server = try startServer()
        defer { server.stop() }
        let address = server.boundAddresses[0]
        // Queue far more answers than the socket buffers hold, and never read them.
        let stuck = try TCPClient(connectingTo: address, timeout: .seconds(5))
        let big = TCPClient.frame([UInt8](repeating: 1, count: 60_000))
        for _ in 0..<40 { try stuck.send(raw: big, timeout: .seconds(1)) }
        let answers = try DNSClient.tcp([[5]], to: address, timeout: .seconds(2))
        #expect(answers == [[0xBB, 5]])
    }

    @Test func portInUseIsEADDRINUSE() throws {
        let first = try TCPServer(listen: [loopback]) { EchoHandler() }
        defer { first.stop() }
        let taken = first.boundAddresses[0]
        #expect {
            _ = try TCPServer(listen: [taken]) { EchoHandler() }
        } throws: { error in
            (error as? SystemError)?.errno == .EADDRINUSE && "\(error)".contains("bind \(taken): EADDRINUSE")
        }
    }
}
