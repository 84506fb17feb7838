import Testing
@testable import VeerServer

/// How etcd's error replies (3.4's JSON gateway, as recorded from a real etcd) are read: a
/// refusal the operator must act on, one re-authentication mends, or an outage (nil).
struct EtcdRefusalTests {
    @Test(arguments: [
        (401, "etcdserver: invalid auth token", EtcdRefusal?.some(.invalidToken)),
        (400, "etcdserver: revision of auth store is old", .invalidToken),
        (400, "etcdserver: user name is empty", .noUser),
        (400, "etcdserver: authentication failed, invalid user ID or password", .wrongPassword),
        (403, "etcdserver: permission denied", .permissionDenied),
        (400, "etcdserver: authentication is not enabled", .authNotEnabled),
        (400, "CommonName of client sending a request against gateway will be ignored and not used as expected", .commonNameThroughGateway),
        (503, "etcdserver: request timed out", nil),
        (503, "etcdserver: no leader", nil),
        (500, "", nil),
    ])
    func errorRepliesAreReadAsRefusalsOrOutages(status: Int, message: String, expected: EtcdRefusal?) {
        #expect(EtcdRefusal(status: status, message: message) == expected)
    }

    @Test func theGatewaysPlainTextRefusalIsKeptAsTheMessage() {
        let text = "CommonName of client sending a request against gateway will be ignored and not used as expected\n"
        #expect(EtcdClient.errorMessage(Array(text.utf8)) == String(text.dropLast()))
        #expect(EtcdClient.errorMessage(Array(#"{"error":"etcdserver: permission denied","code":7}"#.utf8)) == "etcdserver: permission denied")
        #expect(EtcdClient.errorMessage(Array(String(repeating: "x", count: 1000).utf8))?.count == EtcdClient.maxErrorText)
        #expect(EtcdClient.errorMessage([]) == nil)
    }
}
