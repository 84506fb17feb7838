import Authority
import DNSWire
import Testing
import Traffic

/// Header handling, EDNS and truncation: what a resolver and dig rely on.
struct ProtocolTests {
    let exchange: Exchange

    init() throws {
        var big = exampleZone
        for i in 1...60 { big += "\nbig IN A 192.0.2.\(i)" }
        exchange = Exchange(data: try makeZoneData([big]))
    }

    @Test func ednsIsEchoedWithOurPayload() throws {
        let response = try exchange.ask("www.example.com.", edns: EDNS(payloadSize: 4096))
        #expect(response.edns?.payloadSize == EDNS.defaultPayload)
        #expect(response.edns?.version == 0)
    }

    @Test func noEDNSInNoEDNSOut() throws {
        #expect(try exchange.ask("www.example.com.").edns == nil)
    }

    @Test func ednsVersionAboveZeroIsBADVERS() throws {
        let response = try exchange.ask("www.example.com.", edns: EDNS(version: 1))
        #expect(response.rcode == .badVers)
        #expect(response.edns?.version == 0)
        #expect(response.answers.isEmpty)
    }

    @Test(arguments: [true, false])
    func theDOBitIsCopied(dnssecOK: Bool) throws {
        // RFC 3225 §3: a response to a query with DO set has DO set, and only then.
        let response = try Exchange(data: try makeZoneData()).ask("www.example.com.", edns: EDNS(dnssecOK: dnssecOK))
        #expect(response.edns?.dnssecOK == dnssecOK)
        #expect(response.answers.count == 1)
    }

    @Test func unknownEDNSOptionsAreIgnored() throws {
        let response = try exchange.ask("www.example.com.", edns: EDNS(options: [EDNSOption(code: 65001, data: [0xAB, 0xCD])]))
        #expect(response.rcode == .noError)
        #expect(response.answers.count == 1)
    }

    @Test func oversizedUDPAnswerIsTruncated() throws {
        // 60 A records: 12 + 21 (question) + 60 × 16 = 993 bytes > 512.
        let classic = try exchange.ask("big.example.com.")
        #expect(classic.header.truncated)
        #expect(classic.answers.isEmpty)
        let withEDNS = try exchange.ask("big.example.com.", edns: EDNS(payloadSize: 1232))
        #expect(!withEDNS.header.truncated)
        #expect(withEDNS.answers.count == 60)
        let overTCP = try exchange.ask("big.example.com.", overTCP: true)
        #expect(!overTCP.header.truncated)
        #expect(overTCP.answers.count == 60)
    }

    @Test func clientPayloadBelow512CountsAs512() throws {
        let response = try exchange.ask("www.example.com.", edns: EDNS(payloadSize: 100))
        #expect(!response.header.truncated)
        #expect(response.answers.count == 1)
    }

    @Test func responsesAreNeverAnswered() throws {
        var header = Header(id: 1)
        header.isResponse = true
        let query = Message(header: header, questions: [Question(name: try DomainName("www.example.com."), type: .a)])
        #expect(exchange.raw(try query.encoded()) == nil)
    }

    @Test func shortPacketsAreDropped() {
        #expect(exchange.raw([0x12, 0x34, 0x00]) == nil)
        #expect(exchange.raw([]) == nil)
    }

    @Test(arguments: [1, 2, 4, 5] as [UInt8])
    func otherOpcodesAreNOTIMP(_ opcode: UInt8) throws {
        var header = Header(id: 7)
        header.opcode = opcode
        let query = Message(header: header, questions: [Question(name: try DomainName("www.example.com."), type: .a)])
        let response = try Message.decode(try #require(exchange.raw(try query.encoded())))
        #expect(response.rcode == .notImp)
        #expect(response.header.opcode == opcode)
        #expect(response.header.id == 7)
    }

    @Test func noQuestionIsFORMERR() throws {
        let response = try Message.decode(try #require(exchange.raw(try Message(header: Header(id: 9)).encoded())))
        #expect(response.rcode == .formErr)
        #expect(response.questions.isEmpty)
    }

    /// Found by fuzz/RespondFuzz: a pointer in the question can only point into the header,
    /// which the response rewrites, so echoing it sent an undecodable or different name.
    @Test(arguments: [
        [0xC0, 0x02] as [UInt8],                  // the whole name a pointer into the flags
        [0x03, 0x77, 0x77, 0x77, 0xC0, 0x04],     // a label, then a pointer into QDCOUNT
    ])
    func aCompressedQuestionIsFORMERRWithoutTheQuestion(name: [UInt8]) throws {
        let query: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00] + name + [0x00, 0x01, 0x00, 0x01]
        for overTCP in [false, true] {
            let bytes = try #require(exchange.raw(query, overTCP: overTCP))
            let response = try Message.decode(bytes)
            #expect(response.rcode == .formErr)
            #expect(response.header.id == 0x1234)
            #expect(response.questions.isEmpty)
        }
    }

    @Test func twoQuestionsAreFORMERR() throws {
        let name = try DomainName("www.example.com.")
        let query = Message(header: Header(id: 9), questions: [Question(name: name, type: .a), Question(name: name, type: .aaaa)])
        #expect(try Message.decode(try #require(exchange.raw(try query.encoded()))).rcode == .formErr)
    }

    @Test func trailingGarbageIsFORMERR() throws {
        let query = Message(header: Header(id: 9), questions: [Question(name: try DomainName("www.example.com."), type: .a)])
        let response = try Message.decode(try #require(exchange.raw(try query.encoded() + [0xFF, 0xFF])))
        #expect(response.rcode == .formErr)
        #expect(response.questions.count == 1)
    }

    @Test func twoOPTRecordsAreFORMERR() throws {
        var bytes = try Message(header: Header(id: 9), questions: [Question(name: try DomainName("www.example.com."), type: .a)],
                                edns: EDNS()).encoded()
        bytes += bytes.suffix(11)
        bytes[11] = 2  // ARCOUNT
        #expect(try Message.decode(try #require(exchange.raw(bytes))).rcode == .formErr)
    }

    @Test func zoneTransfersAreRefused() throws {
        #expect(try exchange.ask("example.com.", .axfr, overTCP: true).rcode == .refused)
    }

    @Test func otherClassesAreRefused() throws {
        var header = Header(id: 3)
        header.recursionDesired = false
        let query = Message(header: header, questions: [Question(name: try DomainName("version.bind."), type: .txt, rrclass: .chaos)])
        #expect(try Message.decode(try #require(exchange.raw(try query.encoded()))).rcode == .refused)
    }
}
