import CPosix
import Glibc
import Synchronization

/// A listening stream socket served by one accept thread and one thread per connection: the
/// shape of the low-traffic servers (the admin socket, the metrics listener), where blocking
/// code per client is simpler than an event loop and the client count stays small.
///
/// The owner binds and listens, hands over the descriptor, and calls `start` with what to do
/// for each connection. Connection descriptors are blocking and close-on-exec; each is closed
/// after its `serve` returns. `stop()` shuts down every connection still being served (its
/// reads and writes fail at once), so `serve` needs no stop check of its own.
final class ConnectionThreads: Sendable {
    private enum Phase { case bound, running, stopped }
    private struct State {
        var phase = Phase.bound
        var acceptThread: pthread_t? = nil
        var clients: Set<Int32> = []
    }

    private let listener: Int32
    private let threadName: String
    private let maxClients: Int
    private let stopping = Atomic<Bool>(false)
    private let state = Mutex(State())

    /// Takes ownership of `listener` (listening already).
    ///
    /// - Parameters:
    ///   - threadName: the accept thread's name; connection threads get `-cl` added (15
    ///     bytes are shown, so keep it to 12).
    ///   - maxClients: connections served at once; further ones go to `refuse` in `start`.
    init(listener: Int32, threadName: String, maxClients: Int = .max) {
        self.listener = listener
        self.threadName = threadName
        self.maxClients = maxClients
    }

    deinit {
        let needsClose = state.withLock { $0.phase != .stopped }
        if needsClose { closeDescriptor(listener) }
    }

    /// Starts the accept thread. Each connection runs `serve` on a thread of its own; one
    /// arriving while `maxClients` are served runs `refuse` on the accept thread instead,
    /// which must not block (a non-blocking send of a short reply is fine). Calling it again
    /// does nothing.
    func start(serve: @escaping @Sendable (Int32) -> Void,
               refuse: @escaping @Sendable (Int32) -> Void = { _ in }) {
        state.withLock { state in
            guard state.phase == .bound else { return }
            state.phase = .running
            state.acceptThread = spawnThread(name: threadName) { [self] in acceptLoop(serve: serve, refuse: refuse) }
        }
    }

    /// Stops accepting, disconnects clients, waits for the accept thread and closes the
    /// listener. Returns false if it had already been called.
    @discardableResult
    func stop() -> Bool {
        let thread: pthread_t?? = state.withLock { state in
            guard state.phase != .stopped else { return nil }
            state.phase = .stopped
            for client in state.clients { _ = shutdown(client, Int32(SHUT_RDWR)) }
            return .some(state.acceptThread)
        }
        guard let thread else { return false }
        stopping.store(true, ordering: .releasing)
        // On Linux, shutdown() wakes a thread blocked in accept() on this socket.
        _ = shutdown(listener, Int32(SHUT_RDWR))
        if let thread { pthread_join(thread, nil) }
        closeDescriptor(listener)
        return true
    }

    private func acceptLoop(serve: @escaping @Sendable (Int32) -> Void, refuse: @Sendable (Int32) -> Void) {
        while !stopping.load(ordering: .acquiring) {
            let fd = retryingOnInterrupt { cposix_accept_cloexec(listener, nil, nil) }
            if stopping.load(ordering: .acquiring) {
                closeDescriptor(fd)
                return
            }
            if fd < 0 {
                // Out of descriptors or memory: wait a little instead of spinning.
                if Glibc.errno == EMFILE || Glibc.errno == ENFILE || Glibc.errno == ENOMEM {
                    usleep(100_000)
                }
                continue
            }
            let admitted = state.withLock { state -> Bool? in
                guard state.phase == .running else { return nil }
                guard state.clients.count < maxClients else { return false }
                state.clients.insert(fd)
                return true
            }
            guard let admitted else {
                closeDescriptor(fd)
                return
            }
            guard admitted else {
                refuse(fd)
                closeDescriptor(fd)
                continue
            }
            let thread = spawnThread(name: threadName + "-cl") { [self] in
                serve(fd)
                // Closed under the lock, so stop() never shuts down a reused descriptor.
                state.withLock { state in
                    state.clients.remove(fd)
                    closeDescriptor(fd)
                }
            }
            pthread_detach(thread)
        }
    }
}
