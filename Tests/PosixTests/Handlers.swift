import Posix
import Synchronization

/// Answers with the query bytes prefixed by one marker byte (0xAA for UDP, 0xBB for TCP);
/// a query starting with 0xFF gets no answer (UDP) or closes the connection (TCP).
final class EchoHandler: PacketHandler {
    func handle(query: UnsafeRawBufferPointer, response: UnsafeMutableRawBufferPointer,
                transport: Transport, peer: SocketAddress) -> Int {
        if query.first == 0xFF { return 0 }
        guard query.count + 1 <= response.count else { return 0 }
        response[0] = transport == .udp ? 0xAA : 0xBB
        UnsafeMutableRawBufferPointer(rebasing: response[1...]).copyMemory(from: query)
        return query.count + 1
    }
}

/// Echoes like `EchoHandler` and counts calls to `idle()`.
final class IdleCounter: PacketHandler, @unchecked Sendable {
    let idles = Mutex(0)

    func handle(query: UnsafeRawBufferPointer, response: UnsafeMutableRawBufferPointer,
                transport: Transport, peer: SocketAddress) -> Int {
        EchoHandler().handle(query: query, response: response, transport: transport, peer: peer)
    }

    func idle() { idles.withLock { $0 += 1 } }

    /// Polls until `idle()` was called, for up to five idle intervals.
    func waitForIdle() -> Bool {
        let deadline = ContinuousClock.now + UDPServer.idleInterval * 5
        while idles.withLock({ $0 }) == 0 && ContinuousClock.now < deadline {
            Clock.sleep(.milliseconds(50))
        }
        return idles.withLock { $0 } >= 1
    }
}

let loopback = try! SocketAddress(parsing: "127.0.0.1:0")
