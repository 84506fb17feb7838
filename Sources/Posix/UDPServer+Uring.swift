import CPosix
import Glibc

/// One socket's io_uring (`cposix_uring`): opened disabled on the thread that builds the
/// server, enabled and run by the socket's worker, closed when the server goes.
final class UringRing: @unchecked Sendable {
    /// Submission queue entries: room for a round's sends (at most one per buffer) and the
    /// receive, so a round is one io_uring_enter.
    static let entries: UInt32 = 256
    /// Provided receive buffers (and send slots) per socket: 128 x 4 KiB queries, four times
    /// a recvmmsg batch, and the most datagrams a round takes. When all are taken the
    /// multishot receive ends and is re-armed as soon as the round sees it end; the socket's
    /// own buffer holds what arrives meanwhile.
    static let buffers: UInt32 = 128

    let pointer: OpaquePointer

    /// Opens a ring for `fd` whose waits end when `wake` is readable; `what` names the
    /// socket in errors.
    init(fd: Int32, wake: Int32, maxResponse: Int, wantsPacketInfo: Bool, _ what: @autoclosure () -> String) throws {
        pointer = try Self.open(fd: fd, wake: wake, buffers: Self.buffers, payload: UDPServer.maxQuery,
                                control: wantsPacketInfo ? cposix_pktinfo_space() : 0, reply: maxResponse, what())
    }

    private init(pointer: OpaquePointer) { self.pointer = pointer }

    static func open(fd: Int32, wake: Int32, buffers: UInt32, payload: Int, control: Int, reply: Int,
                     _ what: @autoclosure () -> String) throws -> OpaquePointer {
        var error: Int32 = 0
        var failed: UnsafePointer<CChar>?
        guard let ring = cposix_uring_open(fd, wake, Self.entries, buffers, payload, control, reply, &error, &failed) else {
            let step = failed.map { String(cString: $0) } ?? "io_uring"
            throw SystemError(errno: Errno(rawValue: error), action: "\(step) \(what())")
        }
        return ring
    }

    deinit { cposix_uring_close(pointer) }

    /// Whether this kernel can run the io_uring loop: it sets up a small ring on a fresh UDP
    /// socket, the way a server does, and arms a multishot receive on it. It needs Linux 6.1
    /// (deferred task running; older kernels reject the setup with EINVAL). Nil when it can;
    /// otherwise why not, e.g. `io_uring_setup probe: EPERM (Operation not permitted)` under
    /// a seccomp filter or with kernel.io_uring_disabled set.
    static func unavailability() -> SystemError? {
        let fd = socket(AF_INET, Socket.datagram | Socket.closeOnExec, 0)
        guard fd >= 0 else { return SystemError(errno: .current, action: "socket for the io_uring probe") }
        defer { closeDescriptor(fd) }
        let ring: UringRing
        do {
            ring = UringRing(pointer: try open(fd: fd, wake: -1, buffers: 2, payload: 512, control: 0, reply: 512, "probe"))
        } catch let error as SystemError {
            return error
        } catch {
            return SystemError(errno: .EINVAL, action: "io_uring probe: \(error)")
        }
        let enabled = cposix_uring_enable(ring.pointer)
        guard enabled == 0 else { return SystemError(errno: Errno(rawValue: -enabled), action: "io_uring enable probe") }
        defer { cposix_uring_quiesce(ring.pointer) }
        // Nothing can arrive on an unbound socket: a completion within the wait is a refusal.
        var datagram = cposix_uring_datagram()
        let waited = cposix_uring_wait(ring.pointer, Int64(UringRing.probeWait))
        if waited < 0 && waited != -ETIME { return SystemError(errno: Errno(rawValue: -waited), action: "io_uring_enter probe") }
        let taken = cposix_uring_next(ring.pointer, &datagram)
        if taken < 0 { return SystemError(errno: Errno(rawValue: -taken), action: "io_uring multishot recvmsg probe") }
        return nil
    }

    /// How long the probe waits for a refusal of its receive, in nanoseconds: the kernel
    /// fails an unsupported request as it is submitted, well within this.
    static let probeWait = 2_000_000
}

