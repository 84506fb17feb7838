import Posix
import TestSupport
import Testing

@Suite struct UnixLineServerTests {
    /// Replies "ok <line>" and remembers nothing; "whoami" replies with the peer's uid.
    private func startServer(in directory: String) throws -> UnixLineServer {
        let server = try UnixLineServer(path: directory + "/admin.sock") { line, peer in
            line == "whoami" ? "ok uid=\(peer.uid) gid=\(peer.gid) pid=\(peer.pid)" : "ok \(line)"
        }
        server.start()
        return server
    }

    @Test func answersEachLineOnOneConnection() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let server = try startServer(in: directory)
        defer { server.stop() }
        let reply = try UnixLineClient.request(path: server.path, line: "status\r\nweights api")
        #expect(reply == "ok status\nok weights api")
    }

    @Test func peerCredentialsAreTheCaller() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let server = try startServer(in: directory)
        defer { server.stop() }
        let reply = try UnixLineClient.request(path: server.path, line: "whoami")
        #expect(reply.hasPrefix("ok uid=\(Process.currentUID) gid=\(Process.currentGID) pid="))
    }

    @Test func socketFileIsPrivate() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let server = try startServer(in: directory)
        #expect(try FileIO.permissions(server.path) == 0o600)
        server.stop()
        #expect(!FileIO.exists(server.path))
    }

    @Test func longLineIsRefused() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let server = try startServer(in: directory)
        defer { server.stop() }
        let exactlyMax = String(repeating: "a", count: 4096)
        #expect(try UnixLineClient.request(path: server.path, line: exactlyMax) == "ok " + exactlyMax)
        let tooLong = String(repeating: "b", count: 4097)
        #expect(try UnixLineClient.request(path: server.path, line: tooLong + "\nstatus")
                == "error: line too long (max 4096 bytes)")
        let huge = String(repeating: "c", count: 200_000)
        #expect(try UnixLineClient.request(path: server.path, line: huge) == "error: line too long (max 4096 bytes)")
    }

    @Test func staleSocketIsReplacedButLiveOneIsNot() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let first = try startServer(in: directory)
        #expect {
            _ = try UnixLineServer(path: first.path) { _, _ in "" }
        } throws: { error in
            (error as? SystemError)?.errno == .EADDRINUSE
        }
        // Simulate a crash: the listener goes away, the file stays.
        let path = first.path
        first.stop()
        let stale = try UnixLineServer(path: path) { _, _ in "" }
        let again = try UnixLineServer(path: path + ".2") { _, _ in "" }
        stale.stop()
        again.stop()
    }

    @Test func refusesToReplaceARegularFile() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let path = directory + "/not-a-socket"
        try FileIO.writeAtomically(Array("keep me".utf8), to: path)
        #expect {
            _ = try UnixLineServer(path: path) { _, _ in "" }
        } throws: { error in
            "\(error)".contains("exists and is not a socket")
        }
        #expect(try FileIO.read(path, limit: 1 << 20) == Array("keep me".utf8))
    }

    @Test func clientReportsMissingServer() {
        #expect {
            _ = try UnixLineClient.request(path: "/nonexistent/veer.sock", line: "status")
        } throws: { error in
            "\(error)".hasPrefix("connect /nonexistent/veer.sock: ENOENT")
        }
    }
}
