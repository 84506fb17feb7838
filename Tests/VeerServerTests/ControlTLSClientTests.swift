import Posix
import Synchronization
import Testing
@testable import VeerServer

/// The CLI's side of the admin protocol over TLS, without a server: which options make which
/// transport, and the limit on logging refused handshakes.
struct ControlTLSClientTests {
    @Test(arguments: [
        ("ns1.example.com:8953", "ns1.example.com", 8953), ("192.0.2.53:8953", "192.0.2.53", 8953),
        ("[2001:db8::53]:8953", "2001:db8::53", 8953), ("[::1]:1", "::1", 1),
    ])
    func hostAndPort(text: String, host: String, port: Int) throws {
        let (parsedHost, parsedPort) = try AdminTransport.hostAndPort(text)
        #expect(parsedHost == host && Int(parsedPort) == port)
    }

    @Test(arguments: ["ns1.example.com", "ns1.example.com:", ":8953", "host:0", "host:65536", "[::1:8953", "a b:1"])
    func aBadServerIsAUsageError(text: String) {
        #expect(throws: UsageError.self) { try AdminTransport.hostAndPort(text) }
    }

    static func transport(_ words: [String]) throws(UsageError) -> AdminTransport {
        var options = AdminTransport.Options()
        var rest = words[...]
        while let word = rest.popFirst() { _ = try options.take(word, &rest) }
        return try options.transport()
    }

    @Test func theOptionsChooseTheTransport() throws {
        guard case .socket(let path) = try Self.transport([]) else { Issue.record("not the socket"); return }
        #expect(path == AdminClient.defaultPath)
        guard case .tls(let host, let port, let ca, let cert, let key) =
                try Self.transport(["--server=ns1:8953", "--ca", "ca.pem", "--cert", "c.pem", "--key=c.key"]) else {
            Issue.record("not TLS")
            return
        }
        #expect(host == "ns1" && port == 8953 && ca == "ca.pem" && cert == "c.pem" && key == "c.key")
    }

    @Test(arguments: [
        (["--server", "ns1:8953", "--ca", "ca.pem", "--cert", "c.pem"], "--key is missing"),
        (["--cert", "c.pem"], "--cert goes with --server"),
        (["--server", "ns1:8953", "--admin", "a.sock", "--ca", "x", "--cert", "y", "--key", "z"], "one or the other"),
        (["--server"], "--server needs a value"),
    ])
    func incompleteOptionsAreUsageErrors(words: [String], message: String) {
        do {
            _ = try Self.transport(words)
            Issue.record("\(words) accepted")
        } catch {
            #expect(error.description.contains(message), "\(error)")
        }
    }

    @Test func refusedHandshakesAreLoggedAtMostTenASecondAndTheRestCounted() {
        let now = Mutex<Int64>(100)
        let log = RefusalLog(clock: { now.withLock { $0 } })
        let logged = (0..<25).compactMap { log.note("refused \($0)") }
        #expect(logged == (0..<10).map { "refused \($0)" })
        now.withLock { $0 = 101 }
        #expect(log.note("refused 25") == "refused 25 (and 15 more refused handshakes not logged)")
        #expect(log.note("refused 26") == "refused 26")
    }
}