extension UDPServer {
    /// Whether this kernel can run `IO.uring` (see `UringRing.unavailability`): nil when it
    /// can, else the failure, e.g. `io_uring_setup probe: ENOSYS (Function not implemented)`.
    public static func uringUnavailability() -> SystemError? {
        UringRing.unavailability()
    }

    /// Errors of a receive that mean the socket is gone: the worker stops. Others pass.
    private static func isPermanent(_ code: Int32) -> Bool {
        code == -EBADF || code == -ENOTSOCK || code == -EINVAL
    }

    /// One `IO.uring` worker: wait for completions, answer the datagrams that are ready into
    /// send slots, give their buffers back; the next wait submits all the answers at once.
    /// If the ring loses completions (EBADR), the socket is served with recvmmsg from then on.
    func serveRing(_ endpoint: Endpoint, _ ring: UringRing) {
        let ring = ring.pointer
        guard cposix_uring_enable(ring) == 0 else {
            // Enabling binds the ring to this thread; it failed only if the kernel changed its
            // mind since the ring was made. The socket still works with recvmmsg.
            serveBatches(endpoint)
            return
        }
        if runRing(endpoint, ring) {
            cposix_uring_quiesce(ring)
            return
        }
        // The kernel dropped completions: buffers and send slots were lost with them, and the
        // ring would run dry. Counting them back is not possible (the lost completions said
        // which), so the ring goes and the socket keeps being served the other way.
        cposix_uring_abandon(ring)
        serveBatches(endpoint)
    }

    /// Runs the io_uring loop until the server stops or the socket fails (true), or the ring
    /// dropped completions (false).
    private func runRing(_ endpoint: Endpoint, _ ring: OpaquePointer) -> Bool {
        let handler = makeHandler()
        let responseSize = maxResponse
        let controlSize = endpoint.wantsPacketInfo ? cposix_pktinfo_space() : 0
        let timeout = Int64(nanoseconds(Self.idleInterval))
        let roundLimit = Int(UringRing.buffers)
        // Allocated once for the life of the thread: the reply's packet info, built here and
        // copied into the send slot.
        let replyControl = UnsafeMutableRawPointer.allocate(byteCount: max(1, controlSize), alignment: 16)
        defer { replyControl.deallocate() }
        var datagram = cposix_uring_datagram()

        while !stopping.load(ordering: .acquiring) {
            let waited = cposix_uring_wait(ring, timeout)
            if stopping.load(ordering: .acquiring) { break }
            if waited == -ETIME {
                handler.idle()
                continue
            }
            if waited == -EBADR { return false }
            if waited < 0 {
                if Self.isPermanent(waited) { break }
                continue
            }
            // A round takes at most `buffers` datagrams, and ends early when no send slot is
            // free: its answers go out at the next wait, and `stopping` is seen between
            // rounds. Datagrams not taken wait in the completion queue for the next round.
            var taken = 0
            while taken < roundLimit && cposix_uring_reply_buffer(ring) != nil {
                let next = cposix_uring_next(ring, &datagram)
                if next == -EBADR { return false }
                if next < 0 && Self.isPermanent(next) { return true }
                if next <= 0 { break }
                taken += 1
                defer { cposix_uring_recycle(ring, datagram.buffer) }
                // Asked again: taking completions may have freed other slots, and the answer
                // must go in the one `cposix_uring_send` takes (there is one, as there was).
                guard let reply = cposix_uring_reply_buffer(ring),
                      let data = datagram.data, let peerBytes = datagram.peer,
                      let peer = SocketAddress(sockaddr: peerBytes) else { continue }
                let written = handler.handle(
                    query: UnsafeRawBufferPointer(start: data, count: datagram.length),
                    response: UnsafeMutableRawBufferPointer(start: reply, count: responseSize),
                    transport: .udp, peer: peer)
                guard written > 0 && written <= responseSize else { continue }
                var controlLength = 0
                if controlSize > 0 {
                    controlLength = cposix_pktinfo_reply(datagram.control, datagram.control_length, replyControl, controlSize)
                }
                _ = cposix_uring_send(ring, written, peerBytes, datagram.peer_length,
                                      controlLength > 0 ? UnsafeRawPointer(replyControl) : nil, controlLength)
            }
        }
        return true
    }
}
