import DNSWire
import Testing

/// The question-name fast path (`WireReader.plainName`) and the name table's word hash: what
/// every query goes through, checked against the general reader and a table of every length.
@Suite struct PlainNameTests {
    /// The root, random mixed-case names up to 255 octets, and the longest legal name.
    static func names() -> [[UInt8]] {
        var result: [[UInt8]] = [[0]]
        var random = SystemRandomNumberGenerator()
        func label(_ length: Int) -> [UInt8] {
            [UInt8(length)] + (0..<length).map { _ in UInt8.random(in: 0x41...0x5A, using: &random) | (Bool.random() ? 0x20 : 0) }
        }
        for target in 2...255 {
            var wire: [UInt8] = []
            while true {
                let length = Int.random(in: 1...63, using: &random)
                guard wire.count + 1 + length + 1 <= target else { break }
                wire += label(length)
            }
            result.append(wire + [0])
        }
        result.append(label(63) + label(63) + label(63) + label(61) + [0])
        #expect(result.last?.count == 255)
        return result
    }

    @Test func readsWhatTheGeneralReaderReads() throws {
        for name in Self.names() {
            let message = header(qd: 1) + name + hex("0001 0001")
            var fast = [UInt8](repeating: 0xEE, count: 256)
            var general = [UInt8](repeating: 0xEE, count: 256)
            let fastLength = message.withUnsafeBytes { raw in
                fast.withUnsafeMutableBytes { WireReader.plainName(in: raw, at: 12, into: $0, lowercase: true) }
            }
            let generalLength = try message.withUnsafeBytes { raw in
                try general.withUnsafeMutableBytes { out in
                    var reader = WireReader(raw, offset: 12)
                    return try reader.name(into: out, lowercase: true)
                }
            }
            #expect(fastLength == name.count)
            #expect(fastLength == generalLength)
            #expect(fast == general, "lowercased copy differs for a \(name.count)-octet name")
            #expect(Array(fast[0..<fastLength]) == name.map(asciiLower))
        }
    }

    /// Anything but a plain name is left to the general reader (0, nothing written): a
    /// pointer, a reserved label type, a label past the end, a name without its root.
    @Test func leavesEverythingElseToTheGeneralReader() {
        let cases: [[UInt8]] = [
            hex("C00C"), hex("03 616263 C00C"), hex("41 61"), hex("03 6162"), hex("03 616263"),
            [UInt8](repeating: 1, count: 1) + [UInt8](repeating: 0x61, count: 300),
        ]
        for name in cases {
            let message = header(qd: 1) + name
            var out = [UInt8](repeating: 0xEE, count: 256)
            let length = message.withUnsafeBytes { raw in
                out.withUnsafeMutableBytes { WireReader.plainName(in: raw, at: 12, into: $0, lowercase: true) }
            }
            #expect(length == 0)
            #expect(out.allSatisfy { $0 == 0xEE })
        }
        // 256 octets with the root: one over the limit of 255, though every label is legal.
        var long: [UInt8] = []
        for _ in 0..<3 { long += [63] + [UInt8](repeating: 0x61, count: 63) }
        long += [62] + [UInt8](repeating: 0x61, count: 62) + [0]
        #expect(long.count == 256)
        let message = header(qd: 1) + long
        var out = [UInt8](repeating: 0, count: 300)
        let length = message.withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { WireReader.plainName(in: raw, at: 12, into: $0, lowercase: true) }
        }
        #expect(length == 0)
    }

    /// Keys that differ only in their last byte, or only in length (the overlapping last
    /// word of the hash), are all told apart.
    @Test func nameTableFindsEveryKeyOfEveryLength() {
        var table = NameTable(expectedCount: 4)
        var keys: [[UInt8]] = []
        for length in 1...40 {
            for last in [UInt8(0x61), 0x62, 0x00] {
                keys.append([UInt8](repeating: 0x78, count: length - 1) + [last])
            }
        }
        for (index, key) in keys.enumerated() {
            #expect(key.withUnsafeBytes { table.lookupOrInsert($0, value: Int32(index)) } == -1, "a new key is inserted")
        }
        for (index, key) in keys.enumerated() { #expect(table.lookup(key) == Int32(index)) }
        #expect(table.lookup([UInt8](repeating: 0x78, count: 41)) == -1)
        #expect(table.lookup([UInt8](repeating: 0x79, count: 9)) == -1)
    }
}
