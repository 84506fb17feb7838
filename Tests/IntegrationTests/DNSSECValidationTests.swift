import Foundation
import Posix
import Testing

/// Veer's signed answers checked by real validators (README "DNSSEC"): Unbound through a
/// stub zone with the zone's DS as its trust anchor (AD=1, never SERVFAIL), BIND's delv
/// straight to Veer, and DNSViz's probe and grok. Signatures renewed before they expire, a
/// warm restart that signs nothing, and a key rollover, each with Unbound validating.
/// Each test fails loudly when unbound, delv or dnsviz is missing (`.ci/run` installs them).
@Suite(.serialized)
struct DNSSECValidationTests {
    /// Every kind of name the issue lists. The NS address is loopback: DNSViz queries the
    /// zone's own name servers as well as the one it is given.
    static let zone = """
        $ORIGIN example.com.
        $TTL 300
        @       IN SOA ns1 hostmaster 2026120701 3600 600 604800 60
        @       IN NS  ns1
        @       IN MX  10 mail
        ns1     IN A   127.0.0.1
        www     IN A   192.0.2.10
        www     IN AAAA 2001:db8::10
        mail    IN A   192.0.2.25
        txt     IN TXT "hello"
        a.b.c   IN A   192.0.2.30
        *.wild  IN A   192.0.2.99
        sub     IN NS  ns.sub
        ns.sub  IN A   192.0.2.200
        sec     IN NS  ns.sec
        ns.sec  IN A   192.0.2.201
        sec     IN DS  \\# 36 30390d0249f1c7c1f8f7c7ec3a9d6ddca2a34ce3b1e7e1dd1f2f23c4d5e6f7081920a1b2
        gw-old  IN A   198.51.100.10
        gw-new  IN A   198.51.100.20
        api  30 IN CNAME gw-old.example.com. endpoint=old weight=70
        api  30 IN CNAME gw-new.example.com. endpoint=new weight=30
        pool 30 IN A 192.0.2.1 endpoint=blue weight=1
        pool 30 IN A 198.51.100.1 endpoint=green weight=1
        pool 30 IN AAAA 2001:db8::1 endpoint=green
        cohort 30 IN A 192.0.2.101 endpoint=old weight=50 select=client
        cohort 30 IN A 192.0.2.102 endpoint=new weight=50
        """

    static let zones = ["example.com.zone": zone]

    /// (name, type, status) that each validator must answer securely.
    static let checks: [(String, String, String)] = [
        ("www.example.com", "A", "NOERROR"), ("www.example.com", "AAAA", "NOERROR"), ("example.com", "MX", "NOERROR"),
        ("txt.example.com", "TXT", "NOERROR"), ("example.com", "DNSKEY", "NOERROR"),
        ("nope.example.com", "A", "NXDOMAIN"), ("www.example.com", "MX", "NOERROR"), ("c.example.com", "A", "NOERROR"),
        ("b.c.example.com", "TXT", "NOERROR"), ("x.wild.example.com", "A", "NOERROR"), ("x.wild.example.com", "TXT", "NOERROR"),
        ("sub.example.com", "DS", "NOERROR"), ("sec.example.com", "DS", "NOERROR"),
        ("api.example.com", "A", "NOERROR"), ("pool.example.com", "AAAA", "NOERROR"), ("cohort.example.com", "A", "NOERROR"),
    ]

    @Test func unboundAndDelvValidateEveryKindOfAnswer() throws {
        let signed = try SignedServer(zones: Self.zones)
        let ds = try signed.dsRecords()
        #expect(ds.count == 1)
        let unbound = try UnboundProcess(zone: "example.com", ds: ds, veerPort: signed.server.port)
        for (name, type, status) in Self.checks {
            let answer = try unbound.dig(name, type)
            #expect(answer.status == status && answer.flags.contains("ad"), "\(name) \(type): \(answer)\n\(unbound.log)")
        }
        let delv = try Delv(zone: "example.com", ds: ds, port: signed.server.port, directory: signed.keys.deletingLastPathComponent())
        for (name, type, _) in Self.checks {
            let output = try delv.validate(name, type)
            // "; fully validated", or for a proven negative "; negative response, fully validated".
            #expect(output.contains("fully validated"), "delv \(name) \(type):\n\(output)")
        }
    }

