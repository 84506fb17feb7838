import DNSWire
import Testing

// Helpers shared by the DNSWire tests: hex literals, names, and typed-error capture.

/// Bytes from a hex string; spaces, newlines and `|` (used to mark field boundaries) are ignored.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter { $0.isHexDigit }
    precondition(digits.count.isMultiple(of: 2), "odd number of hex digits in \(text)")
    var out: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        out.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return out
}

/// The bytes of `text` as ASCII (for label contents written inline).
func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Lowercase hex, for failure messages and crash reports.
func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

/// A name from presentation text that the test knows to be valid.
func name(_ text: String) -> DomainName {
    do { return try DomainName(text) } catch { fatalError("bad test name \(text): \(error)") }
}

/// Runs `body` and returns the `WireError` it threw, or nil when it succeeded.
func wireError<R>(_ body: () throws(WireError) -> R) -> WireError? {
    do { _ = try body(); return nil } catch { return error }
}

/// Expects `body` to throw a `WireError` of `kind` at `offset` (and naming `field`, when given).
func expectWireError<R>(_ kind: WireError.Kind, at offset: Int, field: String? = nil,
                        sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws(WireError) -> R) {
    guard let error = wireError(body) else {
        Issue.record("expected \(kind) at \(offset), but it succeeded", sourceLocation: sourceLocation)
        return
    }
    #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
    #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation)
    if let field { #expect(error.field == field, "\(error)", sourceLocation: sourceLocation) }
}

/// Encodes one record on its own (so nothing earlier can be a compression target).
func encodeRecord(_ record: ResourceRecord) throws(WireError) -> [UInt8] {
    try WireWriter.build { (writer) throws(WireError) in try record.encode(into: &writer) }
}

/// Decodes one record that must span all of `bytes`.
func decodeRecord(_ bytes: [UInt8]) throws(WireError) -> ResourceRecord {
    try WireReader.with(bytes) { (reader) throws(WireError) in
        let record = try ResourceRecord.decode(from: &reader)
        guard reader.isAtEnd else { throw WireError(.trailingBytes, field: "test", offset: reader.offset) }
        return record
    }
}

/// Decodes a single name from `bytes`, starting at `offset`.
func decodeName(_ bytes: [UInt8], at offset: Int = 0) throws(WireError) -> DomainName {
    try WireReader.with(bytes) { (reader) throws(WireError) in
        try reader.skip(offset, "test prefix")
        return try reader.name()
    }
}

/// The 12-byte header of a message with the given section counts (id 0x1234, flags 0).
func header(qd: UInt16 = 0, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0, flags: UInt16 = 0) -> [UInt8] {
    var out: [UInt8] = [0x12, 0x34, UInt8(flags >> 8), UInt8(flags & 0xFF)]
    for count in [qd, an, ns, ar] { out += [UInt8(count >> 8), UInt8(count & 0xFF)] }
    return out
}

/// `www.example.com.` in uncompressed wire form, 17 octets.
let wwwExampleCom = hex("03 777777 07 6578616d706c65 03 636f6d 00")
/// `example.com.` in uncompressed wire form, 13 octets.
let exampleCom = hex("07 6578616d706c65 03 636f6d 00")

/// Checks one record three ways: it encodes to `bytes` exactly, `bytes` decode back to an
/// equal record, and the decoded record prints as `presentation`.
func expectRecord(_ record: ResourceRecord, encodesTo bytes: [UInt8], presentation: String,
                  sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let encoded = try encodeRecord(record)
        #expect(hexString(encoded) == hexString(bytes), "encoding", sourceLocation: sourceLocation)
        let decoded = try decodeRecord(bytes)
        #expect(decoded == record, "decoding", sourceLocation: sourceLocation)
        #expect(decoded.description == presentation, sourceLocation: sourceLocation)
        #expect(record.description == presentation, sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(error)", sourceLocation: sourceLocation)
    }
}

/// `message` with its header's section counts set from its sections, as decoding sets them
/// (`Message` equality includes the header, and `encode` derives the counts).
func counted(_ message: Message) -> Message {
    var result = message
    result.header.questionCount = UInt16(message.questions.count)
    result.header.answerCount = UInt16(message.answers.count)
    result.header.authorityCount = UInt16(message.authority.count)
    result.header.additionalCount = UInt16(message.additional.count + (message.edns == nil ? 0 : 1))
    return result
}
