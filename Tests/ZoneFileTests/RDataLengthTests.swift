import Testing
import ZoneFile

/// RDATA written in presentation form must fit RDLENGTH (RFC 1035 §3.3: 16 bits); a longer
/// TXT was accepted and then answered as an empty TC answer, even over TCP (issue 23).
struct RDataLengthTests {
    /// A quoted character-string of 255 octets, the longest one.
    static let longest = "\"" + String(repeating: "a", count: 255) + "\""

    @Test func aTXTRecordOverSixtyFiveKIsAZoneError() {
        // 256 strings of 1 + 255 octets: 65,536, one octet too many. The 256th string is at
        // column 9 + 255 × 258 ("big TXT " then 257 characters and a space per string).
        let strings = Array(repeating: Self.longest, count: 256).joined(separator: " ")
        let errors = parseErrors(apex + "big TXT " + strings + "\n")
        #expect(errors == ["test.example.zone:5:\(9 + 255 * 258): error: expected TXT RDATA of at most 65535 octets "
                           + "(RFC 1035 §3.3: RDLENGTH is 16 bits), found more by this string; split the data into several records"])
    }

    /// The most RDATA one TXT record at big.test.example. (18 octets) can have and still be
    /// answered over TCP: 65,535 less the header (12), question (18 + 4), OPT (11) and the
    /// record's own owner pointer, type, class, TTL and RDLENGTH (12).
    static let longestAnswerable = 65535 - 12 - 22 - 11 - 12

    /// TXT RDATA of `length` octets: strings of 255 and one shorter, each with its length octet.
    static func txt(length: Int) -> String {
        let full = length / 256, rest = length % 256
        var strings = Array(repeating: longest, count: full)
        if rest > 0 { strings.append("\"" + String(repeating: "b", count: rest - 1) + "\"") }
        return strings.joined(separator: " ")
    }

    @Test func theLongestAnswerableTXTRecordLoadsAndOneOctetMoreIsAnError() throws {
        let zone = try parseZone(apex + "big TXT " + Self.txt(length: Self.longestAnswerable) + "\n")
        #expect(zone.records.count == apexRecords.count + 1)
        let errors = parseErrors(apex + "big TXT " + Self.txt(length: Self.longestAnswerable + 1) + "\n")
        #expect(errors == ["test.example.zone:5:5: error: expected the TXT records of big.test.example. to fit one answer of 65535 octets "
                           + "(RFC 1035 §4.2.2, the most TCP carries), found 65536 with this one; split the data among several names"])
    }

    @Test func anRRsetOfTXTRecordsTooLargeForOneAnswerIsAnError() {
        // Three records of about 30 KB each: each fits, the second and third do not together.
        let record = "big TXT " + Self.txt(length: 30_000) + "\n"
        let errors = parseErrors(apex + record + record.replacingOccurrences(of: "\"b", with: "\"c") + "other TXT \"x\"\n"
                                 + record.replacingOccurrences(of: "\"b", with: "\"d"))
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("test.example.zone:8:5: error: expected the TXT records of big.test.example. to fit") == true, "\(errors)")
    }

    @Test func aCAAValueOverSixtyFiveKIsAZoneError() {
        // Flags, tag length, "issue" and 65,529 octets of value: 65,536.
        let value = "\"" + String(repeating: "c", count: 65_529) + "\""
        let errors = parseErrors(apex + "caa CAA 0 issue " + value + "\n")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("test.example.zone:5:17: error: expected CAA RDATA of at most 65535 octets") == true, "\(errors)")
        // One octet less fits RDLENGTH but not an answer: the answer's own error.
        #expect(parseErrors(apex + "caa CAA 0 issue \"" + String(repeating: "c", count: 65_528) + "\"\n").first?
                    .contains("to fit one answer of 65535 octets") == true)
    }
}
