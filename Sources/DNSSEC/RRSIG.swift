// RRSIG RDATA (RFC 4034 §3.1), the data it signs (§3.1.8.1), making one and checking one.
import COpenSSL
import DNSWire

/// The fields of an RRSIG record.
public struct RRSIG: Hashable, Sendable {
    /// Octets before the signer's name: type covered (2), algorithm (1), labels (1),
    /// original TTL (4), expiration (4), inception (4), key tag (2).
    public static let fixedLength = 18

    /// The type of the RRset signed.
    public var typeCovered: UInt16
    /// DNSSEC algorithm number.
    public var algorithm: UInt8
    /// Labels of the signed owner, without root and a leading `*`.
    public var labels: UInt8
    /// The TTL the RRset was signed with.
    public var originalTTL: UInt32
    /// Seconds since 1970, serial arithmetic (RFC 4034 §3.1.5).
    public var expiration: UInt32
    /// Seconds since 1970, serial arithmetic.
    public var inception: UInt32
    /// Tag of the DNSKEY that signed.
    public var keyTag: UInt16
    /// The zone apex.
    public var signerName: DomainName
    /// Raw r||s or Ed25519 signature.
    public var signature: [UInt8]

    /// Makes an RRSIG from its fields.
    public init(typeCovered: UInt16, algorithm: UInt8, labels: UInt8, originalTTL: UInt32,
                expiration: UInt32, inception: UInt32, keyTag: UInt16, signerName: DomainName,
                signature: [UInt8]) {
        self.typeCovered = typeCovered
        self.algorithm = algorithm
        self.labels = labels
        self.originalTTL = originalTTL
        self.expiration = expiration
        self.inception = inception
        self.keyTag = keyTag
        self.signerName = signerName
        self.signature = signature
    }

    /// Reads RRSIG RDATA (uncompressed).
    public init(rdata: [UInt8]) throws(DNSSECError) {
        guard rdata.count > Self.fixedLength else { throw DNSSECError("RRSIG RDATA too short (\(rdata.count) octets)") }
        var end = Self.fixedLength
        while end < rdata.count, rdata[end] != 0 { end += 1 + Int(rdata[end]) }
        guard end < rdata.count else { throw DNSSECError("RRSIG signer name runs past the RDATA") }
        let signer: DomainName
        do { signer = try DomainName(wire: Array(rdata[Self.fixedLength...end])) } catch {
            throw DNSSECError("RRSIG signer name: \(error)")
        }
        self.init(typeCovered: Canonical.read16(rdata, 0), algorithm: rdata[2], labels: rdata[3],
                  originalTTL: Canonical.read32(rdata, 4), expiration: Canonical.read32(rdata, 8),
                  inception: Canonical.read32(rdata, 12), keyTag: Canonical.read16(rdata, 16),
                  signerName: signer, signature: Array(rdata[(end + 1)...]))
    }

    /// The RDATA without the signature, signer name lower-cased (RFC 4034 §3.1.8.1).
    public var rdataWithoutSignature: [UInt8] {
        var out: [UInt8] = []
        Canonical.append16(typeCovered, to: &out)
        out.append(algorithm)
        out.append(labels)
        Canonical.append32(originalTTL, to: &out)
        Canonical.append32(expiration, to: &out)
        Canonical.append32(inception, to: &out)
        Canonical.append16(keyTag, to: &out)
        return out + signerName.lowercasedWire
    }

    /// The whole RDATA in wire form.
    public var rdata: [UInt8] { rdataWithoutSignature + signature }

    /// The octets the signature covers: this RRSIG's RDATA without the signature, then the
    /// set's records in canonical form. When the owner has more labels than `labels` (an
    /// answer expanded from a wildcard), the owner is `*.` and its rightmost labels
    /// (RFC 4035 §5.3.2).
    public func signedData(_ set: RRsetToSign) -> [UInt8] {
        var owner = set.owner
        let ownerLabels = owner.labels
        if ownerLabels.count > Int(labels), let wildcard = try? DomainName(labels: [[UInt8(ascii: "*")]] + ownerLabels.suffix(Int(labels))) {
            owner = wildcard
        }
        return rdataWithoutSignature + set.canonicalRecords(owner: owner)
    }

    /// Signs `set` with `key` for the given validity: the RRSIG with its signature.
    public static func make(_ set: RRsetToSign, key: SigningKey, signer: DomainName,
                            inception: UInt32, expiration: UInt32) throws(DNSSECError) -> RRSIG {
        var rrsig = RRSIG(typeCovered: set.type.rawValue, algorithm: key.algorithm.rawValue,
                          labels: set.rrsigLabels, originalTTL: set.originalTTL, expiration: expiration,
                          inception: inception, keyTag: key.keyTag, signerName: signer, signature: [])
        rrsig.signature = try key.sign(rrsig.signedData(set))
        return rrsig
    }

    /// Checks this RRSIG over `set` with the public key in `dnskeyRDATA`: algorithm, key tag,
    /// type, time window at `now` (nil: not checked) and the signature itself. Throws with
    /// the reason when it does not validate.
    public func verify(_ set: RRsetToSign, dnskeyRDATA: [UInt8], now: UInt32?) throws(DNSSECError) {
        guard dnskeyRDATA.count > DNSKEY.publicKeyOffset else { throw DNSSECError("DNSKEY RDATA too short") }
        guard dnskeyRDATA[3] == algorithm else { throw DNSSECError("RRSIG algorithm \(algorithm) is not the DNSKEY's \(dnskeyRDATA[3])") }
        guard DNSKEY.keyTag(dnskeyRDATA) == keyTag else { throw DNSSECError("RRSIG key tag \(keyTag) is not the DNSKEY's \(DNSKEY.keyTag(dnskeyRDATA))") }
        guard set.type.rawValue == typeCovered else { throw DNSSECError("RRSIG covers type \(typeCovered), the set is \(set.type)") }
        guard Int(labels) <= set.owner.labelCount else { throw DNSSECError("RRSIG labels \(labels) exceed the owner's") }
        if let now {
            // Serial arithmetic (RFC 1982) as validators compare the times.
            guard Int32(bitPattern: now &- inception) >= 0 else { throw DNSSECError("RRSIG not yet valid (inception \(inception), now \(now))") }
            guard Int32(bitPattern: expiration &- now) >= 0 else { throw DNSSECError("RRSIG expired (expiration \(expiration), now \(now))") }
        }
        let publicKey = Array(dnskeyRDATA[DNSKEY.publicKeyOffset...])
        let data = signedData(set)
        var error = [CChar](repeating: 0, count: CryptoCall.errorCapacity)
        let result = error.withUnsafeMutableBufferPointer { e in
            copenssl_verify(Int32(algorithm), publicKey, publicKey.count, data, data.count,
                            signature, signature.count, e.baseAddress!, e.count)
        }
        guard result == 1 else { throw DNSSECError(CryptoCall.message(error)) }
    }
}
