import CPosix
import Glibc
import Synchronization

/// Serves DNS over UDP with one thread per socket and batched system calls.
///
/// For each listen address, `threads` sockets are bound to the same address and port with
/// SO_REUSEPORT, so the kernel spreads queries across them by flow hash. Each socket has its
/// own worker thread and its own handler from `makeHandler` (created on that thread). With
/// `IO.mmsg`, a worker takes up to `batchSize` datagrams with one recvmmsg, calls the handler
/// for each, and sends all answers with one sendmmsg; with `IO.uring` it runs an io_uring
/// (`UDPServer+Uring.swift`). Every buffer is allocated once per thread: nothing is
/// allocated per packet.
///
/// Binding happens in `init`, so errors such as `bind [::1]:53: EADDRINUSE` surface before
/// anything starts. Because SO_REUSEPORT would let a second copy of the server silently share
/// the port, `init` first binds a plain socket to the address (which fails if anything holds
/// the port, and picks the port when 0 was asked for), closes it, then binds the group to
/// that port. Another process could take the port in between; `init` then fails cleanly.
///
/// Sockets bound to a wildcard (0.0.0.0 or ::) ask for packet info, so each answer leaves
/// from the address its query was sent to, as clients expect on multi-homed hosts.
///
/// Under socket activation the sockets come bound from the service manager instead
/// (`init(inherited:…)`).
public final class UDPServer: Sendable {
    /// Datagrams per recvmmsg/sendmmsg: enough to amortise the system call under load,
    /// small enough that buffers stay in cache (32 x 4 KiB queries).
    public static let batchSize = 32
    /// Receive buffer per datagram. DNS queries are far smaller (one question plus EDNS);
    /// anything longer arrives with MSG_TRUNC and is dropped as malformed.
    public static let maxQuery = 4096
    /// Kernel socket buffer size to ask for: absorbs bursts while workers are busy. The kernel
    /// caps it at net.core.rmem_max / wmem_max; failure is harmless.
    static let socketBufferBytes: Int32 = 4 << 20
    /// A thread with no query for this long wakes and calls its handler's `idle()`, so an
    /// unused socket (the IPv6 one when all clients are IPv4) does not pin old data forever.
    public static let idleInterval: Duration = .seconds(1)

    /// How a worker moves datagrams between the socket and its handler.
    public enum IO: String, Sendable, CaseIterable {
        /// recvmmsg and sendmmsg, `batchSize` datagrams a call: any Linux.
        case mmsg
        /// io_uring: a multishot receive into provided buffers, all answers of a round sent
        /// with the next wait in one io_uring_enter (Linux 6.1 and later; see `uringUnavailability()`).
        case uring
    }

    /// The addresses actually bound, with real ports (one per listen address, in order).
    public let boundAddresses: [SocketAddress]
    /// The loop every worker runs.
    public let io: IO

    struct Endpoint: Sendable {
        let fd: Int32
        let address: SocketAddress
        let wantsPacketInfo: Bool
        /// The socket belongs to the service manager too, and outlives this server.
        var inherited = false
    }

    private enum Phase { case bound, running, stopped }
    private struct State {
        var phase = Phase.bound
        var threads: [pthread_t] = []
    }

    private let endpoints: [Endpoint]
    /// With `IO.uring`, each endpoint's ring (same order), opened in `init`.
    private let rings: [UringRing]
    /// With `IO.uring`, a pipe every ring polls: `stop()` writes to it to end their waits
    /// (shutdown() does not end an io_uring receive).
    private let wakePipe: (read: Int32, write: Int32)?
    let maxResponse: Int
    let makeHandler: @Sendable () -> any PacketHandler
    let stopping = Atomic<Bool>(false)
    private let state = Mutex(State())

