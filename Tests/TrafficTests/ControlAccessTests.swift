import Testing
import Traffic

/// Who may change what over TLS: `ControlAccess` on parsed commands and certificate names.
struct ControlAccessTests {
    static func access(_ rules: String...) throws -> ControlAccess {
        var access = ControlAccess()
        for rule in rules { try access.allow(parsing: rule) }
        return access
    }

    static func decide(_ access: ControlAccess, _ line: String, cn: String, sans: [String] = []) throws -> ControlAccess.Verdict {
        access.decide(try AdminCommand.parse(line), commonName: cn, dnsNames: sans)
    }

    /// Every command, from a certificate scoped to api.example.com: allowed or the refusal's start.
    static let scoped: [(line: String, allowed: Bool)] = [
        ("status", true), ("status pay.example.com", true), ("rollout status", true), ("history", true),
        ("history pay.example.com 5", true), ("health pay.example.com", true), ("analysis pay.example.com", true), ("help", true),
        ("weight api.example.com new 10", true), ("shift API.Example.com. new 25%", true), ("drain api.example.com old", true),
        ("undo api.example.com", true), ("rollout start api.example.com --to new --steps 1,100 --bake 1m", true),
        ("rollout pause api.example.com", true), ("rollout resume api.example.com", true), ("rollout abort api.example.com", true),
        ("weight pay.example.com new 10", false), ("shift pay.example.com new 25%", false), ("drain pay.example.com old", false),
        ("undo pay.example.com", false), ("rollout start pay.example.com --to new --steps 1,100 --bake 1m", false),
        ("rollout pause pay.example.com", false), ("rollout abort pay.example.com", false),
        ("shift pay.example.com new 25% --dry-run", false), ("reload", false), ("store restore because", false),
    ]

    @Test(arguments: scoped)
    func aScopedCertificateChangesOnlyItsNamesAndReadsEverything(line: String, allowed: Bool) throws {
        let access = try Self.access("deploy-bot=api.example.com")
        let verdict = try Self.decide(access, line, cn: "deploy-bot")
        if allowed {
            #expect(verdict == .allowed(.certificate("deploy-bot")), "\(line)")
        } else {
            guard case .refused(let text) = verdict else { Issue.record("\(line) allowed"); return }
            #expect(text.contains("not allowed for deploy-bot (it may change"), "\(text)")
        }
    }

    @Test func theRefusalNamesTheChangeTheSubjectAndWhatItMayChange() throws {
        let access = try Self.access("deploy-bot=api.example.com,www.example.com")
        #expect(try Self.decide(access, "shift pay.example.com new 25%", cn: "deploy-bot")
                == .refused("changing pay.example.com. is not allowed for deploy-bot (it may change api.example.com.,www.example.com.)"))
        #expect(try Self.decide(access, "reload", cn: "deploy-bot")
                == .refused("reload is not allowed for deploy-bot (it may change only api.example.com.,www.example.com.)"))
    }

    @Test func aCertificateWithoutARuleMayChangeEverything() throws {
        let access = try Self.access("deploy-bot=api.example.com")
        for line in ["shift pay.example.com new 25%", "reload", "store restore x", "status"] {
            #expect(try Self.decide(access, line, cn: "ops") == .allowed(.certificate("ops")), "\(line)")
        }
        #expect(try Self.decide(ControlAccess(), "reload", cn: "anyone") == .allowed(.certificate("anyone")))
    }

    @Test func aDNSNameScopesAndNamesTheCertificateAsWellAsItsCN() throws {
        let access = try Self.access("deploy-bot=api.example.com")
        #expect(try Self.decide(access, "shift api.example.com new 5%", cn: "runner-7", sans: ["runner-7.ci", "deploy-bot"])
                == .allowed(.certificate("deploy-bot")))
        guard case .refused(let text) = try Self.decide(access, "shift pay.example.com new 5%", cn: "runner-7", sans: ["DEPLOY-BOT"]) else {
            Issue.record("a SAN in another case matches too")
            return
        }
        #expect(text.hasSuffix("not allowed for DEPLOY-BOT (it may change api.example.com.)"))
        // Without a CN, the first DNS name names it.
        #expect(try Self.decide(access, "status", cn: "", sans: ["host.example.net"]) == .allowed(.certificate("host.example.net")))
    }

    @Test func rulesOfOneSubjectAndOfEveryNameACertificateCarriesAddUp() throws {
        let access = try Self.access("deploy-bot=api.example.com", "deploy-bot=www.example.com", "canary=pay.example.com")
        for name in ["api", "www"] {
            #expect(try Self.decide(access, "undo \(name).example.com", cn: "deploy-bot") == .allowed(.certificate("deploy-bot")))
        }
        #expect(try Self.decide(access, "undo pay.example.com", cn: "deploy-bot", sans: ["canary"]) == .allowed(.certificate("deploy-bot")))
        #expect(try Self.decide(access, "undo pay.example.com", cn: "deploy-bot") != .allowed(.certificate("deploy-bot")))
    }

    @Test func aCertificateNamingNothingIsRefusedEverything() throws {
        guard case .refused(let text) = try Self.decide(ControlAccess(), "status", cn: "", sans: []) else {
            Issue.record("a certificate with no name was let in")
            return
        }
        #expect(text.contains("without a CN or DNS name"))
    }

    @Test(arguments: [
        ("deploy-bot", "no \"=\""), ("=api.example.com", "the subject is empty"), ("deploy bot=api.example.com", "holds blanks"),
        ("deploy-bot=", "\"\" is not a name"), ("deploy-bot=api.example.com,,www", "\"\" is not a name"),
        ("deploy-bot=.", "\".\" is not a name"),
    ])
    func aBadRuleSaysWhatIsWrong(rule: String, reason: String) {
        var access = ControlAccess()
        #expect(throws: ControlAccess.RuleError.self) { try access.allow(parsing: rule) }
        do { try access.allow(parsing: rule) } catch { #expect(error.description.contains(reason), "\(error)") }
    }

    @Test func theAuditFieldQuotesWhatCouldForgeALine() {
        #expect(Requester.certificate("deploy-bot").description == "cert=deploy-bot")
        #expect(Requester.uid(1000).description == "uid=1000")
        #expect(Requester.certificate("ops team \"a\"").description == "cert=ops%20team%20%22a%22")
        #expect(Requester.certificate("bot=1 reason=x").logName == "cert:bot%3D1%20reason%3Dx")
        #expect(Requester.certificate("").description == "cert=%")
    }
}
