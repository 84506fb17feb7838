import COpenSSL
import Glibc

/// Why a TLS step failed, as OpenSSL or the system said it: `TLS handshake: certificate
/// verify failed: unable to get local issuer certificate`, `CRL ca.crl: No such file or
/// directory`.
public struct TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What failed and why, for people.
    public let description: String

    /// An error with this text.
    public init(_ description: String) { self.description = description }
}

/// A TLS configuration loaded from PEM files (OpenSSL's SSL_CTX): which certificate this side
/// presents and which CA it trusts for the other side's. Immutable once made; many
/// connections use one at once. A new one is made to take changed files (a reload).
public final class TLSContext: @unchecked Sendable {
    /// Room for OpenSSL's error texts.
    static let errorCapacity = 512
    let pointer: OpaquePointer

    private init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { copenssl_tls_context_free(pointer) }

    /// The server side of the admin protocol: TLS 1.2 or later, presenting `certificate`
    /// (a PEM chain) with `key`, serving only clients whose certificate chains to `ca` and,
    /// with `crl`, is not revoked by it.
    public static func server(ca: String, certificate: String, key: String, crl: String?) throws(TLSError) -> TLSContext {
        try make { error, size in copenssl_tls_server_context(ca, certificate, key, crl, error, size) }
    }

    /// The client side: presenting `certificate` with `key` (nothing when nil), trusting only
    /// `ca` for the server's certificate, or the system's default CAs when `ca` is nil.
    public static func client(ca: String?, certificate: String?, key: String?) throws(TLSError) -> TLSContext {
        try make { error, size in copenssl_tls_client_context(ca, certificate, key, error, size) }
    }

    private static func make(_ body: (UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?) throws(TLSError) -> TLSContext {
        var error = [CChar](repeating: 0, count: errorCapacity)
        let pointer = error.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard let pointer else { throw TLSError(cText(error)) }
        return TLSContext(pointer)
    }
}

/// One TLS connection over a connected socket it does not own: every call ends by its
/// deadline. Used by one thread at a time.
final class TLSConnection {
    private let pointer: OpaquePointer
    /// The context stays alive as long as its connections (OpenSSL counts it too).
    private let context: TLSContext
    private var error = [CChar](repeating: 0, count: TLSContext.errorCapacity)

    private init(_ pointer: OpaquePointer, _ context: TLSContext) {
        self.pointer = pointer
        self.context = context
    }

    deinit { copenssl_tls_free(pointer) }

    /// The server side of the handshake on `fd`, within `timeout`.
    static func accept(_ fd: Int32, context: TLSContext, timeout: Duration) throws(TLSError) -> TLSConnection {
        var error = [CChar](repeating: 0, count: TLSContext.errorCapacity)
        let pointer = error.withUnsafeMutableBufferPointer {
            copenssl_tls_accept(context.pointer, fd, milliseconds(timeout), $0.baseAddress, $0.count)
        }
        guard let pointer else { throw TLSError(cText(error)) }
        return TLSConnection(pointer, context)
    }

    /// The client side of the handshake on `fd`, within `timeout`: the server's certificate
    /// must name `host` (a DNS name or an IP address).
    static func connect(_ fd: Int32, host: String, context: TLSContext, timeout: Duration) throws(TLSError) -> TLSConnection {
        var error = [CChar](repeating: 0, count: TLSContext.errorCapacity)
        let pointer = error.withUnsafeMutableBufferPointer {
            copenssl_tls_connect(context.pointer, fd, host, milliseconds(timeout), $0.baseAddress, $0.count)
        }
        guard let pointer else { throw TLSError(cText(error)) }
        return TLSConnection(pointer, context)
    }

    /// Reads into `buffer`: the count, 0 once the peer has closed.
    func read(into buffer: inout [UInt8], timeout: Duration) throws(TLSError) -> Int {
        let count = buffer.withUnsafeMutableBytes { bytes in
            error.withUnsafeMutableBufferPointer {
                copenssl_tls_read(pointer, bytes.baseAddress, bytes.count, Self.milliseconds(timeout), $0.baseAddress, $0.count)
            }
        }
        guard count >= 0 else { throw TLSError(cText(error)) }
        return count
    }

    /// Writes all of `bytes` within `timeout` in total.
    func write(_ bytes: [UInt8], timeout: Duration) throws(TLSError) {
        let status = bytes.withUnsafeBytes { bytes in
            error.withUnsafeMutableBufferPointer {
                copenssl_tls_write(pointer, bytes.baseAddress, bytes.count, Self.milliseconds(timeout), $0.baseAddress, $0.count)
            }
        }
        guard status == 0 else { throw TLSError(cText(error)) }
    }

    /// Sends close_notify: nothing more is written; reading goes on.
    func closeWrite(timeout: Duration) throws(TLSError) {
        let status = error.withUnsafeMutableBufferPointer {
            copenssl_tls_close_write(pointer, Self.milliseconds(timeout), $0.baseAddress, $0.count)
        }
        guard status == 0 else { throw TLSError(cText(error)) }
    }

    /// The peer certificate's subject CN ("" without one) and DNS subjectAltNames.
    func peerNames() -> (commonName: String, dnsNames: [String]) {
        var buffer = [CChar](repeating: 0, count: Self.peerNamesCapacity)
        let length = buffer.withUnsafeMutableBufferPointer { copenssl_tls_peer_names(pointer, $0.baseAddress, $0.count) }
        guard length > 0 else { return ("", []) }
        let lines = cText(buffer).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return (lines.first ?? "", lines.dropFirst().filter { !$0.isEmpty })
    }

    /// Room for a certificate's names: far more than any admin certificate carries.
    static let peerNamesCapacity = 16384

    static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(clamping: max(1, (nanoseconds(duration) + 999_999) / 1_000_000))
    }
}

/// The text of a NUL-terminated C string in `buffer`.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