    /// Binds all sockets now; call `start()` to begin serving.
    ///
    /// - Parameters:
    ///   - listen: addresses to serve; port 0 picks a free port (see `boundAddresses`).
    ///   - threads: sockets and worker threads per address (at least 1).
    ///   - maxResponse: size of the response buffer given to the handler, the largest UDP
    ///     answer this server sends.
    ///   - io: the worker loop; `.uring` needs a kernel that `uringUnavailability()` accepts.
    ///   - makeHandler: called once on each worker thread.
    /// - Throws: `SystemError`, e.g. `bind 127.0.0.1:53: EADDRINUSE (Address already in use)`.
    public convenience init(listen: [SocketAddress], threads: Int, maxResponse: Int = 4096, io: IO = .mmsg,
                            makeHandler: @escaping @Sendable () -> any PacketHandler) throws {
        precondition(threads >= 1, "UDPServer needs at least one thread per address")
        var endpoints: [Endpoint] = []
        var bound: [SocketAddress] = []
        do {
            for requested in listen {
                let address = try Self.reservePort(requested)
                for _ in 0..<threads {
                    let fd = try Socket.open(Socket.datagram, for: address)
                    endpoints.append(Endpoint(fd: fd, address: address, wantsPacketInfo: address.isWildcard))
                    try Socket.setIPv6Only(fd, address)
                    try Socket.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt SO_REUSEPORT \(address)")
                    try Self.prepare(fd, address, "\(address)")
                    try Socket.bind(fd, to: address)
                }
                bound.append(address)
            }
        } catch {
            for endpoint in endpoints { closeDescriptor(endpoint.fd) }
            throw error
        }
        try self.init(endpoints: endpoints, bound: bound, maxResponse: maxResponse, io: io, makeHandler: makeHandler)
    }

    /// Serves datagram sockets handed over by the service manager (socket activation)
    /// instead of binding any; this server owns the descriptors from here on.
    ///
    /// The kernel spreads queries over SO_REUSEPORT sockets only when each is a socket of its
    /// own; an inherited socket is one socket. So each of its `threads` workers gets its own
    /// descriptor for it (F_DUPFD_CLOEXEC) and they all read the one receive queue, a batch
    /// at a time: the same answers, with a little more contention under load than a group.
    ///
    /// The socket is made blocking (systemd opens it non-blocking; the workers block in
    /// recvmmsg with a receive timeout), and `stop()` does not shut it down: systemd keeps it
    /// across restarts of the service, and a shutdown would end it for the next server. The
    /// workers see the stop at their next receive timeout, within `idleInterval`.
    ///
    /// - Throws: `SystemError`, e.g. `fcntl F_DUPFD_CLOEXEC inherited [::]:53: EMFILE (…)`.
    public convenience init(inherited sockets: [InheritedSocket], threads: Int, maxResponse: Int = 4096, io: IO = .mmsg,
                            makeHandler: @escaping @Sendable () -> any PacketHandler) throws {
        precondition(threads >= 1, "UDPServer needs at least one thread per socket")
        precondition(sockets.allSatisfy { $0.kind == .datagram }, "UDPServer serves datagram sockets only")
        var endpoints: [Endpoint] = []
        do {
            for socket in sockets {
                let address = socket.address
                let what = "inherited \(address)"
                endpoints.append(Endpoint(fd: socket.fd, address: address, wantsPacketInfo: address.isWildcard, inherited: true))
                try Socket.setNonBlocking(socket.fd, false, what)
                try Self.prepare(socket.fd, address, what)
                for _ in 1..<threads {
                    let copy = try systemCall("fcntl F_DUPFD_CLOEXEC \(what)") { fcntl(socket.fd, F_DUPFD_CLOEXEC, 0) }
                    endpoints.append(Endpoint(fd: copy, address: address, wantsPacketInfo: address.isWildcard, inherited: true))
                }
            }
        } catch {
            for endpoint in endpoints { closeDescriptor(endpoint.fd) }
            throw error
        }
        try self.init(endpoints: endpoints, bound: sockets.map(\.address), maxResponse: maxResponse, io: io,
                      makeHandler: makeHandler)
    }

    /// Opens the rings for `IO.uring` here, so their errors surface before anything starts;
    /// on any error, closes every descriptor it was given.
    private init(endpoints: [Endpoint], bound: [SocketAddress], maxResponse: Int, io: IO,
                 makeHandler: @escaping @Sendable () -> any PacketHandler) throws {
        precondition(maxResponse >= 12 && maxResponse <= 65535, "maxResponse must be 12...65535")
        var rings: [UringRing] = []
        var wakePipe: (read: Int32, write: Int32)?
        if io == .uring {
            var pipe: [Int32] = [-1, -1]
            do {
                try systemCall("pipe2 for the io_uring wake-up") { cposix_pipe_nonblocking(&pipe) }
                wakePipe = (pipe[0], pipe[1])
                for endpoint in endpoints {
                    rings.append(try UringRing(fd: endpoint.fd, wake: pipe[0], maxResponse: maxResponse,
                                               wantsPacketInfo: endpoint.wantsPacketInfo, "\(endpoint.address)"))
                }
            } catch {
                for endpoint in endpoints { closeDescriptor(endpoint.fd) }
                for fd in pipe { closeDescriptor(fd) }
                throw error
            }
        }
        self.wakePipe = wakePipe
        self.endpoints = endpoints
        self.rings = rings
        self.boundAddresses = bound
        self.maxResponse = maxResponse
        self.io = io
        self.makeHandler = makeHandler
    }

