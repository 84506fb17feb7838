// DS records (RFC 4034 §5, RFC 4509 for SHA-256, RFC 6605 §2 for SHA-384) and the
// presentation form of DNSKEY and DS that `veer keys` prints for the parent.
import DNSWire

/// The DS record a parent publishes for a key.
public enum DS {
    /// Digest type 2, SHA-256 (RFC 4509): the one RFC 8624 says MUST be published.
    public static let sha256: UInt8 = 2
    /// Digest type 4, SHA-384 (RFC 6605 §2).
    public static let sha384: UInt8 = 4

    /// DS RDATA for `key` at `owner`: key tag, algorithm, digest type, digest of owner name
    /// (canonical) | DNSKEY RDATA (RFC 4034 §5.1.4). Throws for a digest type other than 2 or 4.
    public static func rdata(owner: DomainName, key: SigningKey, digest: UInt8 = 2) throws(DNSSECError) -> [UInt8] {
        try rdata(owner: owner, dnskeyRDATA: key.dnskeyRDATA, digest: digest)
    }

    /// DS RDATA for a DNSKEY RDATA.
    public static func rdata(owner: DomainName, dnskeyRDATA: [UInt8], digest: UInt8 = 2) throws(DNSSECError) -> [UInt8] {
        let bits: Int
        switch digest {
        case sha256: bits = 256
        case sha384: bits = 384
        default: throw DNSSECError("DS digest type \(digest) is not supported (2 SHA-256, 4 SHA-384)")
        }
        guard dnskeyRDATA.count > DNSKEY.publicKeyOffset else { throw DNSSECError("DNSKEY RDATA too short") }
        let hash = try CryptoCall.digest(bits: bits, owner.lowercasedWire + dnskeyRDATA)
        var out: [UInt8] = []
        Canonical.append16(DNSKEY.keyTag(dnskeyRDATA), to: &out)
        out.append(dnskeyRDATA[3])
        out.append(digest)
        return out + hash
    }
}

/// Text forms as zone files and parents take them (RFC 4034 §2.2, §5.3).
public enum Presentation {
    /// `example.com. 3600 IN DNSKEY 257 3 13 <base64>`.
    public static func dnskey(owner: DomainName, ttl: UInt32, rdata: [UInt8]) -> String {
        let flags = Canonical.read16(rdata, 0)
        return "\(owner) \(ttl) IN DNSKEY \(flags) \(rdata[2]) \(rdata[3]) \(base64(Array(rdata[DNSKEY.publicKeyOffset...])))"
    }

    /// `example.com. IN DS 12345 13 2 <HEX>` (no TTL: the parent chooses it).
    public static func ds(owner: DomainName, rdata: [UInt8]) -> String {
        "\(owner) IN DS \(Canonical.read16(rdata, 0)) \(rdata[2]) \(rdata[3]) \(hex(Array(rdata[4...])))"
    }

    /// Upper-case hexadecimal, as DS digests are written.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Base64 with padding (RFC 4648 §4), as DNSKEY and RRSIG write keys and signatures.
    public static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * $1.offset) }
            for position in 0..<4 {
                if position <= chunk.count {
                    out.append(alphabet[Int((value >> (18 - 6 * position)) & 0x3F)])
                } else {
                    out.append(UInt8(ascii: "="))
                }
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
