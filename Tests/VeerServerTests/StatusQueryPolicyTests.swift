import Authority
import DNSWire
import Posix
import Testing
import Traffic
@testable import VeerServer
import ZoneFile

/// Who may read `_veer.NAME`: loopback by default, exactly `--status-query-from` when given.
struct StatusQueryPolicyTests {
    func peer(_ text: String) throws -> SocketAddress { try SocketAddress(parsing: text) }

    @Test func loopbackIsAlwaysAllowedAndOthersAreNotByDefault() throws {
        let policy = StatusQueryPolicy(prefixes: [])
        #expect(policy.allows(try peer("127.0.0.1:40000")))
        #expect(policy.allows(try peer("[::1]:40000")))
        #expect(policy.allows(try peer("[::ffff:127.0.0.1]:40000")))
        #expect(!policy.allows(try peer("192.0.2.1:40000")))
        #expect(!policy.allows(try peer("[2001:db8::1]:40000")))
    }

    @Test func listedPrefixesReplaceTheDefault() throws {
        let policy = StatusQueryPolicy(prefixes: [try AddressPrefix(parsing: "192.0.2.0/24"), try AddressPrefix(parsing: "2001:db8::/32")])
        #expect(policy.allows(try peer("192.0.2.77:53")))
        #expect(policy.allows(try peer("[2001:db8::9]:53")))
        #expect(!policy.allows(try peer("198.51.100.1:53")))
        #expect(!policy.allows(try peer("127.0.0.1:53")), "loopback only when listed")
    }

    @Test func serveTakesACommaSeparatedListAndRefusesBadPrefixes() throws {
        let config = try ServeConfig(["--status-query-from", "10.0.0.0/8,192.0.2.0/24", "--status-query-from", "2001:db8::/32"][...])
        #expect(config.statusQueryFrom.map(\.description) == ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"])
        #expect(throws: UsageError.self) { try ServeConfig(["--status-query-from", "10.0.0.1/8"][...]) }
        #expect(throws: UsageError.self) { try ServeConfig(["--metrics", "localhost"][...]) }
    }
}

/// The packet handler asks the policy with the real peer address of each status query.
struct StatusQueryHandlerTests {
    static let zone = """
        $ORIGIN example.com.
        @    3600 IN SOA ns1 hostmaster 1 3600 600 604800 60
        @    3600 IN NS  ns1
        ns1  3600 IN A   192.0.2.53
        api  30 IN CNAME gw-old.example.net. endpoint=old weight=100
        api  30 IN CNAME gw-new.example.net. endpoint=new weight=0
        """

    func handler(allowing prefixes: [String]) throws -> DNSHandler {
        guard case .success(let parsed) = ZoneParser.parse(Self.zone, file: "example.com.zone", origin: nil) else {
            throw AdminError.badValue("zone did not parse")
        }
        let slots = SlotRegistry()
        let data = ZoneData(zones: [parsed]) { slots.slot(owner: $0, endpoint: $1) }
        let config = WeightedNameConfig.served(by: [parsed]) { slots.slot(owner: $0, endpoint: $1) }
        let weights = EffectiveWeights(config: config, store: WeightStore(), health: [:], shortTTL: []).table()
        let api = try DomainName("api.example.com.")
        let snapshot = Snapshot(zones: data, weights: weights, generation: 3,
                                status: StatusRecords([(api, ["endpoint=old weight=100", "generation=3"])]))
        return DNSHandler(box: SnapshotBox(snapshot), counters: CounterRegistry(), policy: QueryPolicy(
            maxUDPPayload: 1232, status: StatusQueryPolicy(prefixes: try prefixes.map { try AddressPrefix(parsing: $0) })))
    }

    /// The response code to `_veer.api.example.com TXT` from `peer`, and the answer count.
    func ask(_ handler: DNSHandler, from peer: String) throws -> (rcode: UInt8, answers: UInt16) {
        let query = try Message(header: Header(id: 1), questions: [Question(name: DomainName("_veer.api.example.com."), type: .txt)],
                                edns: nil).encoded()
        var out = [UInt8](repeating: 0, count: 1232)
        let address = try SocketAddress(parsing: peer)
        let length = query.withUnsafeBytes { q in
            out.withUnsafeMutableBytes { o in handler.handle(query: q, response: o, transport: .udp, peer: address) }
        }
        #expect(length > 12)
        return (out[3] & 0x0F, UInt16(out[6]) << 8 | UInt16(out[7]))
    }

    @Test func onlyLoopbackAndListedSourcesReadTheStatus() throws {
        let closed = try handler(allowing: [])
        #expect(try ask(closed, from: "127.0.0.1:5000") == (0, 1))
        #expect(try ask(closed, from: "192.0.2.1:5000") == (5, 0), "REFUSED")
        let open = try handler(allowing: ["192.0.2.0/24", "127.0.0.1"])
        #expect(try ask(open, from: "192.0.2.1:5000") == (0, 1))
        #expect(try ask(open, from: "127.0.0.1:5000") == (0, 1))
        #expect(try ask(open, from: "198.51.100.1:5000") == (5, 0))
    }
}
