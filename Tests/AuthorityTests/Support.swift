import Authority
import DNSWire
import Synchronization
import TestSupport
import Testing
import Traffic
import ZoneFile

/// A zone used by most answer tests, in the shape operators write.
let exampleZone = """
    $ORIGIN example.com.
    $TTL 3600
    @       IN SOA ns1 hostmaster 2026112301 3600 600 604800 60
    @       IN NS  ns1
    @       IN NS  ns2
    ns1     IN A   192.0.2.53
    ns2     IN A   192.0.2.54
    www     IN A   192.0.2.10
    www     IN AAAA 2001:db8::10
    mail    IN A   192.0.2.25
    @       IN MX  10 mail
    @       IN TXT "v=spf1 -all"
    alias   IN CNAME alias2
    alias2  IN CNAME www
    dangling IN CNAME missing
    ext     IN CNAME target.example.net.
    loop1   IN CNAME loop2
    loop2   IN CNAME loop1
    sub     IN NS  ns.sub
    ns.sub  IN A   192.0.2.200
    a.b.c   IN A   192.0.2.30
    *.wild  IN A   192.0.2.99
    api  30 IN CNAME gw-old.example.net. endpoint=old weight=90
    api  30 IN CNAME gw-new.example.net. endpoint=new weight=10
    pool 30 IN A 192.0.2.1 endpoint=blue weight=1
    pool 30 IN A 192.0.2.2 endpoint=blue
    pool 30 IN A 198.51.100.1 endpoint=green weight=3
    pool 30 IN AAAA 2001:db8::1 endpoint=green
    """

/// Parses zone texts and builds the data the responder answers from; the control side's
/// view of the same zones is kept for `zoneWeights`.
func makeZoneData(_ texts: [String] = [exampleZone]) throws -> ZoneData {
    try makeZones(texts).data
}

/// The zones of `texts` as both sides see them: the query path's data and the control
/// side's weighted-name config, with the same slots.
func makeZones(_ texts: [String] = [exampleZone]) throws -> (data: ZoneData, config: [WeightedNameConfig]) {
    var zones: [Zone] = []
    for (index, text) in texts.enumerated() {
        switch ZoneParser.parse(text, file: "test\(index).zone", origin: nil) {
        case .success(let zone): zones.append(zone)
        case .failure(let errors): Issue.record("zone did not parse: \(errors)"); throw errors
        }
    }
    return makeZones(zones: zones)
}

/// `makeZones(_:)` for zones already parsed (or loaded from files).
func makeZones(zones: [Zone]) -> (data: ZoneData, config: [WeightedNameConfig]) {
    var slots: [String: Int] = [:]
    let slot = { (owner: DomainName, endpoint: String) -> Int in
        let key = "\(owner.lowercased()) \(endpoint)"
        if let slot = slots[key] { return slot }
        slots[key] = slots.count
        return slots.count - 1
    }
    let data = ZoneData(zones: zones, slot: slot)
    let config = WeightedNameConfig.served(by: zones, slot: slot)
    configs.withLock { $0[ObjectIdentifier(data)] = config }
    return (data, config)
}

/// The config of every `ZoneData` `makeZones` built, so tests that hold only the data can
/// still build its weight table.
private let configs = Mutex<[ObjectIdentifier: [WeightedNameConfig]]>([:])

/// The weight table of `data`'s zones: zone weights, or `weights` by endpoint id; endpoints
/// whose slot is in `down` are down; with `ttlCap` above 0 every name is being moved with
/// that `ttl-shift=`.
func zoneWeights(_ data: ZoneData, weights: [String: UInt32] = [:], down: Set<Int> = [], ttlCap: UInt32 = 0,
                 seed: CohortSeed = CohortSeed(k0: 1, k1: 2)) -> WeightTable {
    let config = configs.withLock { $0[ObjectIdentifier(data)] } ?? []
    let store = WeightStore(names: config.map { name in
        WeightStore.Name(name: name.key.text, endpoints: name.endpoints.map {
            WeightStore.Endpoint(id: $0.id, weight: weights["\(name.key) \($0.id)"] ?? $0.zoneWeight)
        })
    })
    var health: [Int: EndpointHealth] = [:]
    for slot in down { health[slot] = .down }
    // A down verdict counts only for checked endpoints: give every endpoint a check here.
    let checked = config.map { name in
        WeightedNameConfig(key: name.key, endpoints: name.endpoints.map {
            EndpointConfig(id: $0.id, slot: $0.slot, zoneWeight: $0.zoneWeight, role: $0.role, check: $0.check ?? "test", records: $0.records)
        }, refuseWhenAllDown: name.refuseWhenAllDown, ttlShift: ttlCap > 0 ? ttlCap : name.ttlShift,
           selectByClient: name.selectByClient)
    }
    let shortTTL = ttlCap > 0 ? Set(config.map(\.key)) : []
    return EffectiveWeights(config: checked, store: store, health: health, shortTTL: shortTTL, seed: seed).table()
}

/// Runs one query through a responder and decodes the answer (nil when nothing is sent).
struct Exchange {
    let responder: Responder<ScriptedRandom>

    init(responder: Responder<ScriptedRandom>) {
        self.responder = responder
    }

    init(data: ZoneData, weights: WeightTable? = nil, draws: [UInt64] = []) {
        responder = Responder(snapshot: Snapshot(zones: data, weights: weights ?? zoneWeights(data), generation: 1),
                              random: ScriptedRandom(draws))
    }

    /// What the responder reports for `name`/`type`: length, rcode and the chosen slot.
    func summary(_ name: String, _ type: RRType = .a) throws -> Answered {
        let query = try Message(header: Header(id: 1), questions: [Question(name: try DomainName(name), type: type)]).encoded()
        var out = [UInt8](repeating: 0, count: 1232)
        return query.withUnsafeBytes { q in out.withUnsafeMutableBytes { responder.respond(to: q, into: $0, overTCP: false) } }
    }

    func raw(_ query: [UInt8], overTCP: Bool = false, resolver: ClientAddress = .none) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 65535)
        let length = query.withUnsafeBytes { q in
            out.withUnsafeMutableBytes { o in responder.respond(to: q, into: o, overTCP: overTCP, resolver: resolver).length }
        }
        return length == 0 ? nil : Array(out[0..<length])
    }

    func ask(_ name: String, _ type: RRType = .a, edns: EDNS? = nil, rd: Bool = false, id: UInt16 = 0x1234,
             overTCP: Bool = false, resolver: ClientAddress = .none) throws -> Message {
        var header = Header(id: id)
        header.recursionDesired = rd
        let query = Message(header: header, questions: [Question(name: try DomainName(name), type: type)], edns: edns)
        let bytes = try #require(raw(try query.encoded(), overTCP: overTCP, resolver: resolver))
        return try Message.decode(bytes)
    }
}

extension ZoneData {
    /// The weighted set whose owner is `name`, if any.
    func weightedSet(named name: DomainName) -> WeightedSet? {
        weighted.first { $0.owner == name }
    }
}

extension Message {
    var answerLines: [String] { answers.map(\.description) }
    var authorityLines: [String] { authority.map(\.description) }
    var additionalLines: [String] { additional.map(\.description) }
}
