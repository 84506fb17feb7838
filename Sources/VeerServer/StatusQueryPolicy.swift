import Posix

/// Who may read a name's migration state with `dig TXT _veer.NAME`: loopback clients always,
/// others only from the `--status-query-from` prefixes (none by default), so the weights of a
/// migration are not published to the internet by accident. Everyone else gets REFUSED.
struct StatusQueryPolicy: Sendable {
    let prefixes: [AddressPrefix]

    @inline(__always)
    func allows(_ peer: SocketAddress) -> Bool {
        peer.isLoopback || prefixes.contains { $0.contains(peer) }
    }
}
