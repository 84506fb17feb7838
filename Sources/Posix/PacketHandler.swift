/// How a DNS message reached the server.
public enum Transport: Sendable {
    /// A datagram; the answer must fit the response buffer or be truncated (TC bit).
    case udp
    /// A length-prefixed message on a TCP connection (RFC 7766).
    case tcp
}

/// Per-thread handler for DNS messages. One instance per worker thread, never shared, so an
/// implementation may keep scratch buffers and a random generator without locks.
public protocol PacketHandler: AnyObject {
    /// Writes the response into `response` and returns its length, or 0 to send nothing.
    ///
    /// - Parameters:
    ///   - query: the message as received (for TCP, without the 2-byte length prefix). Only
    ///     valid during the call.
    ///   - response: where to write the answer; its size is the most the transport can carry
    ///     (`maxResponse` for UDP, 65535 for TCP). Only valid during the call.
    ///   - transport: `.udp` or `.tcp`, e.g. to decide on truncation (RFC 1035 section 4.2.1).
    ///   - peer: the client's address and port.
    /// - Returns: bytes written to `response`. For UDP, 0 sends nothing; for TCP, 0 closes the
    ///   connection after the answers already queued are sent.
    func handle(query: UnsafeRawBufferPointer, response: UnsafeMutableRawBufferPointer,
                transport: Transport, peer: SocketAddress) -> Int

    /// Called on a UDP thread that has had no query for `UDPServer.idleInterval`: a chance to
    /// let go of state the control side has replaced (an old zone snapshot).
    func idle()
}

extension PacketHandler {
    public func idle() {}
}
