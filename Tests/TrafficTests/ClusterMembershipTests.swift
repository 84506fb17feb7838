import Testing
import Traffic

/// The cluster as a value (README "The expected cluster"): expected, live and missing
/// servers, who does not serve a revision or the same zones, the servers flagged for their
/// zones, quorum counted against the expected set, and whether a held `--server-id` is taken.
struct ClusterMembershipTests {
    static let v1 = ZoneSummary(serial: 1, digest: String(repeating: "a", count: 64))
    static let v2 = ZoneSummary(serial: 2, digest: String(repeating: "b", count: 64))
    static let other = ZoneSummary(serial: 7, digest: String(repeating: "c", count: 64))

    static func server(_ id: String, revision: UInt64 = 5, zones: [String: ZoneSummary]? = ["example.com.": v1]) -> ServerRegistration {
        ServerRegistration(id: id, revision: revision, zones: zones)
    }

    static func cluster(_ expected: [String]?, _ servers: [ServerRegistration]) -> ClusterMembership {
        ClusterMembership(expected: expected, servers: Dictionary(uniqueKeysWithValues: servers.map { ($0.id, $0) }))
    }

    @Test func expectedLiveMissingAndUnexpected() {
        let view = Self.cluster(["c", "a", "b", "a"], [Self.server("a"), Self.server("b"), Self.server("x")])
        #expect(view.expected == ["a", "b", "c"])
        #expect(view.live == ["a", "b", "x"])
        #expect(view.missing == ["c"])
        #expect(view.unexpected == ["x"])
        #expect(view.members == ["a", "b", "c"])
    }

    @Test func withoutClusterEveryLiveServerIsAMemberAndNoneIsMissing() {
        let view = Self.cluster(nil, [Self.server("b"), Self.server("a")])
        #expect(view.members == ["a", "b"])
        #expect(view.missing.isEmpty)
        #expect(view.unexpected.isEmpty)
    }

    @Test func notServingARevisionNamesTheLaggingAndTheMissing() {
        let view = Self.cluster(["a", "b", "c"], [Self.server("a", revision: 9), Self.server("b", revision: 4)])
        #expect(view.notServing(9) == ["b at revision 4", "c (missing: not registered)"])
        #expect(Self.cluster(nil, [Self.server("a", revision: 9)]).notServing(9).isEmpty)
    }

    @Test func unlikeNamesTheZonesThatDifferAndWhoHasNotPublished() {
        let mine = ["example.com.": Self.v1]
        let view = Self.cluster(["a", "b", "c", "d"], [
            Self.server("a"), Self.server("b", zones: ["example.com.": Self.v2]), Self.server("c", zones: nil),
        ])
        #expect(view.unlike(mine) == [
            "b (example.com. serial 2 sha256 bbbbbbbbbbbb)", "c (has not published its zones)", "d (missing: not registered)",
        ])
        let extra = Self.cluster(nil, [Self.server("a", zones: ["example.com.": Self.v1, "example.net.": Self.other])])
        #expect(extra.unlike(mine) == ["a (example.net. serial 7 sha256 cccccccccccc)"])
        #expect(Self.cluster(["a", "b"], [Self.server("a"), Self.server("b")]).unlike(mine).isEmpty)
    }

    @Test func aZoneServedDifferentlyListsEachVersionMostCommonFirst() {
        let view = Self.cluster(nil, [Self.server("a"), Self.server("b"), Self.server("c", zones: ["example.com.": Self.v2])])
        let differences = view.zoneDifferences
        #expect(differences.count == 1)
        #expect(differences.first?.text == "example.com. serial 1 sha256 aaaaaaaaaaaa on a, b; serial 2 sha256 bbbbbbbbbbbb on c")
        #expect(view.serversWithDifferentZones == ["c"])
    }

    @Test func aZoneOneServerDoesNotServeIsADifference() {
        let view = Self.cluster(nil, [Self.server("a"), Self.server("b"), Self.server("c", zones: [:])])
        #expect(view.zoneDifferences.first?.text == "example.com. serial 1 sha256 aaaaaaaaaaaa on a, b; not served on c")
        #expect(view.serversWithDifferentZones == ["c"])
    }

    @Test func twoServersTwoVersionsFlagsBoth() {
        let view = Self.cluster(nil, [Self.server("a"), Self.server("b", zones: ["example.com.": Self.v2])])
        #expect(view.serversWithDifferentZones == ["a", "b"])
    }

    @Test func theSameZonesEverywhereFlagNobodyAndUnexpectedServersDoNotCount() {
        let view = Self.cluster(["a", "b"], [Self.server("a"), Self.server("b"), Self.server("x", zones: ["example.com.": Self.v2])])
        #expect(view.zoneDifferences.isEmpty)
        #expect(view.serversWithDifferentZones.isEmpty)
    }

    @Test func aServerThatHasNotPublishedIsNotADifference() {
        let view = Self.cluster(nil, [Self.server("a"), Self.server("b", zones: nil)])
        #expect(view.zoneDifferences.isEmpty)
    }

    @Test(arguments: [
        // (first seen, now, waited s, verdict)
        (UInt64(10), UInt64(10), 0, IdentityClaim.Verdict.wait),   // the key did not change yet: may be a crashed run's
        (10, 10, 6, .wait),
        (10, 12, 0, .refuse),                                     // rewritten: a live server renews it
        (10, 10, 7, .refuse),                                     // held past the limit
    ])
    func aHeldIdIsRefusedOnceItsHolderShowsItIsAlive(firstSeen: UInt64, now: UInt64, waited: Int, verdict: IdentityClaim.Verdict) {
        #expect(IdentityClaim.verdict(firstSeen: firstSeen, now: now, waited: .seconds(waited), limit: .seconds(7)) == verdict)
    }

    @Test func quorumCountsAgainstTheExpectedServers() {
        // Two of three live servers see e down: down among the live ones…
        let byServer: [String: [String: EndpointHealth]] = ["a": ["e": .down], "b": ["e": .down], "c": ["e": .up]]
        #expect(HealthQuorum.verdicts(byServer)["e"]?.health == .down)
        // …but with five expected, two is not more than half: a minority cannot drain it.
        let expected = HealthQuorum.verdicts(byServer, expected: ["a", "b", "c", "d", "e"])
        #expect(expected["e"]?.health == .up)
        #expect(expected["e"]?.reason == "down on 2 of 5 expected servers (3 live)")
        // A live server outside --cluster does not vote: one down of three expected is no quorum.
        let stranger: [String: [String: EndpointHealth]] = ["a": ["e": .down], "x": ["e": .down], "y": ["e": .down]]
        #expect(HealthQuorum.verdicts(stranger, expected: ["a", "b", "c"])["e"]?.health == .unknown)
        #expect(HealthQuorum.verdicts(["a": ["e": .down], "b": ["e": .down]], expected: ["a", "b", "c"])["e"]?.health == .down)
    }
}
