import DNSWire
import Foundation
import Testing
import ZoneFile

/// Behaviour checked on inline text: names, owners, TTLs, duplicates, the zone name.
struct ParserTests {
    @Test func duplicatesCollapseKeepingTheFirst() throws {
        let zone = try parseZone(apex + """
            www A 192.0.2.10
            WWW A 192.0.2.10
            www.TEST.example. 60 A 192.0.2.10
            mail MX 10 mx.example.net.
            mail MX 10 MX.EXAMPLE.NET.
            txt TXT "Case" 
            txt TXT "case"
            """)
        #expect(zone.records.map(\.description) == apexRecords + [
            "www.test.example. 300 IN A 192.0.2.10",
            "mail.test.example. 300 IN MX 10 mx.example.net.",
            "txt.test.example. 300 IN TXT \"Case\"",
            "txt.test.example. 300 IN TXT \"case\"",
        ])
    }

    @Test func rrsetTakesTheFirstTTL() throws {
        let zone = try parseZone(apex + """
            www 60 A 192.0.2.10
            www 120 A 192.0.2.11
            www 120 AAAA 2001:db8::1
            """)
        #expect(zone.records.dropFirst(3).map(\.description) == [
            "www.test.example. 60 IN A 192.0.2.10",
            "www.test.example. 60 IN A 192.0.2.11",
            "www.test.example. 120 IN AAAA 2001:db8::1",
        ])
    }

    @Test func blankOwnerAtAndRelativeNames() throws {
        let zone = try parseZone(apex + """
            www A 192.0.2.10
                AAAA 2001:db8::10
            \tTXT "tab counts as blank"
            @ TXT "apex"
            a.b CNAME www
            """)
        #expect(zone.records.dropFirst(3).map(\.description) == [
            "www.test.example. 300 IN A 192.0.2.10",
            "www.test.example. 300 IN AAAA 2001:db8::10",
            "www.test.example. 300 IN TXT \"tab counts as blank\"",
            "test.example. 300 IN TXT \"apex\"",
            "a.b.test.example. 300 IN CNAME www.test.example.",
        ])
    }

    @Test func blankOwnerOnTheFirstRecordIsAnError() {
        #expect(parseErrors("  A 192.0.2.1\n") == [
            "test.example.zone:1:3: error: expected an owner name: a line that starts with blank space reuses the previous owner, and there is none yet",
        ])
    }

    @Test func originChangesMidFileAndRelativeOrigins() throws {
        let zone = try parseZone(apex + """
            $ORIGIN sub
            host A 192.0.2.20
            $ORIGIN deeper.sub.test.example.
            @ A 192.0.2.21
            """)
        #expect(zone.origin.description == "test.example.")
        #expect(zone.records.dropFirst(3).map(\.description) == [
            "host.sub.test.example. 300 IN A 192.0.2.20",
            "deeper.sub.test.example. 300 IN A 192.0.2.21",
        ])
    }

    @Test(arguments: [
        ("example.com.zone", "example.com."),
        ("example.com", "example.com."),
        ("zones/sub.example.org.zone", "sub.example.org."),
        ("/abs/path/Example.NET.zone", "Example.NET."),
    ])
    func zoneNameFromTheFileName(_ file: String, _ origin: String) throws {
        let zone = try parseZone(apex, file: file)
        #expect(zone.origin.description == origin)
    }

    @Test func originDirectiveBeforeTheFirstRecordBeatsTheFileName() throws {
        let zone = try parseZone("$ORIGIN other.example.\n" + apex, file: "example.com.zone")
        #expect(zone.origin.description == "other.example.")
    }

    @Test func originArgumentIsUsedWithoutOriginDirective() throws {
        let zone = try ZoneParser.parse(apex, file: "whatever.txt", origin: try DomainName("given.example.")).get()
        #expect(zone.origin.description == "given.example.")
        #expect(zone.soa.description == "given.example. 300 IN SOA ns.given.example. hostmaster.given.example. 1 3600 600 604800 60")
    }

    @Test func ttlDefaultsTo3600WithoutTTLDirectiveOrExplicitTTL() throws {
        let zone = try parseZone("@ SOA ns hostmaster 1 3600 600 604800 60\n@ NS ns\n")
        #expect(zone.records.map(\.ttl) == [3600, 3600])
    }

    @Test func crlfLineEndings() throws {
        let zone = try parseZone(apex.replacingOccurrences(of: "\n", with: "\r\n") + "www A 192.0.2.10\r\n")
        #expect(zone.records.last?.description == "www.test.example. 300 IN A 192.0.2.10")
    }

    @Test func columnsCountBytes() {
        // "é" is two bytes in UTF-8, so the address starts in byte column 6.
        #expect(parseErrors(apex + "é A 192.0.2.300\n") == [
            "test.example.zone:5:6: error: expected an IPv4 address, found \"192.0.2.300\"",
        ])
    }

    @Test(arguments: [
        ("t TXT \"" + String(repeating: "x", count: 256) + "\"",
         "test.example.zone:5:7: error: expected a character-string of at most 255 octets, found 256 octets"),
        ("g TYPE65534 \\# 4 0A00", "test.example.zone:5:22: error: expected 2 more octets of hex RDATA, found end of line"),
        ("g TYPE65534 \\# 2 0A0000", "test.example.zone:5:18: error: expected 2 octets of hex RDATA as \\# says, found more"),
        ("g TYPE65534 \\# 1 zz", "test.example.zone:5:18: error: expected hex RDATA, found \"zz\""),
        ("g A \\# 3 C00002", "test.example.zone:5:8: error: expected 3 octets of valid A RDATA after \\#, found invalid data (A address at offset 0: truncated)"),
        ("g A \\# 0", "test.example.zone:5:8: error: expected 0 octets of valid A RDATA after \\#, found invalid data (A address at offset 0: truncated)"),
        ("g 300 600 A 192.0.2.1", "test.example.zone:5:7: error: expected a record type, found a second TTL \"600\""),
        ("g IN IN A 192.0.2.1", "test.example.zone:5:6: error: expected a record type, found a second class \"IN\""),
        ("g", "test.example.zone:5:2: error: expected a record type, found end of line"),
        ("g \"quoted\" A 192.0.2.1", "test.example.zone:5:3: error: expected a record type (A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or TYPEnnn), found \"quoted\""),
        ("\"g\" A 192.0.2.1", "test.example.zone:5:1: error: expected a domain name, found a quoted string \"g\""),
        ("g MX 65536 mx", "test.example.zone:5:6: error: expected an MX preference (0-65535), found \"65536\""),
        ("g CNAME a\\", "test.example.zone:5:10: error: bad escape \"\\\": expected \\X or \\DDD (DDD at most 255)"),
        ("g A 192.0.2.1 endpoint=" + String(repeating: "e", count: 33) + " weight=1",
         "test.example.zone:5:15: error: expected an endpoint id of 1 to 32 letters, digits, \"_\" or \"-\", found \"" + String(repeating: "e", count: 33) + "\""),
        ("g A 192.0.2.1 endpoint=a weight=1 health=", "test.example.zone:5:35: error: expected a health check name after health="),
        ("g A 192.0.2.1 endpoint=a \"weight=1\"", "test.example.zone:5:26: error: expected key=value (endpoint, weight, health, analysis, role, all-down, ttl-shift or select) after the RDATA, found \"weight=1\""),
        ("$INCLUDE", "test.example.zone:5:9: error: expected a file name after $INCLUDE, found end of line"),
    ])
    func entryErrors(_ line: String, _ expected: String) {
        #expect(parseErrors(apex + line + "\n") == [expected])
    }

    @Test func endpointsAreExemptFromTheCNAMERuleAmongThemselves() throws {
        let zone = try parseZone(apex + """
            api 30 CNAME a.example.net. endpoint=a
            api 30 CNAME b.example.net. endpoint=b weight=1
            api 30 CNAME a.example.net. endpoint=a weight=0 health=hc
            $HEALTH hc tcp port=443
            """)
        let hc = HealthCheck(name: "hc", kind: .tcp, port: 443, position: SourcePosition(file: "test.example.zone", line: 8, column: 1))
        #expect(zone.records.count == 3)
        #expect(zone.weighted == [WeightedName(owner: try DomainName("api.test.example."), endpoints: [
            .init(id: "a", weight: 0, health: "hc", role: nil,
                  records: [ResourceRecord(name: try DomainName("api.test.example."), ttl: 30, data: .cname(try DomainName("a.example.net.")))],
                  position: SourcePosition(file: "test.example.zone", line: 5, column: 1), check: hc),
            .init(id: "b", weight: 1, health: nil, role: nil,
                  records: [ResourceRecord(name: try DomainName("api.test.example."), ttl: 30, data: .cname(try DomainName("b.example.net.")))],
                  position: SourcePosition(file: "test.example.zone", line: 6, column: 1)),
        ])])
    }

    @Test func errorsAfterAnUnclosedParenthesisAtTheEndStillLeaveEarlierOnesReported() {
        #expect(parseErrors(apex + "a A 1.2.3\nb TXT ( \"x\"\n") == [
            "test.example.zone:5:5: error: expected an IPv4 address, found \"1.2.3\"",
            "test.example.zone:6:7: error: unbalanced parenthesis: \"(\" is never closed",
        ])
    }
}

