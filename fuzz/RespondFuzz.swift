// libFuzzer target for the code that faces the network: `Responder.respond`, fed arbitrary
// bytes as a query, answering from a realistic zone. Built by fuzz/run.sh against the
// DNSWire, ZoneFile, Traffic and Authority modules, each compiled on its own.
//
// Input: the first byte picks the variant (transport and buffer, `statusAllowed`, the weight
// table, the random seed); the rest is the query. Every response must be a well-formed DNS
// message that answers that query within the size the transport allows, and a responder
// that answers through the general path alone (`useDirectAnswers: false`) must give the
// same bytes with the same draws: the fast path's oracle. Anything else traps, and libFuzzer
// saves the input.

import Authority
import DNSWire
import Traffic
import ZoneFile

/// Two zones in the shape operators write: every RRset kind the responder treats specially,
/// a long RRset and long TXT strings so answers hit the 512-octet limit, CNAMEs that stay in
/// Veer's zones, leave them, dangle and loop, a delegation with glue, wildcards, and weighted
/// CNAME and A/AAAA names.
let zoneTexts = [
    """
    $ORIGIN example.com.
    $TTL 3600
    @        IN SOA  ns1 hostmaster 2026112301 3600 600 604800 60
    @        IN NS   ns1
    @        IN NS   ns2.example.net.
    @        IN A    192.0.2.10
    @        IN MX   10 mail
    @        IN MX   20 mail2.example.net.
    @        IN TXT  "v=spf1 mx -all"
    @        IN TXT  "a" "" "\(String(repeating: "x", count: 255))"
    @        IN CAA  0 issue "ca.example.net"
    ns1      IN A    192.0.2.53
    ns1      IN AAAA 2001:db8::53
    www      IN A    192.0.2.10
    www      IN AAAA 2001:db8::10
    mail     IN A    192.0.2.25
    _sip._udp IN SRV 10 5 5060 www
    docs 300 IN CNAME www
    alias    IN CNAME alias2
    alias2   IN CNAME docs
    far      IN CNAME gw.example.net.
    dangling IN CNAME missing
    outside  IN CNAME target.example.org.
    loop1    IN CNAME loop2
    loop2    IN CNAME loop1
    self     IN CNAME self
    sub      IN NS   ns.sub
    sub      IN NS   ns.example.net.
    ns.sub   IN A    192.0.2.200
    ns.sub   IN AAAA 2001:db8::200
    a.b.c    IN A    192.0.2.30
    *.wild   IN A    192.0.2.99
    *.wild   IN TXT  "wildcard"
    *.cn     IN CNAME www
    \(bigRRset)
    api   30 IN CNAME gw-old.example.net. endpoint=old weight=90 ttl-shift=5
    api   30 IN CNAME gw-new.example.net. endpoint=new weight=10 role=new
    pool  30 IN A    192.0.2.1    endpoint=blue weight=1
    pool  30 IN A    192.0.2.2    endpoint=blue
    pool  30 IN A    198.51.100.1 endpoint=green weight=3
    cohort 30 IN A   192.0.2.101  endpoint=old weight=50 select=client
    cohort 30 IN A   192.0.2.102  endpoint=new weight=50
    cohort 30 IN AAAA 2001:db8::102 endpoint=new
    pool  30 IN AAAA 2001:db8::1  endpoint=green
    strict 30 IN A   192.0.2.7    endpoint=one weight=1 all-down=refuse
    strict 30 IN A   192.0.2.8    endpoint=two weight=0
    """,
    """
    $ORIGIN example.net.
    $TTL 600
    @        IN SOA  ns2 hostmaster 7 3600 600 604800 300
    @        IN NS   ns2
    ns2      IN A    198.51.100.53
    gw       IN CNAME gw-old
    gw-old   IN A    198.51.100.10
    gw-new   IN A    198.51.100.20
    gw-new   IN AAAA 2001:db8:1::20
    mail2    IN A    198.51.100.25
    """,
]

/// 40 A records at `big.example.com.`: about 640 octets of answer, over the classic limit.
let bigRRset = (1...40).map { "big IN A 203.0.113.\($0)" }.joined(separator: "\n")

