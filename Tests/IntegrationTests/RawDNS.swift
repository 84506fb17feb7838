import DNSWire

/// Builds raw queries for the tests dig cannot express (bad opcodes, two questions, QR=1).
enum Raw {
    /// A query for `name`/`type` with the given header fields; EDNS only when `edns` is given.
    static func query(_ name: String, _ type: RRType, id: UInt16 = 0x5EE1, flags: UInt16 = 0,
                      edns: EDNS? = nil) throws -> [UInt8] {
        try Message(header: Header(id: id, flags: flags),
                    questions: [Question(name: try DomainName(name), type: type)], edns: edns).encoded()
    }

    /// Decodes a response, failing with its bytes in hex when it does not parse.
    static func decode(_ bytes: [UInt8]) throws -> Message {
        do {
            return try Message.decode(bytes)
        } catch {
            throw HarnessError("response does not decode (\(error)): \(bytes.map { hex($0) }.joined(separator: " "))")
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}

extension Message {
    /// Records as normalised presentation lines, like `DigResult`'s.
    var answerLines: [String] { answers.map { normalised($0.description) } }
}
