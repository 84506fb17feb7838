import DNSWire
import Testing

/// The question section entry, RFC 1035 §4.1.2.
@Suite struct QuestionTests {
    @Test func knownBytesAndRoundTrip() throws {
        let question = Question(name: name("www.example.com."), type: .aaaa)
        let bytes = try WireWriter.build { (writer) throws(WireError) in try question.encode(into: &writer) }
        #expect(bytes == wwwExampleCom + hex("001C 0001"))
        let decoded = try WireReader.with(bytes) { (reader) throws(WireError) in try Question.decode(from: &reader) }
        #expect(decoded == question)
        #expect(decoded.description == "www.example.com. IN AAAA")
    }

    @Test(arguments: [
        (RRType(rawValue: 65534), RRClass.chaos, "example.com. CH TYPE65534"),
        (RRType.any, RRClass.any, "example.com. ANY ANY"),
        (RRType.axfr, RRClass(rawValue: 4), "example.com. CLASS4 AXFR"),
    ])
    func typeAndClassSurviveRoundTrip(_ type: RRType, _ rrclass: RRClass, _ text: String) throws {
        let question = Question(name: name("example.com."), type: type, rrclass: rrclass)
        let bytes = try WireWriter.build { (writer) throws(WireError) in try question.encode(into: &writer) }
        #expect(bytes == exampleCom + [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF),
                                       UInt8(rrclass.rawValue >> 8), UInt8(rrclass.rawValue & 0xFF)])
        let decoded = try WireReader.with(bytes) { (reader) throws(WireError) in try Question.decode(from: &reader) }
        #expect(decoded == question)
        #expect(decoded.description == text)
    }

    @Test func rootQuestion() throws {
        let question = Question(name: .root, type: .ns)
        let bytes = try WireWriter.build { (writer) throws(WireError) in try question.encode(into: &writer) }
        #expect(bytes == hex("00 0002 0001"))
        #expect(question.description == ". IN NS")
    }

    @Test func truncatedTypeNamesTheField() {
        expectWireError(.truncated, at: 13, field: "question type") {
            () throws(WireError) in try WireReader.with(exampleCom + [0x00]) { (reader) throws(WireError) in
                try Question.decode(from: &reader)
            }
        }
    }
}
