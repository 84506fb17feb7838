import Foundation
import Posix
import TestSupport
import Testing

/// `veer keys` through the real binary: files and modes, the DS as ldns computes it, the
/// rollover steps and their refusals, exit statuses.
@Suite struct KeysCommandTests {
    static func veer(_ words: [String]) throws -> ProgramResult { try runProgram(try Tools.veer(), ["keys"] + words) }

    static func ldnsKey2ds() throws -> String {
        try Tools.onPath("ldns-key2ds") ?? { throw HarnessError("ldns-key2ds not found: apt-get install ldnsutils") }()
    }

    /// The tags `list --json` shows, by state.
    static func states(_ dir: String) throws -> [String: [Int]] {
        let result = try veer(["list", "--dir", dir, "--json"])
        #expect(result.status == 0, "\(result.output)")
        let rows = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String: Any]] ?? []
        var states: [String: [Int]] = [:]
        for row in rows { states[row["state"] as! String, default: []].append(row["tag"] as! Int) }
        return states.mapValues { $0.sorted() }
    }

    @Test(arguments: ["ecdsap256sha256", "ed25519"])
    func generateWritesAPrivateKeyAndPrintsTheDSLdnsComputes(_ algorithm: String) throws {
        let dir = try makeTemporaryDirectory().path + "/keys"
        let result = try Self.veer(["generate", "Example.COM", "--dir", dir, "--algorithm", algorithm])
        #expect(result.status == 0, "\(result.output)")
        let lines = result.output.split(separator: "\n").filter { !$0.hasPrefix(";") }.map(String.init)
        try #require(lines.count == 2, "\(result.output)")
        let number = algorithm == "ed25519" ? "15" : "13"
        #expect(lines[0].hasPrefix("example.com. 3600 IN DNSKEY 257 3 \(number) "))
        #expect(lines[1].hasPrefix("example.com. IN DS "))

        let files = try FileIO.contentsOfDirectory(dir)
        let privateFile = try #require(files.first { $0.hasSuffix(".private") })
        #expect(privateFile.hasPrefix("Kexample.com.+0\(number)+"))
        #expect(try FileIO.permissions(dir + "/" + privateFile) == 0o600)
        #expect(files.contains(privateFile.replacingOccurrences(of: ".private", with: ".state")))

        // ldns computes the same DS from the printed DNSKEY (an implementation other than ours).
        let keyFile = dir + "/../printed.key"
        try (lines[0] + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
        let ldns = try runProgram(try Self.ldnsKey2ds(), ["-n", "-2", keyFile])
        #expect(ldns.status == 0, "\(ldns.output)")
        let theirs = ldns.output.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        let ours = lines[1].split(separator: " ")
        #expect(theirs.suffix(4).map { $0.uppercased() } == ours.suffix(4).map { $0.uppercased() }, "ldns: \(ldns.output)")

        let ds = try Self.veer(["ds", "example.com.", "--dir", dir])
        #expect(ds.status == 0)
        #expect(ds.output.contains(lines[1]))
    }

    @Test func rolloverThroughTheCommandLine() throws {
        let dir = try makeTemporaryDirectory().path
        let first = try Self.veer(["generate", "example.com", "--dir", dir])
        let second = try Self.veer(["generate", "example.com", "--dir", dir])
        #expect(first.status == 0 && second.status == 0, "\(first.output)\(second.output)")
        let start = try Self.states(dir)
        let old = try #require(start["active"]?.first)
        let new = try #require(start["published"]?.first)

        // The DS of both, the coming one marked, so the parent can add it ahead.
        let ds = try Self.veer(["ds", "example.com", "--dir", dir])
        #expect(ds.output.contains("; key \(new) published"))
        #expect(ds.output.split(separator: "\n").filter { $0.contains(" IN DS ") }.count == 2)

        // Too early: caches may not hold the new DNSKEY yet.
        let early = try Self.veer(["activate", "example.com", String(new), "--dir", dir])
        #expect(early.status == 1)
        #expect(early.output.contains("DNSKEY TTL"), "\(early.output)")
        #expect(try Self.states(dir) == start)

        let activate = try Self.veer(["activate", "example.com", String(new), "--dir", dir, "--dnskey-ttl", "0"])
        #expect(activate.status == 0, "\(activate.output)")
        #expect(try Self.states(dir) == ["active": [new], "retiring": [old]])

        let early2 = try Self.veer(["retire", "example.com", String(old), "--dir", dir])
        #expect(early2.status == 1)
        let retire = try Self.veer(["retire", "example.com", String(old), "--dir", dir, "--force"])
        #expect(retire.status == 0, "\(retire.output)")
        #expect(try Self.states(dir) == ["active": [new], "removed": [old]])
    }

    @Test(arguments: ["generate", "ds", "list", "activate", "retire"])
    func helpExitsZeroAndUsageErrorsExit64(_ verb: String) throws {
        let help = try Self.veer([verb, "--help"])
        #expect(help.status == 0)
        #expect(help.output.hasPrefix("usage: veer keys \(verb)"))
        let bad = try Self.veer([verb, "--bogus"])
        #expect(bad.status == 64)
        #expect(bad.output.contains("unknown option --bogus"))
        #expect(bad.output.contains("usage: veer keys \(verb)"))
    }

    @Test func errorsNameTheFileAndErrno() throws {
        let dir = try makeTemporaryDirectory().path
        let missing = try Self.veer(["list", "--dir", dir + "/none"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("opendir \(dir)/none: ENOENT"), "\(missing.output)")
        _ = try Self.veer(["generate", "example.com", "--dir", dir])
        let privateFile = try #require(try FileIO.contentsOfDirectory(dir).first { $0.hasSuffix(".private") })
        chmod(dir + "/" + privateFile, 0o644)
        let loose = try Self.veer(["ds", "example.com", "--dir", dir])
        #expect(loose.status == 1)
        #expect(loose.output.contains("\(dir)/\(privateFile): readable by group or others (mode 0644)"), "\(loose.output)")
    }

    /// `veer check --keys`: a served zone's key is fine, a key for a zone not served is a
    /// warning, a key others may read is an error (exit 1), a zone without keys stays unsigned.
    @Test func checkLooksAtTheKeys() throws {
        let root = try makeTemporaryDirectory()
        try writeZones(["example.com.zone": """
            $ORIGIN example.com.
            $TTL 3600
            @    IN SOA ns1 hostmaster 1 3600 600 604800 60
            @    IN NS  ns1
            ns1  IN A   192.0.2.53
            """, "unsigned.test.zone": """
            $ORIGIN unsigned.test.
            @    3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
            @    3600 IN NS  ns1
            ns1  3600 IN A   192.0.2.54
            """], to: root.appendingPathComponent("zones"))
        let zones = root.path + "/zones", keys = root.path + "/keys"
        #expect(try Self.veer(["generate", "example.com", "--dir", keys]).status == 0)
        let ok = try runProgram(try Tools.veer(), ["check", zones, "--keys", keys])
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output.contains("info: zone example.com. signed: "), "\(ok.output)")

        #expect(try Self.veer(["generate", "stray.test", "--dir", keys]).status == 0)
        let stray = try runProgram(try Tools.veer(), ["check", zones, "--keys", keys])
        #expect(stray.status == 0, "\(stray.output)")
        #expect(stray.output.contains("warning: \(keys): keys for stray.test., which no zone file serves"), "\(stray.output)")

        let privateFile = try #require(try FileIO.contentsOfDirectory(keys).first { $0.hasPrefix("Kexample") && $0.hasSuffix(".private") })
        chmod(keys + "/" + privateFile, 0o604)
        try "zone=example.com.\nalgorithm=8\n".write(toFile: keys + "/Kexample.com.+008+00001.state", atomically: true, encoding: .utf8)
        let bad = try runProgram(try Tools.veer(), ["check", zones, "--keys", keys])
        #expect(bad.status == 1, "\(bad.output)")
        #expect(bad.output.contains("error: \(keys)/\(privateFile): readable by group or others (mode 0604)"), "\(bad.output)")
        #expect(bad.output.contains("error: \(keys)/Kexample.com.+008+00001.state: algorithm=8 is not one Veer signs with"), "\(bad.output)")
    }
}
