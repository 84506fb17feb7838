import DNSWire
import TestSupport

/// Turns valid queries into nearly valid and invalid ones.
struct Mutator {
    /// Largest random packet: a bit over the largest UDP answer Veer sends.
    static let maxRandomLength = 1500

    let seeds: [[UInt8]]
    var random: SplitMix64

    /// About ten valid queries covering the answer kinds, with and without EDNS.
    static func seedQueries() throws -> [[UInt8]] {
        let options = [EDNSOption(code: 65001, data: [0xAB, 0xCD]), EDNSOption(code: 10, data: [UInt8](repeating: 7, count: 8))]
        return [
            try Raw.query("www.example.com", .a),
            try Raw.query("www.example.com", .aaaa, edns: EDNS()),
            try Raw.query("example.com", .mx, flags: Header.rdBit),
            try Raw.query("big.example.com", .txt, edns: EDNS(payloadSize: 4096)),
            try Raw.query("alias.example.com", .a, edns: EDNS(options: options)),
            try Raw.query("host.sub.example.com", .a),
            try Raw.query("x.wild.example.com", .a),
            try Raw.query("nope.example.com", .a, edns: EDNS(version: 1)),
            try Raw.query("dangling.example.com", .any),
            try Raw.query("WwW.eXaMpLe.CoM", .ns, edns: EDNS(dnssecOK: true)),
        ]
    }

    /// One mutated packet: 1 to 3 mutations of a random seed.
    mutating func next() -> [UInt8] {
        var packet = seeds[random.below(seeds.count)]
        for _ in 0..<(1 + random.below(3)) { mutate(&packet) }
        return packet
    }

    private mutating func mutate(_ packet: inout [UInt8]) {
        switch random.below(9) {
        case 0:   // flip a few bits
            guard !packet.isEmpty else { return }
            for _ in 0..<(1 + random.below(8)) { packet[random.below(packet.count)] ^= 1 << UInt8(random.below(8)) }
        case 1:   // truncate
            packet = Array(packet.prefix(random.below(packet.count + 1)))
        case 2:   // random length, random bytes
            packet = (0..<random.below(Self.maxRandomLength)).map { _ in random.byte() }
        case 3:   // fuzz the flags word: QR, opcode, AA, TC, RD, Z, RCODE
            guard packet.count >= 4 else { return }
            packet[2] = random.byte()
            packet[3] = random.byte()
        case 4:   // fuzz a section count
            guard packet.count >= Header.size else { return }
            let at = 4 + 2 * random.below(4)
            let value = [0, 1, 2, 0xFF, 0xFFFF, random.below(65536)][random.below(6)]
            packet[at] = UInt8(value >> 8)
            packet[at + 1] = UInt8(value & 0xFF)
        case 5:   // a compression pointer somewhere after the header (forwards, backwards, to itself)
            guard packet.count > Header.size + 1 else { return }
            let at = Header.size + random.below(packet.count - Header.size - 1)
            let target = random.below(2) == 0 ? at : random.below(packet.count + 16)
            let pointer = [UInt8(0xC0 | (target >> 8) & 0x3F), UInt8(target & 0xFF)]
            if random.below(2) == 0 {
                packet.replaceSubrange(at..<(at + 2), with: pointer)
            } else {
                packet.insert(contentsOf: pointer, at: at)
            }
        case 6:   // overwrite a few bytes
            guard !packet.isEmpty else { return }
            for _ in 0..<(1 + random.below(6)) { packet[random.below(packet.count)] = random.byte() }
        case 7:   // extend with random bytes, or duplicate a slice
            if random.below(2) == 0 {
                packet += (0..<random.below(64)).map { _ in random.byte() }
            } else if packet.count > Header.size {
                let start = Header.size + random.below(packet.count - Header.size)
                packet.insert(contentsOf: packet[start...], at: random.below(packet.count) )
            }
        default:  // a label length byte made wrong: 0, 63, 64 (reserved 01), 0x80 (reserved 10), too long
            guard packet.count > Header.size else { return }
            packet[Header.size + random.below(packet.count - Header.size)] = [0, 63, 64, 0x80, 0xFF][random.below(5)]
        }
    }
}