    /// 200 queries of each weighted name through Unbound, every one validated (AD), every
    /// endpoint with weight above 0 seen; again after a `shift`. Unbound's cache is flushed
    /// before each pair of queries (`unbound-control flush_zone`; `cache-max-ttl: 0` still
    /// keeps an answer for the rest of its second), so each reaches Veer and its choice.
    @Test func weightedNamesValidateForEveryEndpointBeforeAndAfterAShift() throws {
        let signed = try SignedServer(zones: Self.zones)
        let unbound = try UnboundProcess(zone: "example.com", ds: try signed.dsRecords(), veerPort: signed.server.port)
        func seen(_ rounds: Int) throws -> (api: Set<String>, pool: Set<String>) {
            var api: Set<String> = [], pool: Set<String> = []
            for _ in 0..<rounds {
                try unbound.flush("example.com")
                let messages = try Self.dig(port: unbound.port, ["api.example.com", "A", "pool.example.com", "A"])
                #expect(messages.count == 2)
                for message in messages {
                    #expect(message.status == "NOERROR" && message.ad, "\(message.text)\n\(unbound.log)")
                }
                api.formUnion(Self.data(of: messages.first?.answers ?? [], type: "CNAME"))
                pool.formUnion(Self.data(of: messages.last?.answers ?? [], type: "A"))
            }
            return (api, pool)
        }
        let before = try seen(200)
        #expect(before.api == ["gw-old.example.com.", "gw-new.example.com."])
        #expect(before.pool == ["192.0.2.1", "198.51.100.1"])
        #expect(try signed.admin("shift", "api.example.com", "new", "90%").output.hasPrefix("ok"))
        #expect(try signed.admin("shift", "pool.example.com", "green", "20%").output.hasPrefix("ok"))
        let after = try seen(200)
        #expect(after.api == ["gw-old.example.com.", "gw-new.example.com."])
        #expect(after.pool == ["192.0.2.1", "198.51.100.1"])
        #expect(try signed.admin("drain", "api.example.com", "old").output.hasPrefix("ok"))
        #expect(try seen(20).api == ["gw-new.example.com."])
    }

    /// A `select=client` name through Unbound sending ECS (`send-client-subnet`, module
    /// `subnetcache`): clients of different /24s get their cohort's endpoint, each validated.
    @Test func clientSelectedNameValidatesWithClientSubnet() throws {
        let signed = try SignedServer(zones: Self.zones)
        let unbound = try UnboundProcess(zone: "example.com", ds: try signed.dsRecords(), veerPort: signed.server.port)
        var addresses: Set<String> = []
        for subnet in 0..<40 {
            let answer = try unbound.dig("+subnet=10.\(subnet).\(subnet * 3 % 256).0/24", "cohort.example.com", "A")
            #expect(answer.status == "NOERROR" && answer.flags.contains("ad"), "\(answer)\n\(unbound.log)")
            addresses.formUnion(Self.data(of: answer.answer, type: "A"))
        }
        #expect(addresses == ["192.0.2.101", "192.0.2.102"])
    }

    /// `_veer.NAME` never looks bogus: a validating resolver (DO=1) gets the zone's signed
    /// NXDOMAIN; dig without +dnssec and `dig CH TXT` still read the status.
    @Test func statusNamesStayValidForResolversAndReadableWithDig() throws {
        let signed = try SignedServer(zones: Self.zones)
        let unbound = try UnboundProcess(zone: "example.com", ds: try signed.dsRecords(), veerPort: signed.server.port)
        let resolved = try unbound.dig("_veer.api.example.com", "TXT")
        #expect(resolved.status == "NXDOMAIN" && resolved.flags.contains("ad"), "\(resolved)\n\(unbound.log)")
        let plain = try signed.server.dig("_veer.api.example.com", "TXT")
        #expect(plain.answer.contains { $0.contains("endpoint=old") }, "\(plain)")
        let chaos = try signed.server.dig("_veer.api.example.com", "TXT", "-c", "CH", "+dnssec")
        #expect(chaos.answer.contains { $0.contains(" CH TXT ") && $0.contains("endpoint=old") }, "\(chaos)")
    }

