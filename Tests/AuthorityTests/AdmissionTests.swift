import DNSWire
import Testing
@testable import Authority
import Traffic

/// Admission, a pure function of the header, and the OPT parse, each on its own.
struct AdmissionTests {
    /// A 12-byte header: id 0x1234, then `flags`, QD, AN, NS, AR.
    static func header(flags: UInt16 = 0x0100, qd: UInt16 = 1, an: UInt16 = 0, ns: UInt16 = 0, ar: UInt16 = 0) -> [UInt8] {
        [0x12, 0x34] + [flags, qd, an, ns, ar].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    @Test(arguments: [
        (header(), Admission.answer),
        (header(flags: 0x8100), .drop),                       // QR=1: a response
        (Array(header().prefix(11)), .drop),                  // shorter than a header
        ([], .drop),
        (header(flags: 0x0900), .error(.notImp)),             // opcode 1 (IQUERY)
        (header(flags: 0x2100), .error(.notImp)),             // opcode 4 (NOTIFY)
        (header(flags: 0x2900, qd: 0), .error(.notImp)),      // NOTIMP wins over FORMERR
        (header(qd: 0), .error(.formErr)),
        (header(qd: 2), .error(.formErr)),
        (header(an: 1), .error(.formErr)),
        (header(ns: 1), .error(.formErr)),
        (header(ar: 3), .answer),                             // the additional section is read later
        (header(flags: 0x0000), .answer),                     // RD clear
    ] as [([UInt8], Admission)])
    func admission(header: [UInt8], expected: Admission) {
        #expect(header.withUnsafeBytes { Admission.of(header: $0) } == expected)
    }

    /// An OPT record: root owner, type 41, class = payload, TTL = ext-rcode/version/flags.
    static func opt(payload: UInt16 = 1232, version: UInt8 = 0, owner: [UInt8] = [0], options: [UInt8] = []) -> [UInt8] {
        owner + [0, 41, UInt8(payload >> 8), UInt8(payload & 0xFF), 0, version, 0, 0,
                 UInt8(options.count >> 8), UInt8(options.count & 0xFF)] + options
    }

    static let cookie: [UInt8] = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]

    @Test(arguments: [
        ([], 0, nil as UInt16?, nil as UInt8?),
        (opt(), 1, 1232, 0),
        (opt(payload: 4096, version: 1), 1, 4096, 1),
        (opt(options: cookie), 1, 1232, 0),
    ] as [([UInt8], UInt16, UInt16?, UInt8?)])
    func wellFormedAdditionalSections(bytes: [UInt8], count: UInt16, payload: UInt16?, version: UInt8?) throws {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 257, alignment: 8)
        defer { scratch.deallocate() }
        let edns = try bytes.withUnsafeBytes { buffer throws(WireError) in
            var reader = WireReader(buffer, offset: 0)
            return try ClientEDNS.read(&reader, count: count, scratch: scratch)
        }
        #expect(edns?.payload == payload)
        #expect(edns?.version == version)
    }

    @Test(arguments: [
        (opt() + opt(), 2),                                   // two OPTs
        (opt(owner: [3, 0x63, 0x6F, 0x6D, 0]), 1),           // OPT not owned by the root
        (opt(options: [0, 10, 0, 9, 1]), 1),                  // option longer than its RDATA
        (Array(opt().dropLast()), 1),                         // truncated record
        (opt() + [0], 1),                                     // trailing byte
        (opt(), 2),                                           // fewer records than ARCOUNT
    ] as [([UInt8], UInt16)])
    func malformedAdditionalSectionsThrow(bytes: [UInt8], count: UInt16) {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 257, alignment: 8)
        defer { scratch.deallocate() }
        #expect(throws: WireError.self) {
            _ = try bytes.withUnsafeBytes { buffer throws(WireError) in
                var reader = WireReader(buffer, offset: 0)
                return try ClientEDNS.read(&reader, count: count, scratch: scratch)
            }
        }
    }
}
