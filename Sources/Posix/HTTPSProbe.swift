import CPosix

/// An HTTPS GET for health checks through the system's libcurl (loaded at run time by
/// `cposix_https_get`), with the per-request trust settings FoundationNetworking's URLSession
/// lacks on Linux: no verification, a CA file of the check's own, and a connect address apart
/// from the name that SNI, certificate check and Host header use.
///
/// `get` blocks its thread for up to the timeout: call it from a queue set aside for it.
public enum HTTPSProbe {
    /// One probe.
    public struct Request: Sendable, Equatable {
        /// The URL's host: TLS SNI, the name the certificate must match, and the Host header.
        public var host: String
        /// The port in the URL (and the one connected to, unless `connectTo` says otherwise).
        public var port: UInt16
        /// Request path, starting with `/`.
        public var path: String
        /// Where to connect; nil resolves `host` with libcurl's resolver.
        public var connectTo: SocketAddress?
        /// Limit for the connect and for the whole request.
        public var timeout: Duration
        /// Skip certificate and host name verification.
        public var insecure: Bool
        /// PEM file of the CAs to trust instead of the system's; nil for the system's.
        public var caFile: String?
        /// Most body bytes kept; a longer body ends the transfer there, successfully.
        public var maxBody: Int

        /// Default for `maxBody`, as for plain HTTP probes: health endpoints answer with a few
        /// hundred bytes.
        public static let defaultMaxBody = ProbeRequest.defaultMaxResponse

        /// A probe; see the properties for what each part means.
        public init(host: String, port: UInt16, path: String = "/", connectTo: SocketAddress? = nil,
                    timeout: Duration, insecure: Bool = false, caFile: String? = nil,
                    maxBody: Int = Request.defaultMaxBody) {
            self.host = host
            self.port = port
            self.path = path
            self.connectTo = connectTo
            self.timeout = timeout
            self.insecure = insecure
            self.caFile = caFile
            self.maxBody = maxBody
        }

        /// `https://HOST:PORT/PATH`, with an IPv6 host in brackets.
        public var url: String {
            let literal = host.contains(":") ? "[\(host)]" : host
            return "https://\(literal):\(port)\(path)"
        }
    }

    /// How a probe ended.
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        /// An HTTP reply: its status and the first `maxBody` bytes of its body.
        case reply(status: Int, body: [UInt8])
        /// The timeout passed (during connect, TLS handshake or reply).
        case timeout
        /// Connect, TLS or protocol failure in libcurl's words, e.g. `SSL certificate problem:
        /// self-signed certificate`, or why libcurl could not be loaded.
        case failure(String)

        public var description: String {
            switch self {
            case .reply(let status, let body): "status \(status), \(body.count) body bytes"
            case .timeout: "timeout"
            case .failure(let reason): reason
            }
        }
    }

    /// Room for libcurl's error text (its CURL_ERROR_SIZE is 256) and the load failure message.
    static let errorCapacity = 512

    /// Runs `request` on the calling thread; returns how it ended and how long it took.
    public static func get(_ request: Request) -> (outcome: Outcome, latency: Duration) {
        var body = [UInt8](repeating: 0, count: max(1, request.maxBody))
        var bodyLength = 0
        var status = 0
        var error = [CChar](repeating: 0, count: errorCapacity)
        let connectTo = request.connectTo.map { "::\($0)" }
        let (seconds, attoseconds) = request.timeout.components
        let timeoutMs = max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
        let started = Clock.now()
        let result = body.withUnsafeMutableBufferPointer { bytes in
            cposix_https_get(request.url, connectTo, HTTPProbe.userAgent, timeoutMs, request.insecure ? 1 : 0,
                             request.caFile, bytes.baseAddress, request.maxBody, &bodyLength, &status,
                             &error, error.count)
        }
        let latency = Duration.nanoseconds(Int64(Clock.now() - started))
        let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch UInt32(result) {
        case CPOSIX_HTTPS_OK.rawValue:
            return (.reply(status: status, body: Array(body.prefix(bodyLength))), latency)
        case CPOSIX_HTTPS_TIMEOUT.rawValue:
            return (.timeout, latency)
        default:
            return (.failure(reason), latency)
        }
    }
}
