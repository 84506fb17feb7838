import Testing
import DNSSEC
import DNSWire

/// The zone digest servers compare (README "The same zones everywhere"): the same for the
/// same records whatever their order, case or repetition; different for any other record.
@Suite struct ZoneDigestTests {
    static func a(_ owner: String, _ last: UInt8, ttl: UInt32 = 60) -> ResourceRecord {
        ResourceRecord(name: name(owner), ttl: ttl, data: .a(IPv4Address(value: 0xC000_0200 | UInt32(last))))
    }

    static let records = [a("www.example.com.", 1), a("api.example.com.", 2), ResourceRecord(name: name("example.com."), ttl: 300,
                          data: .mx(preference: 10, exchange: name("mail.example.com.")))]

    @Test func orderCaseAndDuplicatesDoNotChangeTheDigest() throws {
        let digest = try ZoneDigest.sha256(Self.records)
        #expect(digest.count == 32)
        let shuffled = [Self.records[2], Self.records[0], Self.records[1], Self.records[0]]
        #expect(try ZoneDigest.sha256(shuffled) == digest)
        let upper = [Self.a("WWW.Example.COM.", 1), Self.a("api.example.com.", 2),
                     ResourceRecord(name: name("Example.com."), ttl: 300, data: .mx(preference: 10, exchange: name("MAIL.example.com.")))]
        #expect(try ZoneDigest.sha256(upper) == digest)
    }

    @Test func anyOtherAddressTTLOrExtraChangesIt() throws {
        let digest = try ZoneDigest.sha256(Self.records)
        #expect(try ZoneDigest.sha256([Self.a("www.example.com.", 9)] + Self.records.dropFirst()) != digest)
        #expect(try ZoneDigest.sha256([Self.a("www.example.com.", 1, ttl: 61)] + Self.records.dropFirst()) != digest)
        #expect(try ZoneDigest.sha256(Array(Self.records.dropFirst())) != digest)
        #expect(try ZoneDigest.sha256(Self.records, extra: Array("api new weight=5".utf8)) != digest)
    }

    @Test func hexIsLowerCaseAndWhole() throws {
        let text = ZoneDigest.hex(try ZoneDigest.sha256(Self.records))
        #expect(text.count == 64)
        #expect(text.allSatisfy { "0123456789abcdef".contains($0) })
    }
}
