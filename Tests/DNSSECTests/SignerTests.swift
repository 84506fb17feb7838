import Testing
import DNSSEC
import DNSWire
import Posix
import TestSupport

/// Keys Veer makes, the canonical form, and the zone signer with its cache.
@Suite struct SignerTests {
    static let apex = name("example.com.")

    static func keys(_ algorithm: DNSSECAlgorithm = .ecdsaP256SHA256) throws -> (ZoneKeys, SigningKey) {
        let key = try SigningKey.generate(algorithm)
        let record = KeyRecord(zone: apex, algorithm: algorithm, tag: key.keyTag, state: .active, created: 1000, activated: 1000)
        return (ZoneKeys(apex: apex, keys: [(record, key)]), key)
    }

    static let sets = [
        RRsetToSign(owner: name("www.example.com."), type: .a, originalTTL: 60, rdatas: [[192, 0, 2, 1], [192, 0, 2, 2]]),
        RRsetToSign(owner: name("example.com."), type: .mx, originalTTL: 300, rdatas: [[0, 10] + name("Mail.Example.com.").wire]),
        RRsetToSign(owner: name("*.wild.example.com."), type: .txt, originalTTL: 60, rdatas: [[2, 104, 105]]),
    ]

    @Test(arguments: DNSSECAlgorithm.allCases)
    func generatedKeySignsAndVerifies(_ algorithm: DNSSECAlgorithm) throws {
        let key = try SigningKey.generate(algorithm)
        #expect(key.dnskeyRDATA[3] == algorithm.rawValue)
        #expect(key.publicKey.count == (algorithm == .ed25519 ? 32 : 64))
        let set = Self.sets[0]
        let rrsig = try RRSIG.make(set, key: key, signer: Self.apex, inception: 100, expiration: 200)
        #expect(rrsig.signature.count == algorithm.signatureLength)
        try rrsig.verify(set, dnskeyRDATA: key.dnskeyRDATA, now: 150)
        var other = set
        other.rdatas = [[192, 0, 2, 3]]
        #expect(throws: DNSSECError.self) { try rrsig.verify(other, dnskeyRDATA: key.dnskeyRDATA, now: 150) }
    }

    @Test(arguments: DNSSECAlgorithm.allCases)
    func pemRoundTripKeepsTheKey(_ algorithm: DNSSECAlgorithm) throws {
        let key = try SigningKey.generate(algorithm)
        let pem = try key.pem()
        #expect(String(decoding: pem, as: UTF8.self).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let loaded = try SigningKey.load(pem: pem, algorithm: algorithm)
        #expect(loaded.dnskeyRDATA == key.dnskeyRDATA)
        let wrong: DNSSECAlgorithm = algorithm == .ed25519 ? .ecdsaP256SHA256 : .ed25519
        #expect(throws: DNSSECError.self) { try SigningKey.load(pem: pem, algorithm: wrong) }
        #expect(throws: DNSSECError.self) { try SigningKey.load(pem: Array("not a key".utf8), algorithm: algorithm) }
    }

    @Test func canonicalFormLowersNamesSortsAndDeduplicates() {
        let set = RRsetToSign(owner: name("WWW.Example.COM."), type: .mx, originalTTL: 60, rdatas: [
            [0, 20] + name("B.Example.com.").wire, [0, 10] + name("A.example.com.").wire, [0, 10] + name("a.EXAMPLE.com.").wire,
        ])
        #expect(set.canonicalRDATAs == [[0, 10] + name("a.example.com.").wire, [0, 20] + name("b.example.com.").wire])
        // A TXT's text is not a name: its case stays.
        let txt = RRsetToSign(owner: name("x."), type: .txt, originalTTL: 1, rdatas: [[2, 65, 66]])
        #expect(txt.canonicalRDATAs == [[2, 65, 66]])
        #expect(Self.sets[2].rrsigLabels == 3)
        #expect(Self.sets[0].rrsigLabels == 3)
    }

    /// A wildcard's signature validates an answer synthesised for any name under it
    /// (RFC 4035 §5.3.2): the verifier rebuilds the `*` owner from the labels field.
    @Test func wildcardSignatureCoversExpansion() throws {
        let (_, key) = try Self.keys()
        let rrsig = try RRSIG.make(Self.sets[2], key: key, signer: Self.apex, inception: 1, expiration: 100)
        var expanded = Self.sets[2]
        expanded.owner = name("a.b.wild.example.com.")
        try rrsig.verify(expanded, dnskeyRDATA: key.dnskeyRDATA, now: 50)
    }

    @Test func signerSignsEverySetAndReusesFreshSignatures() throws {
        let (keys, key) = try Self.keys()
        let signer = ZoneSigner(keys: keys, policy: SignaturePolicy(), cache: SignatureCache(file: nil))
        let now: UInt32 = 1_800_000_000
        let all = Self.sets + [signer.dnskeyRRset(ttl: 3600)]
        let rrsigs = try signer.sign(all, now: now)
        #expect(rrsigs.count == all.count)
        #expect(signer.signaturesMade == all.count)
        for (set, sigs) in zip(all, rrsigs) {
            #expect(sigs.count == 1)
            let rrsig = try RRSIG(rdata: sigs[0])
            #expect(rrsig.inception == now - 3600)
            #expect(rrsig.expiration == now + 14 * 86_400)
            try rrsig.verify(set, dnskeyRDATA: key.dnskeyRDATA, now: now)
        }
        let again = try signer.sign(all, now: now + 86_400)
        #expect(again == rrsigs)
        #expect(signer.signaturesMade == all.count)
        // The earliest renewal: expiry minus a week minus at most a day of jitter.
        #expect(signer.nextRefresh <= now + 7 * 86_400 && signer.nextRefresh >= now + 6 * 86_400)
    }
}
