import Testing

/// README "How Veer answers": what `veer serve` says to dig for each kind of name in the fixture.
@Suite struct AnsweringTests {
    @Test(arguments: [
        ("A", "www.example.com. 3600 IN A 192.0.2.10"),
        ("AAAA", "www.example.com. 3600 IN AAAA 2001:db8::10"),
    ])
    func addressAnsweredAuthoritativelyWithRDCopiedAndRAClear(type: String, expected: String) throws {
        let server = try Fixture.server()
        for recursion in ["+rec", "+norec"] {
            let result = try server.dig("www.example.com", type, recursion)
            #expect(result.status == "NOERROR", "\(result)")
            #expect(result.answer == [expected], "\(result)")
            #expect(result.flags.contains("qr") && result.flags.contains("aa"), "\(result)")
            #expect(!result.flags.contains("ra"), "RA must be clear: \(result)")
            #expect(result.flags.contains("rd") == (recursion == "+rec"), "RD must be copied: \(result)")
            #expect(result.authority.isEmpty, "\(result)")
        }
    }

    @Test func cnameChainFollowedInsideTheZoneInOrder() throws {
        let server = try Fixture.server()
        let result = try server.dig("alias.example.com", "A")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer == [
            "alias.example.com. 3600 IN CNAME alias2.example.com.",
            "alias2.example.com. 3600 IN CNAME www.example.com.",
            "www.example.com. 3600 IN A 192.0.2.10",
        ], "\(result)")
    }

    @Test func cnameLeavingTheZoneAnsweredWithTheCNAMEOnly() throws {
        let server = try Fixture.server()
        let result = try server.dig("ext.example.com", "A")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer == ["ext.example.com. 3600 IN CNAME target.example.net."], "\(result)")
    }

    @Test func mxAnswerCarriesTheMailServerAddressInAdditional() throws {
        let server = try Fixture.server()
        let result = try server.dig("example.com", "MX")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer == ["example.com. 3600 IN MX 10 mail.example.com."], "\(result)")
        #expect(result.additional.contains("mail.example.com. 3600 IN A 192.0.2.25"), "\(result)")
    }

    @Test func nxdomainCarriesTheSOAWithTheNegativeTTL() throws {
        let server = try Fixture.server()
        let result = try server.dig("nope.example.com", "A")
        #expect(result.status == "NXDOMAIN", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer.isEmpty, "\(result)")
        #expect(result.authority == [Fixture.negativeSOA], "\(result)")
    }

    @Test func nodataForAMissingTypeCarriesTheSOA() throws {
        let server = try Fixture.server()
        let result = try server.dig("www.example.com", "MX")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer.isEmpty, "\(result)")
        #expect(result.authority == [Fixture.negativeSOA], "\(result)")
    }

    /// `a.b.c` exists, so `b.c` and `c` exist too, without data: NODATA, not NXDOMAIN.
    @Test(arguments: ["b.c.example.com", "c.example.com"])
    func emptyNonTerminalIsNodata(name: String) throws {
        let server = try Fixture.server()
        let result = try server.dig(name, "A")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer.isEmpty, "\(result)")
        #expect(result.authority == [Fixture.negativeSOA], "\(result)")
    }

    /// Regression: the records of a name whose ancestors are created as empty non-terminals
    /// must stay at that name, not move to the topmost new ancestor.
    @Test func nameBelowNewEmptyNonTerminalsKeepsItsRecords() throws {
        let server = try Fixture.server()
        let result = try server.dig("a.b.c.example.com", "A")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.answer == ["a.b.c.example.com. 3600 IN A 192.0.2.30"], "\(result)")
    }

    @Test func cnameToAMissingNameIsNxdomainWithTheCNAME() throws {
        let server = try Fixture.server()
        let result = try server.dig("dangling.example.com", "A")
        #expect(result.status == "NXDOMAIN", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer == ["dangling.example.com. 3600 IN CNAME nowhere.example.com."], "\(result)")
        #expect(result.authority == [Fixture.negativeSOA], "\(result)")
    }

    @Test func nameOutsideEveryZoneIsRefusedWithoutAA() throws {
        let server = try Fixture.server()
        for name in ["www.example.org", "com", "."] {
            let result = try server.dig(name, "A")
            #expect(result.status == "REFUSED", "\(result)")
            #expect(!result.flags.contains("aa"), "\(result)")
            #expect(result.answer.isEmpty && result.authority.isEmpty, "\(result)")
        }
    }

    @Test func nameBelowADelegationGetsAReferralWithGlue() throws {
        let server = try Fixture.server()
        for name in ["host.sub.example.com", "sub.example.com"] {
            let result = try server.dig(name, "A")
            #expect(result.status == "NOERROR", "\(result)")
            #expect(!result.flags.contains("aa"), "a referral is not authoritative: \(result)")
            #expect(result.answer.isEmpty, "\(result)")
            #expect(result.authority == ["sub.example.com. 3600 IN NS ns.sub.example.com."], "\(result)")
            #expect(result.additional == ["ns.sub.example.com. 3600 IN A 192.0.2.77"], "\(result)")
        }
    }

    @Test(arguments: ["anything.wild.example.com", "two.labels.wild.example.com", "*.wild.example.com"])
    func wildcardAnswersWithTheQueryNameAsOwner(name: String) throws {
        let server = try Fixture.server()
        let result = try server.dig(name, "A")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        #expect(result.answer == ["\(name). 3600 IN A 192.0.2.99"], "\(result)")
    }

    /// `wild` itself only exists as the parent of `*.wild`: NODATA, and the wildcard's data
    /// must not appear there.
    @Test func wildcardParentIsNodata() throws {
        let server = try Fixture.server()
        let result = try server.dig("wild.example.com", "A")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.answer.isEmpty, "\(result)")
        #expect(result.authority == [Fixture.negativeSOA], "\(result)")
    }

    @Test func questionCaseEchoedInQuestionAndOwner() throws {
        let server = try Fixture.server()
        let result = try server.dig("WwW.ExAmPlE.cOm", "A")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.question == ["WwW.ExAmPlE.cOm. IN A"], "\(result)")
        #expect(result.answer == ["WwW.ExAmPlE.cOm. 3600 IN A 192.0.2.10"], "\(result)")
    }

    /// RFC 8482: ANY gets one RRset, not everything at the name.
    @Test func anyGetsOneRRset() throws {
        let server = try Fixture.server()
        let result = try server.dig("example.com", "ANY")
        #expect(result.status == "NOERROR", "\(result)")
        #expect(result.flags.contains("aa"), "\(result)")
        let sets = Set(result.answer.map { line -> String in
            let fields = line.split(separator: " ")
            return "\(fields[0]) \(fields[3])"
        })
        #expect(sets.count == 1, "expected one RRset: \(result)")
        #expect(!result.answer.isEmpty, "\(result)")
    }
}