/// Files and directories: `load(file:)`, `loadDirectory`, `$INCLUDE` nesting.
struct LoaderTests {
    /// A fresh temporary directory holding `files`.
    func directory(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("veer-zone-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        return dir
    }

    @Test func loadDirectoryRejectsASecondFileForTheSameZoneAndSkipsOtherExtensions() {
        let (zones, errors) = ZoneParser.loadDirectory(Fixtures.path("dup"), files: .disk)
        #expect(zones.map(\.origin.description) == ["dup.example."])
        #expect(zones.map { $0.file.hasSuffix("/dup.example.zone") } == [true])
        #expect(Fixtures.text(errors) == [
            "dup/second.zone:1:1: error: expected one file per zone, found a second file for dup.example. (the first is dup/dup.example.zone)",
        ])
    }

    @Test func loadDirectoryReportsErrorsOfEveryFile() {
        let (zones, errors) = ZoneParser.loadDirectory(Fixtures.path("bad"), files: .disk)
        #expect(zones.isEmpty)
        #expect(errors.count == BadFixtureTests.cases.reduce(0) { $0 + $1.diagnostics.count })
    }

    @Test func missingFileAndDirectory() {
        switch ZoneParser.load(file: "/nonexistent/x.zone", files: .disk) {
        case .success: Issue.record("loaded a missing file")
        case .failure(let errors):
            #expect(errors.description == "/nonexistent/x.zone:1:1: error: cannot read the zone file: expected a readable file")
        }
        let (zones, errors) = ZoneParser.loadDirectory("/nonexistent", files: .disk)
        #expect(zones.isEmpty)
        #expect(errors.map(\.description) == ["/nonexistent:1:1: error: cannot read the zones directory: expected a readable directory"])
    }

    @Test func includeDepthIsCappedAtTen() throws {
        var files: [String: String] = ["deep.example.zone": apex + "$INCLUDE f1.inc\n"]
        for i in 1...10 { files["f\(i).inc"] = "h\(i) A 192.0.2.\(i)\n$INCLUDE f\(i + 1).inc\n" }
        files["f11.inc"] = "h11 A 192.0.2.11\n"
        let dir = try directory(files)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = ZoneParser.load(file: dir + "/deep.example.zone", files: .disk)
        let chain = (["deep.example.zone"] + (1...10).map { "f\($0).inc" }).map { dir + "/" + $0 }.joined(separator: " -> ")
        switch result {
        case .success: Issue.record("an include chain of 11 files loaded")
        case .failure(let errors):
            #expect(errors.diagnostics.map(\.description) == [
                "\(dir)/f9.inc:2:10: error: $INCLUDE nested deeper than 10 files: \(chain)",
            ])
        }
    }

    @Test func includePathsAreRelativeToTheIncludingFile() throws {
        let dir = try directory(["inc.example.zone": apex + "$INCLUDE sub/a.inc\n"])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try "a A 192.0.2.1\n$INCLUDE b.inc\n".write(toFile: dir + "/sub/a.inc", atomically: true, encoding: .utf8)
        try "b A 192.0.2.2\n".write(toFile: dir + "/sub/b.inc", atomically: true, encoding: .utf8)
        let zone = try ZoneParser.load(file: dir + "/inc.example.zone", files: .disk).get()
        #expect(zone.records.dropFirst(3).map(\.description) == [
            "a.inc.example. 300 IN A 192.0.2.1",
            "b.inc.example. 300 IN A 192.0.2.2",
        ])
    }

    /// Owners are numbered once per name in order of first appearance, with each name
    /// hashed 16 records ahead of its lookup: zones shorter and longer than that window, and
    /// an owner that comes back exactly 16 records later.
    @Test(arguments: [0, 1, 12, 13, 14, 30])
    func ownersAreNumberedOncePerNameInOrderOfFirstAppearance(extra: Int) throws {
        let zone = try parseZone(apex + (0..<extra).map { "n\($0 % 16) A 10.0.\($0 / 16).\($0 % 16)" }.joined(separator: "\n"))
        let owners = try #require(zone.owners)
        var expected: [DomainName] = []
        for record in zone.records where !expected.contains(record.name) { expected.append(record.name) }
        #expect(owners.names == expected)
        #expect(owners.ofRecord.count == zone.records.count)
        for (index, record) in zone.records.enumerated() where index < owners.ofRecord.count {
            #expect(owners.names[Int(owners.ofRecord[index])] == record.name)
        }
        for (number, name) in expected.enumerated() { #expect(owners.table.lookup(name.lowercasedWire) == Int32(number)) }
    }
}