/// Everything built once: the zones, the weight tables and one responder per server payload,
/// each twice: with the fast path (`responders`) and without (`generalResponders`).
final class Fixture {
    let responders: [Responder<FastRandom>]
    let generalResponders: [Responder<FastRandom>]
    let snapshots: [Snapshot]

    init() {
        var zones: [Zone] = []
        for (index, text) in zoneTexts.enumerated() {
            switch ZoneParser.parse(text, file: "fuzz\(index).zone", origin: nil) {
            case .success(let zone): zones.append(zone)
            case .failure(let errors): fatalError("fuzz zone \(index) does not parse: \(errors)")
            }
        }
        var slots: [String: Int] = [:]
        let slot = { (owner: DomainName, endpoint: String) -> Int in
            let key = "\(owner.lowercased()) \(endpoint)"
            if let slot = slots[key] { return slot }
            slots[key] = slots.count
            return slots.count - 1
        }
        let data = ZoneData(zones: zones, slot: slot)
        // The control side's view of the same zones; every endpoint checked so it can be down.
        let config = WeightedNameConfig.served(by: zones, slot: slot).map { name in
            WeightedNameConfig(key: name.key, endpoints: name.endpoints.map {
                EndpointConfig(id: $0.id, slot: $0.slot, zoneWeight: $0.zoneWeight, check: "fuzz", records: $0.records)
            }, refuseWhenAllDown: name.refuseWhenAllDown, ttlShift: name.ttlShift ?? 5)
        }
        func table(_ weight: (EndpointConfig) -> UInt32, down: Bool = false, short: Bool = false) -> WeightTable {
            let store = WeightStore(names: config.map { name in
                WeightStore.Name(name: name.key.text, endpoints: name.endpoints.map { WeightStore.Endpoint(id: $0.id, weight: weight($0)) })
            })
            var health: [Int: EndpointHealth] = [:]
            if down { for name in config { for endpoint in name.endpoints { health[endpoint.slot] = .down } } }
            return EffectiveWeights(config: config, store: store, health: health,
                                    shortTTL: short ? Set(config.map(\.key)) : []).table()
        }
        let tables = [
            // The zone's defaults.
            table { $0.zoneWeight },
            // Mid-shift: every weight nonzero, the short TTL in force.
            table({ _ in 50 }, short: true),
            // Every endpoint unhealthy: fail open by configured weight, or SERVFAIL for all-down=refuse.
            table({ $0.zoneWeight }, down: true, short: true),
            // Nothing configured at all: weighted names have no endpoint to pick.
            table { _ in 0 },
        ]
        var status: [(name: DomainName, strings: [String])] = []
        for set in data.weighted {
            let name = config.first { $0.key == NameKey(set.owner) }
            var strings = (name?.endpoints ?? []).map { "endpoint=\($0.id) weight=\($0.zoneWeight) effective=\($0.zoneWeight) health=up" }
            strings.append("generation=1")
            // Long enough that the TXT answer needs more than 512 octets.
            strings.append(String(repeating: "r", count: 255))
            strings.append(String(repeating: "s", count: 255))
            status.append((set.owner, strings))
        }
        let statusRecords = StatusRecords(status)
        // Every other snapshot has its zones signed (bytes shaped like RRSIGs, not real
        // ones): DO=1 queries take the signed answers there, DO=0 ones the fast path as ever.
        let key: [UInt8] = [1, 1, 3, 13] + [UInt8](repeating: 0xAB, count: 64)
        let plan = SigningPlan(data, dnskeys: Dictionary(data.zones.map { ($0.origin, [key]) }, uniquingKeysWith: { a, _ in a }))
        let signatures = ZoneSignatures(plan, signatures: plan.zones.map { zone in
            zone.sets.map { set in [shapedRRSIG(set, signer: zone.origin)] }
        }, over: data)
        let snapshots = tables.enumerated().map { index, table in
            Snapshot(zones: data, weights: table, generation: UInt64(index + 1), status: statusRecords,
                     signatures: index % 2 == 1 ? signatures : nil)
        }
        self.snapshots = snapshots
        func responders(direct: Bool) -> [Responder<FastRandom>] {
            [EDNS.defaultPayload, 4096].map { payload in
                // DNS cookies on, with a fixed clock so a crash replays.
                Responder(snapshot: snapshots[0], random: FastRandom(seed: 0),
                          maxUDPPayload: payload, cookieSecret: CookieSecret(k0: 7, k1: 11), clock: { 1_800_000_000 },
                          useDirectAnswers: direct)
            }
        }
        self.responders = responders(direct: true)
        generalResponders = responders(direct: false)
    }
}