    /// What every socket needs before its worker reads it, bound here or inherited: buffers,
    /// the receive timeout the idle calls and the stop rely on, packet info on a wildcard.
    private static func prepare(_ fd: Int32, _ address: SocketAddress, _ what: @autoclosure () -> String) throws {
        Socket.setOptionIfPossible(fd, SOL_SOCKET, SO_RCVBUF, Self.socketBufferBytes)
        Socket.setOptionIfPossible(fd, SOL_SOCKET, SO_SNDBUF, Self.socketBufferBytes)
        try Socket.setTimeout(fd, SO_RCVTIMEO, nanoseconds(Self.idleInterval), "setsockopt SO_RCVTIMEO \(what())")
        if address.isWildcard {
            try systemCall("setsockopt PKTINFO \(what())") {
                cposix_enable_pktinfo(fd, address.isIPv6 ? 1 : 0)
            }
        }
    }

    /// Binds a plain (non-SO_REUSEPORT) socket to check the port is free and to learn the real
    /// port when 0 was asked for; returns the address to bind the group to.
    private static func reservePort(_ requested: SocketAddress) throws -> SocketAddress {
        let probe = try Socket.open(Socket.datagram, for: requested)
        defer { closeDescriptor(probe) }
        try Socket.setIPv6Only(probe, requested)
        try Socket.bind(probe, to: requested)
        let actual = try Socket.localAddress(probe, "\(requested)")
        return requested.withPort(actual.port)
    }

    deinit {
        let needsClose = state.withLock { $0.phase != .stopped }
        if needsClose { for endpoint in endpoints { closeDescriptor(endpoint.fd) } }
        if let wakePipe {
            closeDescriptor(wakePipe.read)
            closeDescriptor(wakePipe.write)
        }
    }

    /// Starts one worker thread per socket and returns. Calling it again does nothing.
    public func start() {
        state.withLock { state in
            guard state.phase == .bound else { return }
            state.phase = .running
            for (index, endpoint) in endpoints.enumerated() {
                let ring = rings.isEmpty ? nil : rings[index]
                state.threads.append(spawnThread(name: "veer-udp-\(index)") { [self] in
                    if let ring { serveRing(endpoint, ring) } else { serveBatches(endpoint) }
                })
            }
        }
    }

    /// Stops the workers (best effort: each finishes the batch in hand), waits for them and
    /// closes the sockets. Calling it again does nothing.
    public func stop() {
        let threads: [pthread_t]? = state.withLock { state in
            guard state.phase != .stopped else { return nil }
            state.phase = .stopped
            return state.threads
        }
        guard let threads else { return }
        stopping.store(true, ordering: .releasing)
        // shutdown() on a UDP socket wakes a thread blocked in recvmmsg on Linux. Not on an
        // inherited one: it would stay shut for the next server; its receive timeout wakes it.
        // io_uring workers wake on the pipe, inherited socket or not.
        for endpoint in endpoints where !endpoint.inherited { _ = shutdown(endpoint.fd, Int32(SHUT_RDWR)) }
        if let wakePipe {
            var byte: UInt8 = 1
            _ = retryingOnInterrupt { write(wakePipe.write, &byte, 1) }
        }
        for thread in threads { pthread_join(thread, nil) }
        for endpoint in endpoints { closeDescriptor(endpoint.fd) }
    }

