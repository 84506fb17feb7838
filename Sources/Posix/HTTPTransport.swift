import Glibc

/// Where `HTTPClient` connects: a socket address and, for `https://`, the TLS context and the
/// name the server's certificate must carry (an IP address or a DNS name, also sent as SNI).
public struct HTTPEndpoint: Sendable, CustomStringConvertible {
    /// The TLS side of an `https://` endpoint.
    public struct TLS: Sendable {
        /// What this client presents and trusts.
        public let context: TLSContext
        /// The name the server's certificate must carry: the host of the URL.
        public let host: String

        /// TLS with `context`, checking that the server's certificate names `host`.
        public init(context: TLSContext, host: String) {
            self.context = context
            self.host = host
        }
    }

    /// The TCP address.
    public let address: SocketAddress
    /// nil: plain HTTP.
    public let tls: TLS?

    /// An endpoint at `address`, plain HTTP unless `tls` is given.
    public init(_ address: SocketAddress, tls: TLS? = nil) {
        self.address = address
        self.tls = tls
    }

    /// The address, as plain HTTP's messages always said it (`127.0.0.1:2379`).
    public var description: String { "\(address)" }
}

/// One HTTP connection, plain or TLS: bytes out and in with deadlines. The socket is closed
/// when it goes. Used by one thread at a time.
final class HTTPConnection {
    let fd: Int32
    let endpoint: HTTPEndpoint
    private var tls: TLSConnection?

    private init(fd: Int32, endpoint: HTTPEndpoint, tls: TLSConnection?) {
        self.fd = fd
        self.endpoint = endpoint
        self.tls = tls
    }

    deinit {
        tls = nil
        closeDescriptor(fd)
    }

    /// Connects to `endpoint` within `timeout` and, for TLS, finishes the handshake in the
    /// time left. Throws `SystemError` (the TCP connect) or `TLSError` (the handshake); in
    /// both cases nothing was sent. TLS errors do not name the endpoint: the caller does.
    static func open(_ endpoint: HTTPEndpoint, timeout: Duration) throws -> HTTPConnection {
        let start = ContinuousClock.now
        let fd = try HTTPClient.connect(endpoint.address, timeout: timeout)
        guard let tls = endpoint.tls else { return HTTPConnection(fd: fd, endpoint: endpoint, tls: nil) }
        do {
            let left = max(.milliseconds(1), timeout - (ContinuousClock.now - start))
            let connection = try TLSConnection.connect(fd, host: tls.host, context: tls.context, timeout: left)
            return HTTPConnection(fd: fd, endpoint: endpoint, tls: connection)
        } catch {
            closeDescriptor(fd)
            if TLSLineClient.refusal(error) != nil { throw HTTPCertificateRefused(endpoint: endpoint, reason: error.description) }
            throw error
        }
    }

    /// Sends all of `bytes` (plain: within the socket's send timeout set at connect).
    func send(_ bytes: [UInt8], timeout: Duration) throws {
        guard let tls else { return try HTTPClient.send(fd, bytes, to: endpoint.address) }
        do {
            try tls.write(bytes, timeout: timeout)
        } catch {
            // In TLS 1.3 the server judges this client's certificate after the handshake: its
            // refusal may be waiting to be read.
            var chunk = [UInt8](repeating: 0, count: 512)
            var alert = refusal(error)
            do { _ = try tls.read(into: &chunk, timeout: .milliseconds(200)) } catch let readError {
                alert = refusal(readError) ?? alert
            }
            if let alert { throw alert }
            throw error
        }
    }

    /// Waits up to `timeout` for bytes, then reads what is there (0 at the end of the stream).
    func read(into buffer: inout [UInt8], timeout: Duration) throws -> Int {
        guard let tls else { return try HTTPClient.read(fd, into: &buffer, from: endpoint.address, timeout: timeout) }
        do {
            return try tls.read(into: &buffer, timeout: timeout)
        } catch {
            if let alert = refusal(error) { throw alert }
            throw error
        }
    }

    /// A refusal of this client's certificate, as `HTTPCertificateRefused`.
    private func refusal(_ error: TLSError) -> HTTPCertificateRefused? {
        TLSLineClient.refusal(error).map { _ in HTTPCertificateRefused(endpoint: endpoint, reason: error.description) }
    }
}

/// The server refused this client's certificate (or its lack of one), after the TLS handshake
/// as TLS 1.3 does it: the request was not served.
public struct HTTPCertificateRefused: Error, CustomStringConvertible {
    /// The server that refused.
    public let endpoint: HTTPEndpoint
    /// The TLS error that carried the alert: `TLS read: tlsv13 alert certificate required`.
    public let reason: String
    /// `127.0.0.1:2379: the server refused this client's certificate at the handshake (…)`.
    public var description: String { "\(endpoint): the server refused this client's certificate at the handshake (\(reason))" }
}
