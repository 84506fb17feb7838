import Foundation
import Testing

/// `veer check` and `veer serve` on zones with errors: every error with its position, exit 1.
@Suite struct CommandLineTests {
    /// Each bad line says why it is bad; `expected` lists the positions `veer check` must name.
    static let badZone = """
        $ORIGIN bad.test.
        $TTL 60
        @    IN SOA ns1 hostmaster 1 3600 600 604800 60
        @    IN NS  ns1
        ns1  IN A   300.1.1.1
        ; line 5: 300 is not an octet
        www  IN A   192.0.2
        ; line 7: only three parts
        mx   IN MX  mail.bad.test.
        ; line 9: no preference before the exchange
        foo  IN BOGUS x
        ; line 11: no such type

        """
    static let badLines = [5, 7, 9, 11]

    /// A temporary directory with the given zones, removed at the end of `body`.
    static func withZones<T>(_ zones: [String: String], _ body: (String) throws -> T) throws -> T {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeZones(zones, to: directory)
        return try body(directory.path)
    }

    @Test func checkPrintsEveryErrorWithItsPositionAndExits1() throws {
        let veer = try Tools.veer()
        try Self.withZones(["bad.test.zone": Self.badZone, "example.com.zone": Fixture.exampleCom]) { directory in
            let result = try runProgram(veer, ["check", directory])
            #expect(result.status == 1, "\(result.output)")
            let errors = result.output.split(separator: "\n").filter { $0.contains(": error: ") }
            #expect(errors.count == Self.badLines.count, "\(result.output)")
            for line in Self.badLines {
                let prefix = "\(directory)/bad.test.zone:\(line):"
                let match = errors.first { $0.hasPrefix(prefix) }
                #expect(match != nil, "no error for line \(line):\n\(result.output)")
                // FILE:LINE:COL: error: MESSAGE, the column a positive number.
                if let match {
                    let column = match.dropFirst(prefix.count).prefix { $0 != ":" }
                    #expect(Int(column).map { $0 > 0 } == true, "bad column in \(match)")
                    #expect(match.split(separator: ": error: ", maxSplits: 1).last?.isEmpty == false)
                }
            }
        }
    }

    @Test func checkOnGoodZonesExits0() throws {
        let veer = try Tools.veer()
        try Self.withZones(Fixture.zones) { directory in
            let result = try runProgram(veer, ["check", directory])
            #expect(result.status == 0, "\(result.output)")
            #expect(!result.output.contains("error"), "\(result.output)")
        }
    }

    @Test func checkWithAnUnknownOptionIsAUsageError() throws {
        let result = try runProgram(try Tools.veer(), ["check", "--no-such-option"])
        #expect(result.status == 64, "\(result.output)")
    }

    @Test func serveOnABrokenZoneExits1AndSaysWhyWithoutBinding() throws {
        let veer = try Tools.veer()
        try Self.withZones(["bad.test.zone": Self.badZone]) { directory in
            let state = "\(directory)/state"
            let result = try runProgram(veer, ["serve", "--zones", directory, "--state-dir", state, "--listen", "127.0.0.1:0"],
                                        in: URL(fileURLWithPath: directory))
            #expect(!result.timedOut, "veer serve kept running on a broken zone:\n\(result.output)")
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("\(directory)/bad.test.zone:5:"), "\(result.output)")
            #expect(!result.output.contains("listening:"), "\(result.output)")
        }
    }
}