    @Test func dnsvizReportsNoErrorsAndNoWarnings() throws {
        guard let dnsviz = Tools.onPath("dnsviz") else { throw HarnessError("dnsviz not found: apt-get install dnsviz") }
        let signed = try SignedServer(zones: Self.zones)
        let directory = signed.keys.deletingLastPathComponent()
        let keys = try signed.server.dig("example.com", "DNSKEY")
        let trusted = directory.appendingPathComponent("trusted-keys")
        try keys.answer.joined(separator: "\n").write(to: trusted, atomically: true, encoding: .utf8)
        // Delegations are left out: DNSViz would follow them to their (absent) servers.
        let names = ["example.com", "www.example.com", "nope.example.com", "c.example.com", "x.wild.example.com",
                     "api.example.com", "pool.example.com", "txt.example.com", "cohort.example.com"]
        let probe = try runProgram(dnsviz, ["probe", "-A", "-x", "example.com+:ns1.example.com=127.0.0.1:\(signed.server.port)",
                                            "-o", directory.appendingPathComponent("probe.json").path] + names, timeout: .seconds(120))
        #expect(probe.status == 0, "\(probe.output)")
        // Debian's dnsviz asks pygraphviz for a `release` module that its pygraphviz no
        // longer has; grok draws nothing, so a stand-in with the version is enough.
        let shim = directory.appendingPathComponent("shim", isDirectory: true)
        try FileManager.default.createDirectory(at: shim, withIntermediateDirectories: true)
        try Self.pygraphvizShim.write(to: shim.appendingPathComponent("sitecustomize.py"), atomically: true, encoding: .utf8)
        let script = "PYTHONPATH=\(shim.path) \(dnsviz) grok -t \(trusted.path) -r \(directory.path)/probe.json"
        let all = try runProgram("/bin/sh", ["-c", script], timeout: .seconds(60))
        #expect(all.status == 0, "\(all.output)")
        for problem in ["\"errors\"", "\"warnings\"", "BOGUS", "INSECURE", "INDETERMINATE"] {
            #expect(!all.output.contains(problem), "dnsviz grok: \(problem)\n\(all.output)")
        }
        #expect(all.output.contains("\"SECURE\""))
        let warnings = try runProgram("/bin/sh", ["-c", script + " -l warning"], timeout: .seconds(60))
        #expect(warnings.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(warnings.output)")
    }

    static let pygraphvizShim = """
        import sys, types
        try:
            import pygraphviz
            if not hasattr(pygraphviz, "release"):
                release = types.ModuleType("pygraphviz.release")
                release.version = pygraphviz.__version__
                sys.modules["pygraphviz.release"] = release
                pygraphviz.release = release
        except ImportError:
            pass

        """

    /// Signatures valid 12 s, renewed with 6-8 s left: over 40 s (several validity periods)
    /// every answer through Unbound validates (no skew allowed), and the log shows renewals.
    @Test func signaturesAreRenewedBeforeTheyExpire() throws {
        let signed = try SignedServer(zones: Self.zones, extraArguments: [
            "--signature-validity", "12s", "--signature-refresh", "6s", "--signature-jitter", "2s"])
        let unbound = try UnboundProcess(zone: "example.com", ds: try signed.dsRecords(), veerPort: signed.server.port)
        let deadline = ContinuousClock.now + .seconds(40)
        var asked = 0
        while ContinuousClock.now < deadline {
            for (name, type) in [("www.example.com", "A"), ("nope.example.com", "A"), ("api.example.com", "A")] {
                let answer = try unbound.dig(name, type)
                #expect(answer.flags.contains("ad") && answer.status != "SERVFAIL", "\(answer)\n\(unbound.log)")
                asked += 1
            }
        }
        #expect(asked >= 30)
        let passes = signed.server.stderr.split(separator: "\n").filter { $0.contains("dnssec: example.com. signed:") }
        #expect(passes.count >= 4, "\(signed.server.stderr)")
    }

    /// A restart on the same state directory takes every signature from the cache.
    @Test func restartWithAWarmCacheSignsNothingNew() throws {
        let signed = try SignedServer(zones: Self.zones)
        let first = try signed.server.logLine(containing: "dnssec: example.com. signed:")
        #expect(!first.contains(" 0 signatures made"), "\(first)")
        try signed.restart(zones: Self.zones)
        let second = try signed.server.logLine(containing: "dnssec: example.com. signed:")
        #expect(second.contains(" 0 signatures made"), "\(second)")
        let unbound = try UnboundProcess(zone: "example.com", ds: try signed.dsRecords(), veerPort: signed.server.port)
        #expect(try unbound.dig("www.example.com", "A").flags.contains("ad"))
    }

