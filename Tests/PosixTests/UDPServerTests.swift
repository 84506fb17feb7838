import Glibc
import Posix
import TestSupport
import Synchronization
import Testing

/// Each behaviour under both loops: recvmmsg/sendmmsg and io_uring.
@Suite struct UDPServerTests {
    @Test(arguments: UDPServer.IO.allCases)
    func answersDatagrams(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 2, io: io) { EchoHandler() }
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

    @Test(arguments: UDPServer.IO.allCases)
    func batchFromOneSocketIsAnsweredToEachSource(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 1, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let senders = try (0..<8).map { _ in try UDPSender(to: server.boundAddresses[0]) }
        for (index, sender) in senders.enumerated() { try sender.send([UInt8(index)]) }
        for (index, sender) in senders.enumerated() {
            #expect(try sender.receive(timeout: .seconds(2)) == [0xAA, UInt8(index)])
        }
    }

    @Test(arguments: UDPServer.IO.allCases)
    func anIdleThreadCallsItsHandlersIdleAndStillAnswers(io: UDPServer.IO) throws {
        let handler = IdleCounter()
        let server = try UDPServer(listen: [loopback], threads: 1, io: io) { handler }
        defer { server.stop() }
        server.start()
        #expect(handler.waitForIdle())
        #expect(try DNSClient.udp([1, 2], to: server.boundAddresses[0], timeout: .seconds(2)) == [0xAA, 1, 2])
    }

    @Test(arguments: UDPServer.IO.allCases)
    func zeroLengthAnswerSendsNothing(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 1, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        #expect(try DNSClient.udp([0xFF, 1], to: server.boundAddresses[0], timeout: .milliseconds(300)) == nil)
    }

    /// Longer than `maxQuery` is dropped, even by a few bytes the io_uring loop's rounded
    /// buffers would hold; the echo would fit the response buffer, so only the length stops it.
    @Test(arguments: UDPServer.IO.allCases)
    func oversizedQueryIsDropped(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 1, maxResponse: 65535, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let sender = try UDPSender(to: server.boundAddresses[0])
        for extra in [1, 16, 40, 100] {
            try sender.send([UInt8](repeating: 7, count: UDPServer.maxQuery + extra))
        }
        try sender.send([1, 2])
        #expect(try sender.receive(timeout: .seconds(2)) == [0xAA, 1, 2])
        #expect(try sender.receive(timeout: .milliseconds(300)) == nil)
    }

    /// Empty datagrams get no answer and every query around them does. (Under io_uring each
    /// one ends the multishot receive, which has to be armed again.)
    @Test(arguments: UDPServer.IO.allCases)
    func emptyDatagramsInABurstAreSkipped(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 1, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let sender = try UDPSender(to: server.boundAddresses[0])
        let count = 150
        for index in 0..<count { try sender.send(index % 10 == 3 ? [] : [UInt8(index), 1]) }
        let expected = Set((0..<count).filter { $0 % 10 != 3 }.map { [0xAA, UInt8($0), 1] })
        var answers: [[UInt8]] = []
        while answers.count < expected.count, let answer = try sender.receive(timeout: .seconds(2)) {
            answers.append(answer)
        }
        #expect(answers.count == expected.count && Set(answers) == expected)
        #expect(try sender.receive(timeout: .milliseconds(300)) == nil)
    }

    /// More queries in flight (400) than the io_uring loop has buffers and send slots (128):
    /// rounds end when the slots run out, and every query is still answered.
    @Test(arguments: UDPServer.IO.allCases)
    func burstBeyondTheRingIsAnsweredInFull(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 1, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        // 100 small answers per socket stay well within a client's default receive buffer.
        let senders = try (0..<4).map { _ in try UDPSender(to: server.boundAddresses[0]) }
        let perSender = 100
        for index in 0..<perSender {
            for (number, sender) in senders.enumerated() { try sender.send([UInt8(number), UInt8(index)]) }
        }
        for (number, sender) in senders.enumerated() {
            var answers: Set<[UInt8]> = []
            while answers.count < perSender, let answer = try sender.receive(timeout: .seconds(2)) {
                answers.insert(answer)
            }
            #expect(answers == Set((0..<perSender).map { [0xAA, UInt8(number), UInt8($0)] }), "sender \(number)")
        }
    }

    @Test(arguments: UDPServer.IO.allCases)
    func wildcardAnswersFromQueriedAddress(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [try SocketAddress(parsing: "0.0.0.0:0")], threads: 1, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let port = server.boundAddresses[0].port
        // 127.0.0.2 is loopback too; a connected client only accepts answers from it.
        let target = try SocketAddress(parsing: "127.0.0.2:\(port)")
        #expect(try DNSClient.udp([9], to: target, timeout: .seconds(2)) == [0xAA, 9])
    }

    @Test(arguments: UDPServer.IO.allCases)
    func ipv6Loopback(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [try SocketAddress(parsing: "[::1]:0")], threads: 1, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        #expect(server.boundAddresses[0].isIPv6)
        #expect(try DNSClient.udp([5], to: server.boundAddresses[0], timeout: .seconds(2)) == [0xAA, 5])
    }

    /// A datagram of exactly `maxQuery` bytes is a query like any other under both loops
    /// (one byte more is dropped, above).
    @Test(arguments: UDPServer.IO.allCases)
    func queryOfMaxQueryBytesIsAnswered(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 1, maxResponse: 65535, io: io) { EchoHandler() }
        defer { server.stop() }
        server.start()
        let query = [UInt8](repeating: 3, count: UDPServer.maxQuery)
        #expect(try DNSClient.udp(query, to: server.boundAddresses[0], timeout: .seconds(2)) == [0xAA] + query)
    }

    /// The probe says io_uring works where the kernel has it (6.1 or later, not disabled by
    /// kernel.io_uring_disabled); elsewhere it must name the refusal, not crash or hang.
    @Test func uringProbeMatchesTheKernel() throws {
        let refusal = UDPServer.uringUnavailability()
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let numbers = release.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
        let atLeast61 = numbers.count == 2 && (numbers[0], numbers[1]) >= (6, 1)
        // A missing file (kernels before 6.6) means io_uring cannot be switched off this way.
        let disabled = (try? FileIO.read("/proc/sys/kernel/io_uring_disabled", limit: 64)).map { String(decoding: $0.prefix { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self) } ?? "0"
        if atLeast61 && disabled == "0" {
            #expect(refusal == nil, "kernel \(release) with io_uring enabled, yet: \(refusal.map { "\($0)" } ?? "")")
        } else {
            let error = try #require(refusal, "kernel \(release), io_uring_disabled=\(disabled): probe said available")
            #expect([Errno(rawValue: EPERM), Errno(rawValue: ENOSYS), .EINVAL].contains(error.errno), "\(error)")
        }
    }

    /// Stopping a server wakes its workers at once: shutdown() ends recvmmsg, and the wake
    /// pipe ends an io_uring wait (shutdown() does not).
    @Test(arguments: UDPServer.IO.allCases)
    func stopEndsTheWorkersPromptly(io: UDPServer.IO) throws {
        let server = try UDPServer(listen: [loopback], threads: 2, io: io) { EchoHandler() }
        server.start()
        #expect(try DNSClient.udp([1], to: server.boundAddresses[0], timeout: .seconds(2)) == [0xAA, 1])
        let started = ContinuousClock.now
        server.stop()
        // Far less than the idle interval: the io_uring worker wakes on the stop, not its timeout.
        #expect(ContinuousClock.now - started < .milliseconds(500), "\(ContinuousClock.now - started)")
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
