import DNSWire
import Testing
import TestSupport

/// Bounded corruption: mutate valid messages and decode them. Decoding must throw or succeed,
/// never crash; whatever decodes must re-encode and decode to an equal message.
@Suite struct CorruptionTests {
    /// Mutations per run, split into shards that run in parallel: enough to reach every guard
    /// many times, and a few seconds in a debug build on two cores.
    static let iterations = 200_000
    static let shards = 4
    static let seed: UInt64 = 0x5EED_D15E_A5E5_0001

    /// Valid messages that between them use every RDATA type, compression and EDNS.
    static func seeds() throws -> [[UInt8]] {
        let www = name("www.example.com.")
        let zone = name("example.com.")
        let messages: [Message] = [
            Message(header: Header(id: 1, flags: Header.rdBit), questions: [Question(name: www, type: .a)]),
            Message(header: Header(id: 2), questions: [Question(name: zone, type: .soa)], edns: EDNS(dnssecOK: true, options: [
                EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8]), EDNSOption(code: 12, data: [0, 0]),
            ])),
            CompressionTests.answer,
            Message(header: Header(id: 3, flags: Header.qrBit | Header.aaBit), questions: [Question(name: zone, type: .any)],
                    answers: [
                        ResourceRecord(name: zone, ttl: 3600, data: .soa(SOAData(
                            mname: name("ns1.example.com."), rname: name("hostmaster.example.com."),
                            serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5))),
                        ResourceRecord(name: zone, ttl: 300, data: .mx(preference: 10, exchange: name("mail.example.com."))),
                        ResourceRecord(name: zone, ttl: 300, data: .txt([ascii("v=spf1 -all"), []])),
                        ResourceRecord(name: zone, ttl: 300, data: .caa(flags: 0, tag: ascii("issue"), value: ascii("ca.example"))),
                        ResourceRecord(name: www, ttl: 60, data: .aaaa(IPv6Address("2001:db8::1")!)),
                        ResourceRecord(name: name("alias.example.com."), ttl: 60, data: .cname(www)),
                        ResourceRecord(name: name("1.2.0.192.in-addr.arpa."), ttl: 60, data: .ptr(www)),
                        ResourceRecord(name: name("_sip._tcp.example.com."), ttl: 60,
                                       data: .srv(priority: 1, weight: 2, port: 5060, target: name("sip.example.com."))),
                        ResourceRecord(name: zone, ttl: 60, data: .unknown(type: RRType(rawValue: 65534), data: [0xC0, 0x0C, 0x00])),
                    ],
                    authority: [ResourceRecord(name: zone, ttl: 3600, data: .ns(name("ns1.example.com.")))],
                    additional: [ResourceRecord(name: name("ns1.example.com."), ttl: 3600, data: .a(IPv4Address("192.0.2.53")!))],
                    edns: EDNS(payloadSize: 1232)),
        ]
        return try messages.map { message throws(WireError) in try message.encoded() }
    }

    /// One random change: the kinds of damage a bad network or a hostile client produces.
    static func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        let rounds = 1 + random.below(4)
        for _ in 0..<rounds {
            let at = bytes.isEmpty ? 0 : random.below(bytes.count)
            switch random.below(7) {
            case 0 where !bytes.isEmpty:   // flip one bit
                bytes[at] ^= 1 << UInt8(random.below(8))
            case 1:                        // truncate
                bytes.removeLast(random.below(bytes.count + 1))
            case 2 where !bytes.isEmpty:   // overwrite with a random byte
                bytes[at] = random.byte()
            case 3:                        // insert a compression pointer to anywhere nearby
                let target = random.below(bytes.count + 4)
                bytes.insert(contentsOf: [0xC0 | UInt8((target >> 8) & 0x3F), UInt8(target & 0xFF)], at: at)
            case 4 where !bytes.isEmpty:   // delete a run
                bytes.removeSubrange(at..<min(bytes.count, at + random.below(8) + 1))
            case 5 where bytes.count >= 12: // bump a section count
                let field = 4 + 2 * random.below(4)
                bytes[field + 1] &+= UInt8(1 + random.below(3))
            default:                       // insert random bytes
                for _ in 0...random.below(4) { bytes.insert(random.byte(), at: at) }
            }
        }
        return bytes
    }

    @Test(arguments: 0..<shards)
    func mutatedMessagesNeverCrashAndRoundTrip(shard: Int) throws {
        let seeds = try Self.seeds()
        let count = Self.iterations / Self.shards
        var random = SplitMix64(seed: Self.seed &+ UInt64(shard))
        var decoded = 0
        var failures: [String] = []
        for iteration in 0..<count {
            let input = Self.mutate(seeds[iteration % seeds.count], &random)
            guard let message = try? Message.decode(input) else { continue }
            decoded += 1
            let reencoded: [UInt8]
            do {
                reencoded = try message.encoded()
            } catch {
                // Decompressed names can grow an at-limit message past 65535 octets; nothing else may fail.
                if error.kind != .noSpace { failures.append("#\(iteration) encode \(error): \(hexString(input))") }
                continue
            }
            do {
                let again = try Message.decode(reencoded)
                if again != message { failures.append("#\(iteration) differs: \(hexString(input))") }
            } catch {
                failures.append("#\(iteration) re-decode \(error): \(hexString(input))")
            }
            if failures.count >= 5 { break }
        }
        #expect(failures.isEmpty, "shard \(shard): \(failures.joined(separator: "\n"))")
        // The mutations must leave a fair share decodable, or the round-trip half tests nothing.
        #expect(decoded > count / 50, "only \(decoded) of \(count) decoded")
    }

    @Test func seedsAreValid() throws {
        for seed in try Self.seeds() {
            #expect(try Message.decode(seed).encoded() == seed)
        }
    }

    @Test func splitMixIsDeterministic() {
        // First outputs for seed 0 from the reference implementation.
        var random = SplitMix64(seed: 0)
        #expect(random.next() == 0xE220_A839_7B1D_CDAF)
        #expect(random.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}
