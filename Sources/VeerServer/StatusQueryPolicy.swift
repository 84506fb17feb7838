import Posix

/// Who may read a name's migration state with `dig TXT _veer.NAME`: loopback clients by
/// default; `--status-query-from CIDR,…` replaces that list (as an ACL does in BIND or
/// NSD: name loopback too if you want it), so a migration's weights are never published to
/// the internet by accident. Everyone else gets REFUSED.
struct StatusQueryPolicy: Sendable {
    /// 127.0.0.0/8 and ::1 (IPv4-mapped loopback matches the first).
    static let loopback: [AddressPrefix] = [
        try! AddressPrefix(parsing: "127.0.0.0/8"), try! AddressPrefix(parsing: "::1/128"),
    ]

    let prefixes: [AddressPrefix]

    /// `prefixes` as given to `--status-query-from`, or loopback when none were.
    init(prefixes: [AddressPrefix]) {
        self.prefixes = prefixes.isEmpty ? Self.loopback : prefixes
    }

    @inline(__always)
    func allows(_ peer: SocketAddress) -> Bool {
        prefixes.contains { $0.contains(peer) }
    }
}
