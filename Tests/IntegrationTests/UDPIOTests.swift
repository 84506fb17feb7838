import DNSWire
import Foundation
import Posix
import Synchronization
import TestSupport
import Testing

/// `--io=uring` and `--io=mmsg`: the real binary answers the real dig the same either way,
/// and says in its log which UDP loop runs.
@Suite struct UDPIOTests {
    /// Queries in flight per client socket in the burst: well under what a socket's default
    /// receive buffer holds, so an answer lost would be the server's fault, not the client's.
    static let window = 32

    @Test func uringAnswersDigAndSaysSo() throws {
        let server = try Fixture.server(extraArguments: ["--io=uring"])
        let line = try server.logLine(containing: "udp io:")
        #expect(line.contains(" info udp io: uring (--io=uring"), "\(line)")

        let answer = try server.dig("www.example.com", "A", "+notcp")
        #expect(answer.status == "NOERROR", "\(answer)")
        #expect(answer.flags.contains("aa"), "\(answer)")
        #expect(answer.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(answer)")

        let missing = try server.dig("nowhere.example.com", "A", "+notcp")
        #expect(missing.status == "NXDOMAIN", "\(missing)")
        #expect(missing.answer.isEmpty, "\(missing)")
        #expect(missing.authority == [Fixture.negativeSOA], "\(missing)")
    }

    /// 2,000 queries from 4 sockets, 32 in flight on each: every one answered, with its own
    /// id and the record its name asks for.
    @Test(arguments: UDPServer.IO.allCases)
    func burstIsAnsweredInFull(io: UDPServer.IO) throws {
        let server = try Fixture.server(extraArguments: ["--io=\(io.rawValue)", "--threads", "2"])
        let names = [("www.example.com", "www.example.com. 3600 IN A 192.0.2.10"),
                     ("mail.example.com", "mail.example.com. 3600 IN A 192.0.2.25"),
                     ("ns1.example.com", "ns1.example.com. 3600 IN A 192.0.2.53")]
        let clients = 4, perClient = 500
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: clients) { client in
            do {
                let sender = try UDPSender(to: server.address)
                var next = 0, answered = 0
                while answered < perClient {
                    while next < perClient && next - answered < Self.window {
                        let id = UInt16(client * perClient + next)
                        try sender.send(try Raw.query(names[Int(id) % names.count].0, .a, id: id))
                        next += 1
                    }
                    guard let bytes = try sender.receive(timeout: .seconds(2)) else {
                        failures.withLock { $0.append("client \(client): \(perClient - answered) queries unanswered") }
                        return
                    }
                    let response = try Raw.decode(bytes)
                    let id = Int(response.header.id)
                    let expected = names[id % names.count].1
                    if id / perClient != client || response.rcode != .noError || response.answerLines != [expected] {
                        failures.withLock { $0.append("client \(client), id \(id): \(response.rcode) \(response.answerLines)") }
                    }
                    answered += 1
                }
            } catch {
                failures.withLock { $0.append("client \(client): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(server.isRunning)
    }

    /// Bound to 0.0.0.0, the io_uring loop sends each answer from the address its query went
    /// to: dig checks the source, and a connected socket on 127.0.0.2 drops anything else.
    @Test func uringOnAWildcardAnswersFromTheQueriedAddress() throws {
        let server = try VeerProcess(zones: Fixture.zones, listen: "0.0.0.0:0", extraArguments: ["--io=uring"])
        _ = try server.logLine(containing: "udp io: uring")
        let answer = try DigResult.asking("127.0.0.1", port: server.port, ["www.example.com", "A", "+notcp"])
        #expect(answer.status == "NOERROR", "\(answer)")
        #expect(answer.answer == ["www.example.com. 3600 IN A 192.0.2.10"], "\(answer)")
        #expect(!answer.output.contains("unexpected source"), "\(answer)")

        for target in ["127.0.0.1", "127.0.0.2"] {
            let address = try SocketAddress(parsing: "\(target):\(server.port)")
            let bytes = try #require(try DNSClient.udp(try Raw.query("mail.example.com", .a), to: address, timeout: .seconds(2)),
                                     "no answer from \(target)")
            #expect(try Raw.decode(bytes).answerLines == ["mail.example.com. 3600 IN A 192.0.2.25"])
        }
    }

    @Test func defaultIsMmsgAndSaysSo() throws {
        let server = try Fixture.server()
        let line = try server.logLine(containing: "udp io:")
        #expect(line.contains(" info udp io: mmsg (recvmmsg/sendmmsg) (the default; --io=uring for io_uring)"), "\(line)")
        #expect(try server.dig("www.example.com", "A", "+notcp").answer == ["www.example.com. 3600 IN A 192.0.2.10"])
    }

    @Test func unknownIOIsAUsageError() throws {
        let result = try runProgram(try Tools.veer(), ["serve", "--io=epoll", "--listen", "127.0.0.1:0"])
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.contains("--io must be uring or mmsg, got \"epoll\""), "\(result.output)")
    }
}