nonisolated(unsafe) let fixture = Fixture()

/// Output buffers: the smallest the responder accepts, the two usual EDNS sizes, and TCP.
nonisolated(unsafe) let outputs: [UnsafeMutableRawBufferPointer] = [512, 1232, 4096, 65535].map {
    .allocate(byteCount: $0, alignment: 8)
}

/// libFuzzer calls this once before the first input: the fixture is built here, so its
/// allocations and coverage are not charged to an input.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    _ = fixture
    _ = outputs
    return 0
}

/// LeakSanitizer reads this at exit. The fixture lives until then, but some of its objects are
/// reachable only through Swift enum payloads whose pointers carry tag bits in their spare
/// bits, which LeakSanitizer does not recognise as pointers, so it calls them leaked. Parsing
/// the same zones and dropping them reports nothing, so only the fixture's are suppressed.
@_cdecl("__lsan_default_suppressions")
public func leakSuppressions() -> UnsafePointer<CChar> {
    let suppressions: StaticString = "leak:RespondFuzz7Fixture\n"
    return UnsafeRawPointer(suppressions.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// libFuzzer's entry point: called once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count >= 1 else { return 0 }
    let variant = start[0]
    let query = UnsafeRawBufferPointer(start: start + 1, count: count - 1)

    // Bits 0-1: the buffer (index 3 is TCP); bit 2: statusAllowed; bit 3: the responder's
    // payload; bits 4-5: the weight table; bits 6-7: the random seed.
    let bufferIndex = Int(variant & 3)
    let overTCP = bufferIndex == 3
    let statusAllowed = variant & 4 != 0
    let responder = fixture.responders[Int(variant >> 3) & 1]
    responder.snapshot = fixture.snapshots[Int(variant >> 4) & 3]
    let general = fixture.generalResponders[Int(variant >> 3) & 1]
    general.snapshot = responder.snapshot
    // Seeded from the input, so a saved crash replays the same weighted choices.
    let seed = UInt64(variant >> 6)
    let out = outputs[bufferIndex]

    // The resolver a select=client name is keyed by when the query has no ECS.
    let resolver = ClientAddress(ipv6: variant & 0x40 != 0, high: seed << 40 | 0x2001_0000_0000_0000, low: seed)
    responder.random = FastRandom(seed: seed)
    let answered = responder.respond(to: query, into: out, overTCP: overTCP, resolver: resolver, statusAllowed: statusAllowed)
    let length = answered.length
    check(query: query, response: UnsafeRawBufferPointer(rebasing: out[0..<min(max(length, 0), out.count)]),
          length: length, bufferSize: out.count, overTCP: overTCP, maxUDPPayload: Int(responder.maxUDPPayload))

    // Answering is a pure function of (query, snapshot, random): the same query with the same
    // draws gives the same bytes, whatever the previous query left in the responder.
    let first = Array(out[0..<length])
    responder.random = FastRandom(seed: seed)
    let again = responder.respond(to: query, into: out, overTCP: overTCP, resolver: resolver, statusAllowed: statusAllowed).length
    guard again == length, first.elementsEqual(out[0..<again]) else {
        fatalError("a second answer to the same query differs: \(first) then \(Array(out[0..<again]))")
    }

    // The oracle: the general path alone, with the same draws, writes the same bytes and
    // reports the same endpoint, rcode, client key and subject.
    general.random = FastRandom(seed: seed)
    let oracle = general.respond(to: query, into: out, overTCP: overTCP, resolver: resolver, statusAllowed: statusAllowed)
    guard oracle == answered, first.elementsEqual(out[0..<oracle.length]) else {
        fatalError("""
            the fast path and the general path differ:
            fast:    \(answered) \(first)
            general: \(oracle) \(Array(out[0..<oracle.length]))
            """)
    }
    // The slip below truncates the fast path's answer.
    out.copyBytes(from: first)

    // Every answer can be sent as a rate limiter's slip: the header and question with TC,
    // the OPT kept, nothing else; it decodes and is no longer than the answer.
    if length > 0 {
        let slipped = RateLimiter.truncate(out, length: length)
        guard slipped >= Header.size && slipped <= length else { fatalError("slip of \(length) octets is \(slipped)") }
        guard let slip = try? Message.decode(Array(out[0..<slipped])), slip.header.truncated,
              slip.answers.isEmpty, slip.authority.isEmpty, slip.additional.isEmpty else {
            fatalError("slip does not decode as header, question and OPT with TC: \(Array(out[0..<slipped]))")
        }
    }
    return 0
}

/// The invariants every response keeps; traps with what broke.
func check(query: UnsafeRawBufferPointer, response: UnsafeRawBufferPointer, length: Int, bufferSize: Int,
           overTCP: Bool, maxUDPPayload: Int) {
    guard length <= bufferSize else { fatalError("response length \(length) > buffer \(bufferSize)") }
    guard length == 0 || length >= Header.size else { fatalError("response length \(length) is not 0 and < 12") }
    guard length > 0 else { return }
    let bytes = Array(response)
    guard bytes[0] == query[0], bytes[1] == query[1] else { fatalError("response ID differs from the query's") }
    guard bytes[2] & 0x80 != 0 else { fatalError("response without QR") }
    guard bytes[2] & 0x78 == query[2] & 0x78 else { fatalError("response OPCODE differs from the query's") }

    let message: Message
    do {
        message = try Message.decode(bytes)
    } catch {
        fatalError("response does not decode: \(error)\nquery:    \(Array(query))\nresponse: \(bytes)")
    }
    guard message.questions.count <= 1 else { fatalError("response with \(message.questions.count) questions") }

    // The question is echoed as asked (RFC 1035 §4.1.1): when the query decodes, the
    // response's question is the query's.
    let asked = try? Message.decode(Array(query))
    if let asked, let question = message.questions.first {
        guard asked.questions == [question] else {
            fatalError("response question \(question) is not the query's \(asked.questions)")
        }
    }

    guard !overTCP else { return }
    // Without EDNS a UDP answer fits in 512 octets (RFC 1035 §4.2.1); with it, in the smaller
    // of the two payload sizes, never below 512 (RFC 6891 §6.2.5).
    let classicLimit = 512
    if message.edns == nil {
        guard length <= classicLimit else { fatalError("UDP answer without EDNS is \(length) octets") }
    } else {
        var limit = maxUDPPayload
        if let clientPayload = asked?.edns?.payloadSize { limit = min(limit, max(classicLimit, Int(clientPayload))) }
        guard length <= limit else { fatalError("UDP answer is \(length) octets, over the EDNS limit \(limit)") }
    }
}

/// An RRSIG RDATA for `set` with the fields a validator reads and 64 octets in place of a
/// signature: the fuzzer checks where signed answers put records, not the cryptography.
func shapedRRSIG(_ set: SigningPlan.RRset, signer: DomainName) -> [UInt8] {
    var labels = set.owner.labelCount
    if set.owner.wire.count > 2, set.owner.wire[0] == 1, set.owner.wire[1] == UInt8(ascii: "*") { labels -= 1 }
    let ttl = set.ttl
    return [UInt8(set.type.rawValue >> 8), UInt8(set.type.rawValue & 0xFF), 13, UInt8(labels),
            UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF), UInt8((ttl >> 8) & 0xFF), UInt8(ttl & 0xFF),
            0x77, 0x35, 0x94, 0x00, 0x71, 0x3F, 0xB3, 0x00, 0x10, 0x92]
        + signer.lowercasedWire + [UInt8](repeating: 0xCD, count: 64)
}