    /// One `IO.mmsg` worker: receive a batch, answer each, send the answers in one call.
    func serveBatches(_ endpoint: Endpoint) {
        let handler = makeHandler()
        let batch = Self.batchSize
        let querySize = Self.maxQuery
        let responseSize = maxResponse
        let controlSize = endpoint.wantsPacketInfo ? cposix_pktinfo_space() : 0

        // Everything below is allocated once for the life of the thread.
        let queries = UnsafeMutableRawPointer.allocate(byteCount: batch * querySize, alignment: 16)
        let responses = UnsafeMutableRawPointer.allocate(byteCount: batch * responseSize, alignment: 16)
        let peers = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: batch)
        let receiveVectors = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let sendVectors = UnsafeMutablePointer<iovec>.allocate(capacity: batch)
        let receiveHeaders = UnsafeMutablePointer<cposix_mmsghdr>.allocate(capacity: batch)
        let sendHeaders = UnsafeMutablePointer<cposix_mmsghdr>.allocate(capacity: batch)
        let receiveControl = UnsafeMutableRawPointer.allocate(byteCount: max(1, batch * controlSize), alignment: 16)
        let sendControl = UnsafeMutableRawPointer.allocate(byteCount: max(1, batch * controlSize), alignment: 16)
        defer {
            queries.deallocate(); responses.deallocate(); peers.deallocate()
            receiveVectors.deallocate(); sendVectors.deallocate()
            receiveHeaders.deallocate(); sendHeaders.deallocate()
            receiveControl.deallocate(); sendControl.deallocate()
        }
        for index in 0..<batch {
            receiveVectors[index] = iovec(iov_base: queries + index * querySize, iov_len: querySize)
        }

        // Headers the last recvmmsg filled in (it writes lengths and flags back into them);
        // only those need resetting, which matters when a batch holds one or two queries.
        var used = batch
        while !stopping.load(ordering: .acquiring) {
            for index in 0..<used {
                receiveHeaders[index] = cposix_mmsghdr(
                    msg_hdr: msghdr(
                        msg_name: UnsafeMutableRawPointer(peers + index),
                        msg_namelen: socklen_t(MemoryLayout<sockaddr_storage>.size),
                        msg_iov: receiveVectors + index, msg_iovlen: 1,
                        msg_control: controlSize == 0 ? nil : receiveControl + index * controlSize,
                        msg_controllen: controlSize, msg_flags: 0),
                    msg_len: 0)
            }
            let received = retryingOnInterrupt { cposix_recvmmsg(endpoint.fd, receiveHeaders, UInt32(batch)) }
            if stopping.load(ordering: .acquiring) { break }
            used = received > 0 ? Int(received) : batch
            if received < 0 {
                let error = Glibc.errno
                // Only a broken descriptor is permanent; ENOMEM and the like pass.
                if error == EBADF || error == ENOTSOCK || error == EINVAL { break }
                if error == EAGAIN || error == EWOULDBLOCK { handler.idle() }
                continue
            }

            var replies = 0
            for index in 0..<Int(received) {
                let header = receiveHeaders[index]
                let length = Int(header.msg_len)
                if header.msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0 || length == 0 { continue }
                guard let peer = SocketAddress(sockaddr: UnsafeRawPointer(peers + index)) else { continue }
                let responseStart = responses + index * responseSize
                let written = handler.handle(
                    query: UnsafeRawBufferPointer(start: queries + index * querySize, count: length),
                    response: UnsafeMutableRawBufferPointer(start: responseStart, count: responseSize),
                    transport: .udp, peer: peer)
                guard written > 0 && written <= responseSize else { continue }

                sendVectors[replies] = iovec(iov_base: responseStart, iov_len: written)
                var control: UnsafeMutableRawPointer? = nil
                var controlLength = 0
                if controlSize > 0 {
                    let slot = sendControl + replies * controlSize
                    controlLength = cposix_pktinfo_reply(header.msg_hdr.msg_control, header.msg_hdr.msg_controllen,
                                                         slot, controlSize)
                    if controlLength > 0 { control = slot }
                }
                sendHeaders[replies] = cposix_mmsghdr(
                    msg_hdr: msghdr(
                        msg_name: UnsafeMutableRawPointer(peers + index), msg_namelen: header.msg_hdr.msg_namelen,
                        msg_iov: sendVectors + replies, msg_iovlen: 1,
                        msg_control: control, msg_controllen: controlLength, msg_flags: 0),
                    msg_len: 0)
                replies += 1
            }

            var sent = 0
            while sent < replies {
                let result = retryingOnInterrupt {
                    cposix_sendmmsg(endpoint.fd, sendHeaders + sent, UInt32(replies - sent))
                }
                if result < 0 {
                    if stopping.load(ordering: .acquiring) { break }
                    // The first remaining message failed (unreachable peer, bad address):
                    // drop that one answer and send the rest.
                    sent += 1
                } else {
                    sent += Int(result)
                }
            }
        }
    }
}
