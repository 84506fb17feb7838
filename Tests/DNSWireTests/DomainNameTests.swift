import DNSWire
import Testing

/// DomainName: presentation form and escapes, case-insensitive identity, the name tree.
@Suite struct DomainNameTests {
    // MARK: presentation

    @Test(arguments: [
        ("www.example.com.", "03 777777 07 6578616d706c65 03 636f6d 00", "www.example.com."),
        ("www.example.com", "03 777777 07 6578616d706c65 03 636f6d 00", "www.example.com."),
        (".", "00", "."),
        ("", "00", "."),
        (#"a\.b.example."#, "03 612e62 07 6578616d706c65 00", #"a\.b.example."#),
        (#"\046.example."#, "01 2e 07 6578616d706c65 00", #"\..example."#),
        (#"\000\255\127.x."#, "03 00ff7f 01 78 00", #"\000\255\127.x."#),
        (#"a\ b."#, "03 612062 00", #"a\ b."#),
        (#"\@\$\;\(\)\"."#, "06 40243b282922 00", #"\@\$\;\(\)\"."#),
        (#"\a\b."#, "02 6162 00", "ab."),
        (#"x\."#, "02 782e 00", #"x\.."#),
        ("Caf\u{e9}.", "05 436166c3a9 00", #"Caf\195\169."#),
    ])
    func presentation(_ text: String, _ wire: String, _ canonical: String) throws {
        let parsed = try DomainName(text)
        #expect(hexString(parsed.wire) == hexString(hex(wire)))
        #expect(parsed.description == canonical)
        #expect(try DomainName(canonical).wire == parsed.wire, "printing then parsing gives the same name")
    }

    /// Every byte value survives print-then-parse, in the middle and at the end of a label.
    @Test func everyByteRoundTripsThroughPresentation() throws {
        for byte in UInt8.min...UInt8.max {
            for label in [[0x61, byte, 0x62], [byte], [0x61, byte]] {
                let original = try DomainName(labels: [label, ascii("example")])
                let reparsed = try DomainName(original.description)
                #expect(reparsed.wire == original.wire, "byte \(byte) in \(label): \(original.description)")
            }
        }
    }

    /// Regression: a label ending in a backslash prints as `a\\.`; the parser took that final
    /// dot for an escaped one and failed with an empty label.
    @Test func labelEndingInBackslashRoundTrips() throws {
        let original = try DomainName(labels: [ascii(#"a\"#)])
        #expect(original.description == #"a\\."#)
        #expect(try DomainName(#"a\\."#) == original)
        #expect(try DomainName(#"a\\.com."#).labels == [ascii(#"a\"#), ascii("com")])
    }

    /// `\DDD` is three decimal digits at most 255; anything else after a backslash digit is an
    /// error (RFC 1035 §5.1 allows `\X` only for X that is not a digit).
    @Test(arguments: [#"\256.com."#, #"\999.com."#, #"a\25"#, #"a\2.com."#])
    func badDecimalEscapeIsRejected(_ text: String) {
        #expect(wireError { () throws(WireError) in try DomainName(text) }?.kind == .badEscape, "\(text)")
    }

    @Test(arguments: [#"a\"#, #"\"#])
    func danglingBackslashIsRejected(_ text: String) {
        #expect(wireError { () throws(WireError) in try DomainName(text) }?.kind == .badEscape)
    }

    @Test(arguments: ["a..b.", "..", ".a.", "a.."])
    func emptyLabelIsRejected(_ text: String) {
        #expect(wireError { () throws(WireError) in try DomainName(text) }?.kind == .emptyLabel)
    }

    // MARK: identity

    @Test func equalityAndHashIgnoreASCIICase() {
        let lower = name("www.example.com.")
        let mixed = name("WwW.ExAmPlE.CoM.")
        #expect(lower == mixed)
        #expect(lower.hashValue == mixed.hashValue)
        #expect(Set([lower, mixed]).count == 1)
        #expect(mixed.description == "WwW.ExAmPlE.CoM.", "the original case is kept for output")
        #expect(mixed.lowercased().description == "www.example.com.")
        #expect(mixed.lowercasedWire == lower.wire)
    }

    /// Only A–Z fold (RFC 4343 §3): `[` (0x5B) and `{` (0x7B) differ, and so do non-ASCII bytes.
    @Test func onlyASCIILettersFold() throws {
        #expect(try DomainName(labels: [[0x5B]]) != DomainName(labels: [[0x7B]]))
        #expect(try DomainName(labels: [[0x40]]) != DomainName(labels: [[0x60]]))
        #expect(try DomainName(labels: [[0xC9]]) != DomainName(labels: [[0xE9]]))
        #expect(asciiLower(0x5A) == 0x7A && asciiLower(0x41) == 0x61 && asciiLower(0x5B) == 0x5B && asciiLower(0xC1) == 0xC1)
    }

    @Test func differentLabelSplitIsDifferentName() {
        #expect(name("ab.c.") != name("a.bc."))
        #expect(name(#"a\.b."#) != name("a.b."))
    }

    /// RFC 4034 §6.1 canonical order.
    @Test func canonicalOrder() {
        let sorted = ["example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
                      "z.example.", #"\001.z.example."#, "*.z.example.", #"\200.z.example."#].map(name)
        #expect(sorted.shuffled().sorted() == sorted)
        #expect(!(name("A.example.") < name("a.example.")) && !(name("a.example.") < name("A.example.")))
    }

    // MARK: the tree

    @Test(arguments: [
        ("www.example.com.", "example.com.", true),
        ("example.com.", "example.com.", true),
        ("WWW.EXAMPLE.COM.", "example.com.", true),
        ("www.example.com.", ".", true),
        (".", ".", true),
        ("example.com.", "ample.com.", false),       // suffix, but not on a label boundary
        ("www.example.com.", "e.com.", false),
        ("example.com.", "www.example.com.", false),
        ("com.", "example.com.", false),
        ("example.net.", "example.com.", false),
        (#"a\.example.com."#, "example.com.", false),   // `a.example` is one label
        (#"a.b\.example.com."#, "example.com.", false), // `b.example` is one label
        (#"xa\.example.com."#, #"a\.example.com."#, false),
        (#"x.a\.example.com."#, #"a\.example.com."#, true),
    ])
    func isSubdomain(_ child: String, _ ancestor: String, _ expected: Bool) {
        #expect(name(child).isSubdomain(of: name(ancestor)) == expected)
    }

    @Test func parentWalksToRoot() {
        var current: DomainName? = name("a.b.example.")
        var seen: [String] = []
        while let here = current { seen.append(here.description); current = here.parent }
        #expect(seen == ["a.b.example.", "b.example.", "example.", "."])
        #expect(DomainName.root.parent == nil)
        #expect(DomainName.root.isRoot && !name("com.").isRoot)
    }

    @Test func labelsAndCount() {
        let n = name("www.Example.com.")
        #expect(n.labels == [ascii("www"), ascii("Example"), ascii("com")])
        #expect(n.labelCount == 3)
        #expect(DomainName.root.labels.isEmpty && DomainName.root.labelCount == 0)
    }

    @Test func appending() throws {
        #expect(try name("www").appending(name("example.com.")).description == "www.example.com.")
        #expect(try name("www.").appending(.root) == name("www."))
        #expect(try DomainName.root.appending(name("example.com.")) == name("example.com."))
        // 4 + 251 = 255 fits; one more octet does not.
        let label63 = String(repeating: "a", count: 63)
        let long = name("\(label63).\(label63).\(label63).\(String(repeating: "b", count: 57)).")
        #expect(long.wire.count == 251)
        #expect(try name("abc.").appending(long).wire.count == 255)
        expectWireError(.nameTooLong, at: 0) { () throws(WireError) in try name("abcd.").appending(long) }
    }
}

/// Names are read lowercased eight bytes at a time; that must agree with `asciiLower` on every
/// byte value wherever it sits in the word.
@Suite struct WordLowercaseTests {
    @Test func everyByteValueInEveryPosition() {
        // A 15-byte label: the length octet and its 15 bytes fill exactly two words.
        for value in 0...255 {
            for position in 0..<15 {
                var label = [UInt8](repeating: UInt8(ascii: "Q"), count: 15)
                label[position] = UInt8(value)
                #expect(readLowercased(label) == label.map(asciiLower), "byte \(value) at \(position)")
            }
        }
    }

    @Test func longMixedLabel() {
        let label = Array("AbCdEfGhIjKlMnOpQrStUvWxYz@[`{".utf8)
        #expect(readLowercased(label) == label.map(asciiLower))
    }

    /// Reads `label` as a one-label name through `WireReader.name(into:lowercase:)`; nil if
    /// that fails or reads other than the whole name.
    private func readLowercased(_ label: [UInt8]) -> [UInt8]? {
        let wire = [UInt8(label.count)] + label + [0]
        var out = [UInt8](repeating: 0, count: DomainName.maxWireLength)
        let length: Int? = wire.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { buffer in
                var reader = WireReader(raw)
                return try? reader.name(into: buffer, lowercase: true)
            }
        }
        guard let length, length == wire.count else { return nil }
        return Array(out[1..<(length - 1)])
    }
}
