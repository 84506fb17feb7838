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

    @Test func aTXTRecordOfTheLongestFittingLengthLoads() throws {
        // 255 strings of 256 octets and one of 255: 65,535 octets exactly.
        let strings = Array(repeating: Self.longest, count: 255).joined(separator: " ") + " \"" + String(repeating: "b", count: 254) + "\""
        let zone = try parseZone(apex + "big TXT " + strings + "\n")
        #expect(zone.records.count == apexRecords.count + 1)
    }

    @Test func aCAAValueOverSixtyFiveKIsAZoneError() {
        // Flags, tag length, "issue" and 65,529 octets of value: 65,536.
        let value = "\"" + String(repeating: "c", count: 65_529) + "\""
        let errors = parseErrors(apex + "caa CAA 0 issue " + value + "\n")
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("test.example.zone:5:17: error: expected CAA RDATA of at most 65535 octets") == true, "\(errors)")
        #expect(parseErrors(apex + "caa CAA 0 issue \"" + String(repeating: "c", count: 65_528) + "\"\n").isEmpty)
    }
}
