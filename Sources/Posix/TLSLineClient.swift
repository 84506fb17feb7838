import Glibc

/// The client side of `TLSLineServer`, for the command-line tool: one line, one reply, as
/// `UnixLineClient` does over the Unix socket.
public enum TLSLineClient {
    /// Connects to `host` (a DNS name or an IP address) on `port`, checks that the server's
    /// certificate chains to the context's CA and names `host`, sends `line` (a `\n` is
    /// added), sends close_notify and reads the reply until the server closes. Returns the
    /// reply without its final `\n`.
    ///
    /// - Throws: `TLSError` saying what failed and, for a refusal at the handshake, that the
    ///   server refused this client's certificate: `connect 192.0.2.1:8953: ECONNREFUSED`,
    ///   `the server refused this client's certificate at the handshake (TLS read: tlsv1
    ///   alert unknown ca)`, `TLS handshake: certificate verify failed: hostname mismatch`.
    public static func request(host: String, port: UInt16, context: TLSContext, line: String,
                               timeout: Duration = .seconds(10)) throws(TLSError) -> String {
        let deadline = Clock.now() &+ nanoseconds(timeout)
        let left = { Duration.nanoseconds(Int64(clamping: deadline > Clock.now() ? deadline - Clock.now() : 0)) }
        let fd = try connect(host: host, port: port, timeout: timeout)
        defer { closeDescriptor(fd) }
        let connection: TLSConnection
        do {
            connection = try TLSConnection.connect(fd, host: host, context: context, timeout: left())
        } catch {
            throw refusal(error) ?? error
        }
        var request = Array(line.utf8)
        if request.last != UInt8(ascii: "\n") { request.append(UInt8(ascii: "\n")) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        do {
            try connection.write(request, timeout: left())
            try connection.closeWrite(timeout: left())
        } catch {
            // In TLS 1.3 the server judges the client's certificate after the client's side
            // of the handshake is done: its refusal may be waiting to be read.
            let count: Int
            do {
                count = try connection.read(into: &chunk, timeout: .milliseconds(200))
            } catch let readError {
                throw refusal(readError) ?? refusal(error) ?? error
            }
            guard count > 0 else { throw refusal(error) ?? error }
            reply.append(contentsOf: chunk[0..<count])
        }
        while true {
            let count: Int
            do {
                count = try connection.read(into: &chunk, timeout: left())
            } catch {
                throw (reply.isEmpty ? refusal(error) : nil) ?? error
            }
            if count == 0 { break }
            reply.append(contentsOf: chunk[0..<count])
        }
        if reply.last == UInt8(ascii: "\n") { reply.removeLast() }
        return String(decoding: reply, as: UTF8.self)
    }

    /// The error as a refusal of this client's certificate, when it is one (an alert from
    /// the server about the certificate, or none sent).
    static func refusal(_ error: TLSError) -> TLSError? {
        let text = error.description
        let certificateAlerts = ["unknown ca", "bad certificate", "certificate required", "certificate revoked",
                                 "certificate expired", "certificate unknown", "unsupported certificate", "access denied"]
        guard text.contains("alert"), certificateAlerts.contains(where: { text.contains($0) }) else { return nil }
        return TLSError("the server refused this client's certificate at the handshake (\(text))")
    }

    /// A TCP connection to the first address of `host` that takes one.
    private static func connect(host: String, port: UInt16, timeout: Duration) throws(TLSError) -> Int32 {
        let addresses: [SocketAddress]
        do { addresses = try Prober.resolve(host: host, port: port) } catch { throw TLSError("\(error)") }
        var failures: [String] = []
        for address in addresses {
            do {
                return try HTTPClient.connect(address, timeout: timeout)
            } catch {
                failures.append("\(error)")
            }
        }
        throw TLSError(failures.joined(separator: "; "))
    }
}
