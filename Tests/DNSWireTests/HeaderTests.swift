import DNSWire
import Testing

/// The 12-byte header, RFC 1035 §4.1.1: every flag accessor, OPCODE and RCODE bits.
@Suite struct HeaderTests {
    /// A single-bit accessor, the bit it owns on the wire, and its name for messages.
    struct Flag: Sendable, CustomTestStringConvertible {
        let label: String
        let bit: UInt16
        let keyPath: WritableKeyPath<Header, Bool> & Sendable
        var testDescription: String { label }
    }

    static let flags: [Flag] = [
        Flag(label: "QR", bit: 0x8000, keyPath: \.isResponse),
        Flag(label: "AA", bit: 0x0400, keyPath: \.authoritative),
        Flag(label: "TC", bit: 0x0200, keyPath: \.truncated),
        Flag(label: "RD", bit: 0x0100, keyPath: \.recursionDesired),
        Flag(label: "RA", bit: 0x0080, keyPath: \.recursionAvailable),
    ]

    @Test(arguments: flags)
    func flagAccessorSetsOnlyItsBit(_ flag: Flag) {
        var header = Header()
        header[keyPath: flag.keyPath] = true
        #expect(header.flags == flag.bit)
        #expect(header[keyPath: flag.keyPath])
        // Clearing it from all-ones leaves every other bit alone.
        header.flags = 0xFFFF
        header[keyPath: flag.keyPath] = false
        #expect(header.flags == 0xFFFF & ~flag.bit)
        #expect(!header[keyPath: flag.keyPath])
    }

    @Test func namedBitConstantsMatchRFC() {
        #expect(Header.qrBit == 0x8000)
        #expect(Header.aaBit == 0x0400)
        #expect(Header.tcBit == 0x0200)
        #expect(Header.rdBit == 0x0100)
        #expect(Header.raBit == 0x0080)
        #expect(Header.adBit == 0x0020)   // RFC 4035 §3.2.3
        #expect(Header.cdBit == 0x0010)   // RFC 4035 §3.2.2
    }

    /// OPCODE occupies bits 11–14 (mask 0x7800).
    @Test(arguments: [(UInt8(0), UInt16(0x0000)), (1, 0x0800), (2, 0x1000), (4, 0x2000), (5, 0x2800), (15, 0x7800)])
    func opcodeBits(_ opcode: UInt8, _ bits: UInt16) {
        var header = Header()
        header.opcode = opcode
        #expect(header.flags == bits)
        #expect(header.opcode == opcode)
        header.flags = 0xFFFF
        header.opcode = opcode
        #expect(header.flags == 0xFFFF & ~0x7800 | bits)
        #expect(header.opcode == opcode)
    }

    @Test func opcodeSetterDropsHighBits() {
        var header = Header()
        header.opcode = 0x14   // only the low 4 bits fit
        #expect(header.opcode == 4)
        #expect(header.flags == 0x2000)
    }

    /// RCODE is the low 4 bits.
    @Test(arguments: [UInt8(0), 1, 2, 3, 4, 5, 15])
    func rcodeLowBits(_ rcode: UInt8) {
        var header = Header(flags: 0xFFF0)
        header.rcodeLow = rcode
        #expect(header.flags == 0xFFF0 | UInt16(rcode))
        #expect(header.rcodeLow == rcode)
        header.rcodeLow = rcode | 0x30
        #expect(header.rcodeLow == rcode, "high bits of the setter's argument are dropped")
    }

    /// A typical authoritative NXDOMAIN response header, written out by hand.
    @Test func knownBytes() throws {
        var header = Header(id: 0xBEEF)
        header.isResponse = true
        header.opcode = 0
        header.authoritative = true
        header.recursionDesired = true
        header.rcodeLow = 3
        header.questionCount = 1
        header.answerCount = 2
        header.authorityCount = 3
        header.additionalCount = 4
        let bytes = try WireWriter.build { (writer) throws(WireError) in try header.encode(into: &writer) }
        // id | QR=1 OPCODE=0 AA=1 TC=0 RD=1 | RA=0 Z=0 AD=0 CD=0 RCODE=3 | counts
        #expect(bytes == hex("BEEF | 85 03 | 0001 0002 0003 0004"))
        let decoded = try WireReader.with(bytes) { (reader) throws(WireError) in try Header.decode(from: &reader) }
        #expect(decoded == header)
        #expect(decoded.flags == 0x8503)
    }

    @Test func decodeReadsEveryFlagBit() throws {
        let decoded = try WireReader.with(hex("0000 FFFF 0000 0000 0000 0000")) { (reader) throws(WireError) in
            try Header.decode(from: &reader)
        }
        #expect(decoded.isResponse && decoded.authoritative && decoded.truncated)
        #expect(decoded.recursionDesired && decoded.recursionAvailable)
        #expect(decoded.opcode == 15 && decoded.rcodeLow == 15)
        #expect(decoded.flags & Header.adBit != 0 && decoded.flags & Header.cdBit != 0)
    }

    /// The header's 4 RCODE bits join EDNS's upper 8 (RFC 6891 §6.1.3).
    @Test func extendedRCodeJoinsHeaderBits() {
        var message = Message(header: Header())
        message.header.rcodeLow = 0
        #expect(message.rcode == .noError)
        message.edns = EDNS(extendedRCode: 1)
        #expect(message.rcode == .badVers)
        #expect(message.rcode.description == "BADVERS")
        message.header.rcodeLow = 3
        message.edns = nil
        #expect(message.rcode == .nxDomain)
    }
}
