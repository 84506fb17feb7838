import Foundation
import Testing
import DNSSEC
import DNSWire

/// Base64 text of a test vector as bytes.
func base64(_ text: String) -> [UInt8] { Array(Data(base64Encoded: text)!) }

/// Hexadecimal text (spaces allowed) as bytes.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

func name(_ text: String) -> DomainName { try! DomainName(text) }

/// The published examples: RFC 6605 §6.1 (ECDSA P-256) and RFC 8080 §6.1 (Ed25519, with the
/// signature as corrected by erratum 4935: the RFC's printed one was made over other data).
@Suite struct VectorTests {
    // RFC 6605 §6.1.
    static let p256DNSKEY = DNSKEY.rdata(flags: 257, algorithm: 13, publicKey: base64(
        "GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA=="))
    static let p256A = RRsetToSign(owner: name("www.example.net."), type: .a, originalTTL: 3600, rdatas: [[192, 0, 2, 1]])
    /// `A 13 3 3600 20100909100439 20100812100439 55648 example.net. qx6w…`
    static let p256RRSIG = RRSIG(typeCovered: 1, algorithm: 13, labels: 3, originalTTL: 3600,
                                 expiration: 1_284_026_679, inception: 1_281_607_479, keyTag: 55648,
                                 signerName: name("example.net."), signature: base64(
        "qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw=="))

    // RFC 8080 §6.1.
    static let ed25519Seed = base64("ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=")
    static let ed25519Public = base64("l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=")
    static let mx = RRsetToSign(owner: name("example.com."), type: .mx, originalTTL: 3600,
                                rdatas: [[0, 10] + name("mail.example.com.").wire])

    @Test func rfc6605KeyTagAndDS() throws {
        #expect(DNSKEY.keyTag(Self.p256DNSKEY) == 55648)
        let ds = try DS.rdata(owner: name("example.net."), dnskeyRDATA: Self.p256DNSKEY)
        #expect(Presentation.ds(owner: name("example.net."), rdata: ds)
            == "example.net. IN DS 55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17")
    }

    @Test func rfc6605SignatureVerifies() throws {
        try Self.p256RRSIG.verify(Self.p256A, dnskeyRDATA: Self.p256DNSKEY, now: 1_283_000_000)
        // The owner's case does not matter (canonical form lower-cases it).
        var upper = Self.p256A
        upper.owner = name("WWW.Example.NET.")
        try Self.p256RRSIG.verify(upper, dnskeyRDATA: Self.p256DNSKEY, now: nil)
    }

    @Test func rfc6605SignatureRejectsOtherDataAndTimes() {
        var changed = Self.p256A
        changed.rdatas = [[192, 0, 2, 2]]
        #expect(throws: DNSSECError.self) { try Self.p256RRSIG.verify(changed, dnskeyRDATA: Self.p256DNSKEY, now: nil) }
        #expect(throws: DNSSECError("RRSIG expired (expiration 1284026679, now 1300000000)")) {
            try Self.p256RRSIG.verify(Self.p256A, dnskeyRDATA: Self.p256DNSKEY, now: 1_300_000_000)
        }
        #expect(throws: DNSSECError.self) { try Self.p256RRSIG.verify(Self.p256A, dnskeyRDATA: Self.p256DNSKEY, now: 1_000_000_000) }
    }

    @Test func rfc6605RRSIGRDATARoundTrips() throws {
        let parsed = try RRSIG(rdata: Self.p256RRSIG.rdata)
        #expect(parsed == Self.p256RRSIG)
    }

    @Test func rfc8080KeyFromSeed() throws {
        let key = try SigningKey.ed25519(seed: Self.ed25519Seed)
        #expect(key.publicKey == Self.ed25519Public)
        #expect(key.keyTag == 3613)
        #expect(key.flags == 257)
        #expect(Presentation.dnskey(owner: name("example.com."), ttl: 3600, rdata: key.dnskeyRDATA)
            == "example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=")
        let ds = try DS.rdata(owner: name("example.com."), key: key)
        #expect(Presentation.ds(owner: name("example.com."), rdata: ds)
            == "example.com. IN DS 3613 15 2 3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B")
    }

    /// Ed25519 is deterministic (RFC 8032 §5.1.6): the signature must come out byte for byte.
    @Test func rfc8080SignatureReproduced() throws {
        let key = try SigningKey.ed25519(seed: Self.ed25519Seed)
        let rrsig = try RRSIG.make(Self.mx, key: key, signer: name("example.com."),
                                   inception: 1_438_207_200, expiration: 1_440_021_600)
        // The signed data (RFC 4034 §3.1.8.1), as the RFC's authors' script printed it.
        #expect(rrsig.signedData(Self.mx) == hex("""
            000f0f0200000e1055d4fc6055b94ce00e1d076578616d706c6503636f6d00076578616d706c6503636f6d00
            000f000100000e100014000a046d61696c076578616d706c6503636f6d00
            """))
        #expect(rrsig.signature == base64("oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="))
        try rrsig.verify(Self.mx, dnskeyRDATA: key.dnskeyRDATA, now: 1_439_000_000)
    }

    @Test func sha384DSHasItsLength() throws {
        let ds = try DS.rdata(owner: name("example.net."), dnskeyRDATA: Self.p256DNSKEY, digest: DS.sha384)
        #expect(ds.count == 4 + 48)
        #expect(ds[3] == 4)
        #expect(throws: DNSSECError.self) { try DS.rdata(owner: name("example.net."), dnskeyRDATA: Self.p256DNSKEY, digest: 3) }
    }
}