    /// Key 1 to key 2 by pre-publication (RFC 6781 §4.1.1) with `veer keys` and `reload`;
    /// Unbound validates at every step, trusting key 1's DS until the parent would show key
    /// 2's, then key 2's.
    @Test func keyRolloverKeepsUnboundValidating() throws {
        let signed = try SignedServer(zones: Self.zones)
        let oldDS = try signed.dsRecords()
        let oldTag = String(oldDS[0].split(separator: " ")[0])
        func validates(_ unbound: UnboundProcess, _ step: String) throws {
            for (name, type) in [("www.example.com", "A"), ("nope.example.com", "A"), ("example.com", "DNSKEY"), ("api.example.com", "A")] {
                let answer = try unbound.dig(name, type)
                #expect(answer.flags.contains("ad") && answer.status != "SERVFAIL", "\(step): \(answer)\n\(unbound.log)")
            }
        }
        /// `status` names each published key with its state, and nothing else of the zone.
        func statusShows(_ states: [String: String], _ step: String) throws {
            let status = try signed.admin("status").output
            let line = status.split(separator: "\n").first { $0.hasPrefix("dnssec: example.com. ") }.map(String.init) ?? ""
            let shown = line.components(separatedBy: ", ").map { $0.components(separatedBy: " since ")[0].split(separator: " ").suffix(3) }
            #expect(Dictionary(uniqueKeysWithValues: shown.map { (String($0.first!), String($0.last!)) }) == states, "\(step): \(status)")
            #expect(status.contains("dnssec: signatures next renewed at "), "\(step): \(status)")
        }
        var unbound = try UnboundProcess(zone: "example.com", ds: oldDS, veerPort: signed.server.port)
        try validates(unbound, "key 1 active")
        try statusShows([oldTag: "active"], "key 1 active")
        let generated = try SignedServer.keysCommand(["generate", "example.com", "--dir", signed.keys.path])
        #expect(generated.status == 0, "\(generated.output)")
        #expect(try signed.admin("reload").output.hasPrefix("ok"))
        try validates(unbound, "key 2 published")
        let newTag = try #require(try signed.dsRecords().map { String($0.split(separator: " ")[0]) }.first { $0 != oldTag })
        try statusShows([oldTag: "active", newTag: "published"], "key 2 published")
        let activated = try SignedServer.keysCommand(["activate", "example.com", newTag, "--dir", signed.keys.path, "--force"])
        #expect(activated.status == 0, "\(activated.output)")
        #expect(try signed.admin("reload").output.hasPrefix("ok"))
        try validates(unbound, "key 2 active, key 1 retiring")
        try statusShows([oldTag: "retiring", newTag: "active"], "key 2 active, key 1 retiring")
        // The parent's DS now points at key 2.
        let newDS = try signed.dsRecords().filter { $0.hasPrefix(newTag + " ") }
        unbound = try UnboundProcess(zone: "example.com", ds: newDS, veerPort: signed.server.port)
        try validates(unbound, "DS of key 2 at the parent")
        let retired = try SignedServer.keysCommand(["retire", "example.com", oldTag, "--dir", signed.keys.path, "--force"])
        #expect(retired.status == 0, "\(retired.output)")
        #expect(try signed.admin("reload").output.hasPrefix("ok"))
        try validates(unbound, "key 1 removed")
        try statusShows([newTag: "active"], "key 1 removed")
        let keys = try signed.server.dig("example.com", "DNSKEY")
        #expect(keys.answer.count == 1, "\(keys)")
    }

    /// The last field of each record of `type` among `lines` (a CNAME's target, an address).
    static func data(of lines: [String], type: String) -> [String] {
        lines.map { $0.split(separator: " ") }.filter { $0.count >= 5 && $0[3] == type }.map { String($0.last!) }
    }

    /// One message of a dig run that asked several questions.
    struct Message {
        var status = ""
        var ad = false
        var answers: [String] = []
        var text = ""
    }

    /// dig through the resolver at `port` (recursion desired, DO set) with `questions`
    /// (name, type, name, type…), asked one after another; each message read apart.
    static func dig(port: UInt16, _ questions: [String]) throws -> [Message] {
        let result = try runProgram(try Tools.dig(), ["@127.0.0.1", "-p", "\(port)", "+rec", "+dnssec", "+time=3", "+tries=2",
                                                     "+noall", "+comments", "+answer"] + questions, timeout: .seconds(30))
        var messages: [Message] = []
        for line in result.output.split(separator: "\n").map(normalised) {
            if line.hasPrefix(";; ->>HEADER<<-") {
                var message = Message()
                message.status = line.components(separatedBy: "status: ").last?.components(separatedBy: ",").first ?? ""
                messages.append(message)
            }
            guard !messages.isEmpty else { continue }
            if line.hasPrefix(";; flags:") {
                let flags = line.dropFirst(";; flags:".count).split(separator: ";").first ?? ""
                messages[messages.count - 1].ad = flags.split(separator: " ").contains("ad")
            } else if !line.hasPrefix(";") && !line.isEmpty {
                messages[messages.count - 1].answers.append(line)
            }
            messages[messages.count - 1].text += line + "\n"
        }
        return messages
    }
}
