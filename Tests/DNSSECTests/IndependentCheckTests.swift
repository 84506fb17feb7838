import Foundation
import Testing
import DNSSEC
import DNSWire
import Posix
import TestSupport

/// Veer's signatures checked by an implementation that is not Veer's: a small zone signed
/// by ZoneSigner (with an NSEC chain built here by hand, as ldns requires one) passes
/// `ldns-verify-zone` (Debian ldnsutils), which canonicalises and verifies on its own.
@Suite struct IndependentCheckTests {
    static let apex = name("example.com.")

    /// NSEC RDATA (RFC 4034 §4.1): next name and one window-0 type bitmap.
    static func nsec(next: DomainName, types: [UInt16]) -> [UInt8] {
        var bitmap = [UInt8](repeating: 0, count: Int(types.max()! / 8) + 1)
        for type in types { bitmap[Int(type / 8)] |= 0x80 >> (type % 8) }
        return next.wire + [0, UInt8(bitmap.count)] + bitmap
    }

    /// One record in RFC 3597 generic form, which ldns reads for every type.
    static func line(_ owner: DomainName, _ ttl: UInt32, _ type: UInt16, _ rdata: [UInt8]) -> String {
        "\(owner) \(ttl) IN TYPE\(type) \\# \(rdata.count) \(Presentation.hex(rdata))"
    }

    static func ldnsVerifyZone() throws -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(directory)/ldns-verify-zone"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw DNSSECError("ldns-verify-zone not found: apt-get install ldnsutils")
    }

    @Test(arguments: DNSSECAlgorithm.allCases)
    func ldnsVerifiesASignedZone(_ algorithm: DNSSECAlgorithm) throws {
        let (keys, key) = try SignerTests.keys(algorithm)
        let signer = ZoneSigner(keys: keys, policy: SignaturePolicy(), cache: SignatureCache(file: nil))
        let mail = name("mail.example.com."), ns1 = name("ns1.example.com."), www = name("www.example.com.")
        let soa = name("NS1.example.com.").wire + name("hostmaster.Example.com.").wire + [0, 0, 0, 1, 0, 0, 14, 16, 0, 0, 2, 88, 0, 9, 58, 128, 0, 0, 0, 60]
        var sets = [
            RRsetToSign(owner: Self.apex, type: .soa, originalTTL: 3600, rdatas: [soa]),
            RRsetToSign(owner: Self.apex, type: .ns, originalTTL: 3600, rdatas: [name("NS1.Example.COM.").wire]),
            RRsetToSign(owner: Self.apex, type: .mx, originalTTL: 3600, rdatas: [[0, 10] + name("Mail.example.com.").wire, [0, 20] + name("backup.example.net.").wire]),
            RRsetToSign(owner: Self.apex, type: .txt, originalTTL: 300, rdatas: [[5] + Array("Hello".utf8), [3] + Array("abc".utf8)]),
            signer.dnskeyRRset(ttl: 3600),
            RRsetToSign(owner: mail, type: .a, originalTTL: 300, rdatas: [[192, 0, 2, 25]]),
            RRsetToSign(owner: ns1, type: .a, originalTTL: 3600, rdatas: [[192, 0, 2, 53]]),
            RRsetToSign(owner: www, type: .a, originalTTL: 60, rdatas: [[192, 0, 2, 2], [192, 0, 2, 1], [192, 0, 2, 1]]),
            RRsetToSign(owner: www, type: .aaaa, originalTTL: 60, rdatas: [[0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]]),
        ]
        let rrsig: UInt16 = 46, nsecType: UInt16 = 47
        // The chain in canonical order: example.com. < mail < ns1 < www, back to the apex.
        sets += [
            RRsetToSign(owner: Self.apex, type: RRType(rawValue: nsecType), originalTTL: 60, rdatas: [Self.nsec(next: mail, types: [2, 6, 15, 16, rrsig, nsecType, 48])]),
            RRsetToSign(owner: mail, type: RRType(rawValue: nsecType), originalTTL: 60, rdatas: [Self.nsec(next: ns1, types: [1, rrsig, nsecType])]),
            RRsetToSign(owner: ns1, type: RRType(rawValue: nsecType), originalTTL: 60, rdatas: [Self.nsec(next: www, types: [1, rrsig, nsecType])]),
            RRsetToSign(owner: www, type: RRType(rawValue: nsecType), originalTTL: 60, rdatas: [Self.nsec(next: Self.apex, types: [1, 28, rrsig, nsecType])]),
        ]
        let now = UInt32(Date().timeIntervalSince1970)
        let signatures = try signer.sign(sets, now: now)
        var text = ""
        for (set, rrsigs) in zip(sets, signatures) {
            for rdata in set.rdatas { text += Self.line(set.owner, set.originalTTL, set.type.rawValue, rdata) + "\n" }
            for rdata in rrsigs { text += Self.line(set.owner, set.originalTTL, rrsig, rdata) + "\n" }
        }
        let dir = try FileIO.makeTemporaryDirectory()
        try text.write(toFile: dir + "/example.com.zone", atomically: true, encoding: .utf8)
        let anchor = Presentation.dnskey(owner: Self.apex, ttl: 3600, rdata: key.dnskeyRDATA)
        try (anchor + "\n").write(toFile: dir + "/anchor.key", atomically: true, encoding: .utf8)

        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: try Self.ldnsVerifyZone())
        process.arguments = ["-k", dir + "/anchor.key", "-V", "3", dir + "/example.com.zone"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "ldns-verify-zone:\n\(output)\nzone:\n\(text)")
        #expect(output.contains("Zone is verified and complete"), "\(output)")

        // And it is not a test that cannot fail: one changed address is caught.
        let tampered = text.replacingOccurrences(of: "TYPE1 \\# 4 C0000219", with: "TYPE1 \\# 4 C000021A")
        #expect(tampered != text)
        try tampered.write(toFile: dir + "/example.com.zone", atomically: true, encoding: .utf8)
        let again = Foundation.Process()
        again.executableURL = process.executableURL
        again.arguments = process.arguments
        again.standardOutput = FileHandle.nullDevice
        again.standardError = FileHandle.nullDevice
        try again.run()
        again.waitUntilExit()
        #expect(again.terminationStatus != 0)
    }
}
