import Posix
import Testing
@testable import VeerServer

/// Who may read `_veer.NAME`: loopback always, others only from `--status-query-from`.
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

    @Test func listedPrefixesAreAllowed() throws {
        let policy = StatusQueryPolicy(prefixes: [try AddressPrefix(parsing: "192.0.2.0/24"), try AddressPrefix(parsing: "2001:db8::/32")])
        #expect(policy.allows(try peer("192.0.2.77:53")))
        #expect(policy.allows(try peer("[2001:db8::9]:53")))
        #expect(!policy.allows(try peer("198.51.100.1:53")))
    }

    @Test func serveTakesACommaSeparatedListAndRefusesBadPrefixes() throws {
        let config = try ServeConfig(["--status-query-from", "10.0.0.0/8,192.0.2.0/24", "--status-query-from", "2001:db8::/32"][...])
        #expect(config.statusQueryFrom.map(\.description) == ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"])
        #expect(throws: UsageError.self) { try ServeConfig(["--status-query-from", "10.0.0.1/8"][...]) }
        #expect(throws: UsageError.self) { try ServeConfig(["--metrics", "localhost"][...]) }
    }
}
