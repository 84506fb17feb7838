import DNSWire
import Testing

/// The name decoding guards (RFC 1035 §2.3.4, §4.1.4; RFC 6891 §5), one test each, every one
/// asserting the error kind and the offset it names. Names sit in the question of a message
/// so offsets are message offsets; the header is 12 bytes, so the name starts at 12.
@Suite struct NameDecodeGuardTests {
    /// A one-question message whose question name is `nameBytes` (followed by QTYPE A, QCLASS IN).
    static func query(_ nameBytes: [UInt8]) -> [UInt8] { header(qd: 1) + nameBytes + hex("0001 0001") }

    static func label(_ length: Int, _ byte: UInt8 = 0x61) -> [UInt8] {
        [UInt8(length)] + [UInt8](repeating: byte, count: length)
    }

    // MARK: label length

    /// Over the wire a length octet of 64 has top bits 0b01, a reserved label type, so a label
    /// of 64 octets cannot be expressed; the typed constructors reject it as too long.
    @Test func labelOf63IsAccepted() throws {
        let wire = Self.label(63) + [0]
        #expect(try DomainName(wire: wire).labels == [[UInt8](repeating: 0x61, count: 63)])
        #expect(try Message.decode(Self.query(wire)).questions[0].name.wire == wire)
    }

    @Test func labelOf64ViaLabels() {
        expectWireError(.labelTooLong, at: 4, field: "name") { () throws(WireError) in
            try DomainName(labels: [ascii("abc"), [UInt8](repeating: 0x61, count: 64)])
        }
    }

    @Test func labelOf64ViaWireInit() {
        expectWireError(.labelTooLong, at: 2, field: "name") { () throws(WireError) in
            try DomainName(wire: [0x01, 0x61] + Self.label(64) + [0])
        }
    }

    @Test func labelOf64ViaPresentation() {
        expectWireError(.labelTooLong, at: 0, field: "name") { () throws(WireError) in
            try DomainName(String(repeating: "a", count: 64) + ".com.")
        }
    }

    /// On the wire, the length octet 0x40 (63 + 1) is a reserved label type, not a long label.
    @Test func labelOf64OverTheWireIsReservedType() {
        expectWireError(.reservedLabelType, at: 14, field: "question name") { () throws(WireError) in
            try Message.decode(Self.query([0x01, 0x61] + Self.label(64) + [0]))
        }
    }

    @Test func emptyLabelViaLabels() {
        expectWireError(.emptyLabel, at: 2, field: "name") { () throws(WireError) in
            try DomainName(labels: [ascii("a"), [], ascii("b")])
        }
    }

    // MARK: name length

    /// 63+63+63+61 octets of labels plus 4 length octets and the root: exactly 255.
    @Test func nameOf255OctetsIsAccepted() throws {
        let wire = Self.label(63) + Self.label(63) + Self.label(63) + Self.label(61) + [0]
        #expect(wire.count == 255)
        #expect(try DomainName(wire: wire).wire.count == 255)
        #expect(try Message.decode(Self.query(wire)).questions[0].name.wire == wire)
    }

    @Test func nameOf256OctetsFromLabels() {
        let wire = Self.label(63) + Self.label(63) + Self.label(63) + Self.label(62) + [0]
        #expect(wire.count == 256)
        // The fourth label (at 12 + 192) would leave no room for the root label.
        expectWireError(.nameTooLong, at: 204, field: "question name") { () throws(WireError) in
            try Message.decode(Self.query(wire))
        }
        expectWireError(.nameTooLong, at: 0, field: "name") { () throws(WireError) in try DomainName(wire: wire) }
        expectWireError(.nameTooLong, at: 0, field: "name") { () throws(WireError) in
            try DomainName(labels: [[UInt8]](repeating: [UInt8](repeating: 0x61, count: 63), count: 3)
                           + [[UInt8](repeating: 0x61, count: 62)])
        }
    }

    /// Many short labels: 128 one-octet labels make 257 octets.
    @Test func nameTooLongFromManyShortLabels() {
        let wire = [UInt8]((0..<128).flatMap { _ in Self.label(1) }) + [0]
        expectWireError(.nameTooLong, at: 12 + 127 * 2, field: "question name") { () throws(WireError) in
            try Message.decode(Self.query(wire))
        }
    }

    /// Each part is short, but the decompressed name exceeds 255: a 63-octet label in front of
    /// a pointer to a 193-octet name.
    @Test func nameTooLongAfterDecompression() {
        let first = Self.label(63) + Self.label(63) + Self.label(63) + [0]   // 12...204, fine on its own
        var bytes = header(qd: 2) + first + hex("0001 0001")                    // second name at 209
        bytes += Self.label(63, 0x62) + hex("C00C 0001 0001")
        // Reading the second name: 64 octets, jump to 12, then 64 + 64 fit (192) and the third
        // label of the target (at 12 + 128) would make 257.
        expectWireError(.nameTooLong, at: 140, field: "question name") { () throws(WireError) in
            try Message.decode(bytes)
        }
    }

