import DNSWire
import Foundation
import Posix
import TestSupport
import Testing

/// `select=client` with the real binary and real dig: the subnets on the new gateway at 5%
/// are still there at 25%, two servers with one seed agree, and a restart changes nothing.
@Suite(.serialized)
struct CohortIntegrationTests {
    static let zone = """
        $ORIGIN example.com.
        $TTL 3600
        @    IN SOA ns1 hostmaster 2026112301 3600 600 604800 60
        @    IN NS  ns1
        ns1  IN A   192.0.2.53
        www  IN A   192.0.2.10
        api  30 IN A 192.0.2.101 endpoint=old weight=95 select=client
        api  30 IN A 192.0.2.102 endpoint=new weight=5
        """
    static let seed = "00112233445566778899aabbccddeeff"
    /// Subnets asked about: 198.51.0.0/24 … and 203.0.0.0/24 …, 400 in all.
    static let subnets = (0..<200).map { "198.51.\($0).0/24" } + (0..<200).map { "203.0.\($0).0/24" }

    static func start(state: String, seed: String? = Self.seed) throws -> VeerProcess {
        try VeerProcess(zones: ["example.com.zone": zone],
                        extraArguments: ["--state-dir", state] + (seed.map { ["--cohort-seed", $0] } ?? []))
    }

    /// One dig run asking api.example.com A once per subnet with `+subnet=`; the answer
    /// address by the subnet dig printed back (`; CLIENT-SUBNET: 198.51.7.0/24/24`), which
    /// checks the echoed source and scope too.
    /// A query lost on a loaded machine is asked again (twice at most): this is about which
    /// answer each subnet gets, not about loss.
    static func answers(_ server: VeerProcess) throws -> [String: String] {
        var answers: [String: String] = [:]
        for _ in 0..<3 {
            let missing = subnets.filter { answers["\($0)/24"] == nil }
            if missing.isEmpty { break }
            answers.merge(try Self.answers(server, missing)) { $1 }
        }
        #expect(answers.count == subnets.count, "answered \(answers.count) of \(subnets.count) subnets")
        return answers
    }

    static func answers(_ server: VeerProcess, _ subnets: [String]) throws -> [String: String] {
        var arguments = ["@\(server.host)", "-p", "\(server.port)", "+norec", "+time=2", "+tries=2", "+noall", "+comments", "+answer"]
        for subnet in subnets { arguments += ["+subnet=\(subnet)", "api.example.com", "A"] }
        let result = try runProgram(try Tools.dig(), arguments, timeout: .seconds(60))
        var answers: [String: String] = [:]
        var subnet: String?
        for line in result.output.split(separator: "\n") {
            if let range = line.range(of: "; CLIENT-SUBNET: ") {
                subnet = String(line[range.upperBound...])
            } else if line.hasPrefix("api.example.com."), let current = subnet {
                answers[current] = String(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).last!)
                subnet = nil
            }
        }
        return answers
    }

    static func onNew(_ answers: [String: String]) -> Set<String> {
        Set(answers.filter { $0.value == "192.0.2.102" }.keys)
    }

    static func veer(_ state: String, _ words: String...) throws -> ProgramResult {
        try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock"] + words)
    }

    @Test func theSubnetsOnTheNewGatewayAtFivePercentStayThereAtTwentyFive() throws {
        let (stateA, stateB) = (try FileIO.makeTemporaryDirectory(prefix: "veer-cohort-a-"),
                                try FileIO.makeTemporaryDirectory(prefix: "veer-cohort-b-"))
        let a = try Self.start(state: stateA), b = try Self.start(state: stateB)

        let five = try Self.answers(a)
        #expect(five.count == Self.subnets.count, "dig echoed every subnet with scope 24: \(five.count)")
        #expect(Set(five.keys) == Set(Self.subnets.map { "\($0)/24" }))
        #expect(try Self.answers(b) == five, "two servers with one seed: one cohort per subnet")
        let newAtFive = Self.onNew(five)
        // 5% of 400: 20 expected, σ ≈ 4.4.
        #expect((3...45).contains(newAtFive.count), "\(newAtFive.count) subnets on new at 5%")

        let dry = try Self.veer(stateA, "shift", "api.example.com", "new", "25%", "--dry-run")
        #expect(dry.status == 0 && dry.output.contains("recently seen client keys would move"), "\(dry.output)")
        for state in [stateA, stateB] {
            let shift = try Self.veer(state, "shift", "api.example.com", "new", "25%")
            #expect(shift.status == 0, "\(shift.output)")
        }
        let twentyFive = try Self.answers(a)
        let newAtTwentyFive = Self.onNew(twentyFive)
        #expect(newAtFive.isSubset(of: newAtTwentyFive), "left new on the way up: \(newAtFive.subtracting(newAtTwentyFive))")
        // 25% of 400: 100 expected, σ ≈ 8.7.
        #expect((60...140).contains(newAtTwentyFive.count), "\(newAtTwentyFive.count) subnets on new at 25%")
        #expect(try Self.answers(b) == twentyFive)

        // status shows the cohorts: answers by key kind and the heaviest keys.
        let status = try Self.veer(stateA, "status", "api.example.com")
        #expect(status.output.contains("api.example.com. select=client, answers by client key: old ecs="), "\(status.output)")
        #expect(status.output.contains("heaviest of"), "\(status.output)")

        // A restart without --cohort-seed reads the seed from the state: nothing moves.
        a.stop()
        let restarted = try Self.start(state: stateA, seed: nil)
        #expect(try Self.answers(restarted) == twentyFive)
        withExtendedLifetime(b) {}
    }

    @Test func withoutECSTheResolversAddressKeysTheAnswerAndNoECSComesBack() throws {
        let server = try Self.start(state: try FileIO.makeTemporaryDirectory(prefix: "veer-cohort-"))
        let first = try server.dig("api.example.com", "A")
        #expect(first.answer.count == 1)
        #expect(!first.output.contains("CLIENT-SUBNET"), "no ECS asked, none sent: \(first.output)")
        for _ in 0..<10 { #expect(try server.dig("api.example.com", "A").answer == first.answer, "one resolver, one cohort") }
        let static_ = try server.dig("www.example.com", "A", "+subnet=198.51.7.0/24")
        #expect(static_.output.contains("CLIENT-SUBNET: 198.51.7.0/24/0"), "a static answer has scope 0: \(static_.output)")
        // dig masks what it sends; a raw query sets a bit past its /23.
        let bad = try Raw.query("api.example.com.", .a, edns: EDNS(options: [EDNSOption(code: 8, data: [0, 1, 23, 0, 198, 51, 7])]))
        let reply = try Raw.decode(try #require(try server.udp(bad)))
        #expect(reply.rcode == .formErr && reply.answers.isEmpty)
    }
}
