// A DNSSEC private key held by libcrypto, and its DNSKEY record (RFC 4034 §2).
import COpenSSL

/// One key: the private half (kept in libcrypto) and its DNSKEY.
///
/// Immutable once made; libcrypto signs with a shared key from several threads (each call
/// has its own context), so a key may be used from any thread.
public final class SigningKey: Sendable {
    /// DNSKEY flags of a combined signing key: Zone Key (bit 7) and Secure Entry Point
    /// (bit 15), RFC 4034 §2.1.1.
    public static let cskFlags: UInt16 = 257
    /// The DNSKEY protocol field, always 3 (RFC 4034 §2.1.2).
    public static let dnskeyProtocol: UInt8 = 3
    /// Largest PEM file of a P-256 or Ed25519 private key, with room to spare.
    static let maxPEMLength = 4096

    /// The signing algorithm.
    public let algorithm: DNSSECAlgorithm
    /// 257 for a CSK (SEP bit set).
    public let flags: UInt16
    /// Flags, protocol 3, algorithm, public key (RFC 4034 §2.1).
    public let dnskeyRDATA: [UInt8]
    /// RFC 4034 appendix B.
    public let keyTag: UInt16
    /// The libcrypto key. Read-only after init; libcrypto allows concurrent signing with it.
    nonisolated(unsafe) private let handle: OpaquePointer

    private init(handle: OpaquePointer, algorithm: DNSSECAlgorithm, flags: UInt16) throws(DNSSECError) {
        self.handle = handle
        self.algorithm = algorithm
        self.flags = flags
        let publicKey: [UInt8]
        do {
            publicKey = try CryptoCall.bytes(capacity: 128) { out, capacity, error, errorCapacity in
                Int(copenssl_key_public(handle, out, capacity, error, errorCapacity))
            }
        } catch {
            copenssl_key_free(handle)
            throw error
        }
        let rdata = DNSKEY.rdata(flags: flags, algorithm: algorithm.rawValue, publicKey: publicKey)
        self.dnskeyRDATA = rdata
        self.keyTag = DNSKEY.keyTag(rdata)
    }

    deinit { copenssl_key_free(handle) }

    private static func make(
        _ algorithm: DNSSECAlgorithm, flags: UInt16,
        _ body: (UnsafeMutablePointer<CChar>, Int) -> OpaquePointer?
    ) throws(DNSSECError) -> SigningKey {
        var error = [CChar](repeating: 0, count: CryptoCall.errorCapacity)
        let handle = error.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        guard let handle else { throw DNSSECError(CryptoCall.message(error)) }
        return try SigningKey(handle: handle, algorithm: algorithm, flags: flags)
    }

    /// Makes a new key with libcrypto's random generator.
    public static func generate(_ algorithm: DNSSECAlgorithm, flags: UInt16 = cskFlags) throws(DNSSECError) -> SigningKey {
        try make(algorithm, flags: flags) { copenssl_key_generate(Int32(algorithm.rawValue), $0, $1) }
    }

    /// Reads a PEM private key (PKCS#8 as `pemText` writes it) that must be of `algorithm`.
    public static func load(pem: [UInt8], algorithm: DNSSECAlgorithm, flags: UInt16 = cskFlags) throws(DNSSECError) -> SigningKey {
        try make(algorithm, flags: flags) { copenssl_key_from_pem(Int32(algorithm.rawValue), pem, pem.count, $0, $1) }
    }

    /// Makes an Ed25519 key from its 32-octet seed (RFC 8032 §5.1.5), as test vectors publish it.
    public static func ed25519(seed: [UInt8], flags: UInt16 = cskFlags) throws(DNSSECError) -> SigningKey {
        try make(.ed25519, flags: flags) { copenssl_key_from_raw(Int32(DNSSECAlgorithm.ed25519.rawValue), seed, seed.count, $0, $1) }
    }

    /// The private key as PKCS#8 PEM, for the key file.
    public func pem() throws(DNSSECError) -> [UInt8] {
        let handle = self.handle
        return try CryptoCall.bytes(capacity: Self.maxPEMLength) { out, capacity, error, errorCapacity in
            Int(copenssl_key_to_pem(handle, out, capacity, error, errorCapacity))
        }
    }

    /// Signs `data` (an RRSIG's signed data, RFC 4034 §3.1.8.1): raw r||s (64 octets) or Ed25519 (64).
    public func sign(_ data: [UInt8]) throws(DNSSECError) -> [UInt8] {
        let handle = self.handle
        return try CryptoCall.bytes(capacity: 128) { out, capacity, error, errorCapacity in
            Int(copenssl_key_sign(handle, data, data.count, out, capacity, error, errorCapacity))
        }
    }

    /// The public key as it sits at the end of the DNSKEY RDATA.
    public var publicKey: [UInt8] { Array(dnskeyRDATA[DNSKEY.publicKeyOffset...]) }
}

/// DNSKEY RDATA (RFC 4034 §2.1) and the key tag computed over it.
public enum DNSKEY {
    /// Flags (2), protocol (1), algorithm (1), then the public key.
    public static let publicKeyOffset = 4
    /// The DNSKEY RR type (RFC 4034 §2).
    public static let type = RRTypeNumber.dnskey

    /// Flags, protocol 3, algorithm, public key.
    public static func rdata(flags: UInt16, algorithm: UInt8, publicKey: [UInt8]) -> [UInt8] {
        [UInt8(flags >> 8), UInt8(flags & 0xFF), SigningKey.dnskeyProtocol, algorithm] + publicKey
    }

    /// The key tag of a DNSKEY RDATA, RFC 4034 appendix B (not for algorithm 1, which Veer
    /// never reads).
    public static func keyTag(_ rdata: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        for (index, octet) in rdata.enumerated() {
            sum &+= (index & 1) == 0 ? UInt32(octet) << 8 : UInt32(octet)
        }
        sum &+= (sum >> 16) & 0xFFFF
        return UInt16(sum & 0xFFFF)
    }
}

/// RR type numbers of DNSSEC (RFC 4034 §7), kept here so DNSWire need not change for them.
public enum RRTypeNumber {
    /// DS, RFC 4034 §5.
    public static let ds: UInt16 = 43
    /// RRSIG, RFC 4034 §3.
    public static let rrsig: UInt16 = 46
    /// NSEC, RFC 4034 §4.
    public static let nsec: UInt16 = 47
    /// DNSKEY, RFC 4034 §2.
    public static let dnskey: UInt16 = 48
}