    /// A chain of pointers each adding one label builds an over-long name from tiny pieces.
    @Test func nameTooLongThroughPointerChain() throws {
        // Root at 12; then 130 names `x` + pointer to the previous one.
        var bytes = header(qd: 1) + [0] + hex("0001 0001")   // question `.` at 12
        var previous = 12
        for _ in 0..<130 {
            let here = bytes.count
            bytes += [0x01, 0x78, 0xC0 | UInt8(previous >> 8), UInt8(previous & 0xFF)]
            previous = here
        }
        // Decode the last one as a name: 127 labels (254 octets) fit; the 128th label does not.
        expectWireError(.nameTooLong, at: 17 + 2 * 4, field: "name") { () throws(WireError) in
            try decodeName(bytes, at: previous)
        }
        // 127 links decode, to a 255-octet name.
        #expect(try decodeName(bytes, at: 17 + 126 * 4).wire.count == 255)
    }

    // MARK: pointers

    @Test func forwardPointer() {
        expectWireError(.forwardPointer, at: 12, field: "question name") { () throws(WireError) in
            try Message.decode(Self.query(hex("C012 00")))
        }
    }

    @Test func pointerToItself() {
        expectWireError(.pointerLoop, at: 12, field: "question name") { () throws(WireError) in
            try Message.decode(Self.query(hex("C00C")))
        }
    }

    /// `a` then a pointer back to `a`: the pointer's target is strictly earlier, but reading on
    /// from it reaches the pointer again. The reader bounds the jumped-to name by the pointer's
    /// own position, so it stops there; it reports that as running out of bytes at the pointer.
    @Test func pointerLoopThroughLabel() {
        expectWireError(.truncated, at: 14, field: "question name") { () throws(WireError) in
            try Message.decode(Self.query(hex("01 61 C00C")))
        }
    }

    /// Two names that point at each other: one of the two pointers must be a forward one.
    @Test func pointerLoopBetweenTwoNames() {
        // 12: `a` + pointer to 16; 16: `b` + pointer to 12.
        let bytes = header(qd: 1) + hex("01 61 C010 | 01 62 C00C")
        expectWireError(.forwardPointer, at: 14, field: "name") { () throws(WireError) in try decodeName(bytes, at: 12) }
        expectWireError(.forwardPointer, at: 14, field: "name") { () throws(WireError) in try decodeName(bytes, at: 16) }
    }

    /// A pointer chain without labels (each pointer to the one before) is cut after
    /// `WireReader.maxPointerHops` hops.
    @Test func hopCap() throws {
        func chain(_ hops: Int) -> [UInt8] {
            var bytes: [UInt8] = [0x00, 0x00]   // root at 0
            for k in 1...hops { bytes += [0xC0, UInt8(2 * (k - 1))] }
            return bytes
        }
        #expect(WireReader.maxPointerHops == 127)
        #expect(try decodeName(chain(127), at: 2 * 127) == .root)
        // The 128th hop is the pointer at offset 2.
        expectWireError(.pointerLoop, at: 2, field: "name") { () throws(WireError) in
            try decodeName(chain(128), at: 2 * 128)
        }
    }

    // MARK: reserved label types and truncation

    /// RFC 6891 §5: 0b01 (extended label types, retired) and 0b10 are rejected.
    @Test(arguments: [UInt8(0x40), 0x41, 0x7F, 0x80, 0x81, 0xBF])
    func reservedLabelType(_ byte: UInt8) {
        expectWireError(.reservedLabelType, at: 16, field: "question name") { () throws(WireError) in
            try Message.decode(Self.query(hex("03 777777") + [byte, 0x00, 0x00]))
        }
    }

    @Test func truncatedLabel() {
        // `www` promised, `ww` present.
        expectWireError(.truncated, at: 12, field: "question name") { () throws(WireError) in
            try Message.decode(header(qd: 1) + hex("03 7777"))
        }
    }

    @Test func missingRootLabel() {
        expectWireError(.truncated, at: 16, field: "question name") { () throws(WireError) in
            try Message.decode(header(qd: 1) + hex("03 777777"))
        }
    }

    @Test func truncatedPointer() {
        expectWireError(.truncated, at: 16, field: "question name") { () throws(WireError) in
            try Message.decode(header(qd: 1) + hex("03 777777 C0"))
        }
    }

    /// A label inside RDATA may not run past RDLENGTH even when the message goes on.
    @Test func nameBoundedByRData() {
        let bytes = header(an: 1) + hex("00 0002 0001 00000000 0002 | 03 6e73 | 31 00")
        expectWireError(.truncated, at: 23, field: "NS nsdname") { () throws(WireError) in try Message.decode(bytes) }
    }

    @Test func wireInitRejectsMalformed() {
        expectWireError(.truncated, at: 0, field: "name") { () throws(WireError) in try DomainName(wire: []) }
        expectWireError(.truncated, at: 4, field: "name") { () throws(WireError) in try DomainName(wire: hex("03 777777")) }
        expectWireError(.trailingBytes, at: 5, field: "name") { () throws(WireError) in try DomainName(wire: hex("03 777777 00 00")) }
        // A pointer octet is not allowed in uncompressed wire form.
        expectWireError(.labelTooLong, at: 0, field: "name") { () throws(WireError) in try DomainName(wire: hex("C00C")) }
    }
}
