// DNSSEC keys and signatures (RFC 4033-4035): key files, DNSKEY and DS records, and RRSIGs over
// canonical RRsets, made with the system's libcrypto through COpenSSL. Nothing here runs per
// query: signatures are made when a zone is loaded or a signature nears its expiry.
import COpenSSL

/// The OpenSSL this binary signs with, as OpenSSL names itself.
public enum CryptoLibrary {
    /// For example "OpenSSL 3.0.17 1 Jul 2025".
    public static var version: String { String(cString: copenssl_version()) }
}

/// A DNSSEC signing algorithm Veer makes keys for (RFC 8624 §3.1: 13 MUST, 15 RECOMMENDED).
public enum DNSSECAlgorithm: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// ECDSA on P-256 with SHA-256 (RFC 6605), the default.
    case ecdsaP256SHA256 = 13
    /// Ed25519 (RFC 8080).
    case ed25519 = 15

    /// The name `veer keys generate --algorithm` takes (lower case, as BIND's tools spell it).
    public var name: String {
        switch self {
        case .ecdsaP256SHA256: "ecdsap256sha256"
        case .ed25519: "ed25519"
        }
    }

    /// Parses `name` (case-insensitive) or the algorithm number.
    public init?(name: String) {
        let lower = name.lowercased()
        if let number = UInt8(lower), let value = Self(rawValue: number) { self = value; return }
        guard let match = Self.allCases.first(where: { $0.name == lower }) else { return nil }
        self = match
    }

    /// Octets of a signature in the RRSIG: r||s for P-256 (RFC 6605 §4), 64 for Ed25519.
    public var signatureLength: Int { 64 }

    public var description: String { "\(rawValue) (\(name))" }

    /// Whether the system's libcrypto can make and check this algorithm's signatures; the
    /// reason when it cannot.
    public func availability() -> String? {
        var buffer = [CChar](repeating: 0, count: CryptoCall.errorCapacity)
        let ok = copenssl_algorithm_available(Int32(rawValue), &buffer, buffer.count)
        return ok == 1 ? nil : CryptoCall.message(buffer)
    }
}

/// A failure in the crypto or in DNSSEC record handling, with a message for people.
public struct DNSSECError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What failed, with libcrypto's reason where it gave one.
    public let message: String
    /// Wraps `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Calls into COpenSSL with an error buffer.
enum CryptoCall {
    /// Room for "what: OpenSSL's reason".
    static let errorCapacity = 512

    static func message(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Runs `body` with an output buffer of `capacity` octets and an error buffer; a negative
    /// return is turned into a `DNSSECError`, otherwise the first that many octets are returned.
    static func bytes(
        capacity: Int,
        _ body: (UnsafeMutablePointer<UInt8>, Int, UnsafeMutablePointer<CChar>, Int) -> Int
    ) throws(DNSSECError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: capacity)
        var error = [CChar](repeating: 0, count: errorCapacity)
        let length = out.withUnsafeMutableBufferPointer { o in
            error.withUnsafeMutableBufferPointer { e in body(o.baseAddress!, capacity, e.baseAddress!, errorCapacity) }
        }
        guard length >= 0 else { throw DNSSECError(message(error)) }
        return Array(out.prefix(length))
    }

    /// SHA-256 (`bits` 256) or SHA-384 (384) of `data`.
    static func digest(bits: Int, _ data: [UInt8]) throws(DNSSECError) -> [UInt8] {
        try bytes(capacity: 64) { out, capacity, error, errorCapacity in
            Int(copenssl_digest(Int32(bits), data, data.count, out, capacity, error, errorCapacity))
        }
    }
}
