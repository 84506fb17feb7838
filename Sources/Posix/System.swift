import CPosix
import Dispatch
import Glibc
import Synchronization

/// Facts about the running process.
///
/// Named as the contract asks; code that also imports Foundation should write
/// `Posix.Process` to avoid Foundation's `Process`.
public enum Process {
    /// Real user id (getuid), e.g. to compare with an admin client's peer credentials.
    public static var currentUID: UInt32 { getuid() }
    /// Real group id (getgid).
    public static var currentGID: UInt32 { getgid() }
    /// Process id (getpid).
    public static var currentPID: Int32 { getpid() }
    /// CPUs this process may run on: the affinity mask (taskset, cpusets), else the online
    /// count; at least 1.
    public static var cpuCount: Int { Int(cposix_cpu_count()) }
    /// The host name (gethostname), cut at the first dot; "veer" if it cannot be read.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "veer" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let short = name.split(separator: ".").first.map(String.init) ?? ""
        return short.isEmpty ? "veer" : short
    }

    /// Gives memory that was freed back to the kernel (glibc's malloc_trim). Parsing a large
    /// zone leaves hundreds of MiB of freed parser objects that malloc keeps mapped; after
    /// loading, this brings the resident size down to what is still in use.
    public static func releaseFreedMemory() {
        _ = cposix_malloc_trim()
    }

    /// Blocks the calling (main) thread for good while other threads and dispatch queues do
    /// the work, taking signals with every signal unblocked (sigsuspend with an empty mask), so
    /// handlers run even when the parent started us with signals blocked — as `dispatchMain()`
    /// does. Unlike `dispatchMain()`, the main thread stays an ordinary thread: libdispatch's
    /// version exits it and parks in a TSD destructor, which valgrind 3.19 cannot follow (it
    /// dies with SIGSEGV, so no callgrind profile of the server).
    public static func parkForever() -> Never {
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        while true { sigsuspend(&unblocked) }
    }
}

/// Time sources. The name shadows the standard library's `Clock` protocol inside modules
/// that import Posix; write `Swift.Clock` for the protocol there.
public enum Clock {
    /// Nanoseconds on CLOCK_MONOTONIC: for timeouts and intervals; never jumps with the wall clock.
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Milliseconds on CLOCK_MONOTONIC_COARSE: the last timer tick (a few ms old), read
    /// without a system call, for counting rates on the packet path.
    @inline(__always)
    public static func coarseMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &spec)
        return Int64(spec.tv_sec) &* 1000 &+ Int64(spec.tv_nsec / 1_000_000)
    }

    /// Blocks the calling thread for `duration` (nanosleep, resumed after signals).
    public static func sleep(_ duration: Duration) {
        let total = nanoseconds(duration)
        var request = timespec(tv_sec: Int(total / 1_000_000_000), tv_nsec: Int(total % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }

    /// Seconds since the Unix epoch (CLOCK_REALTIME): for timestamps in logs and files.
    public static func wallSeconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec)
    }

    /// Milliseconds since the Unix epoch (CLOCK_REALTIME): for plans saved across restarts.
    public static func wallMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec / 1_000_000)
    }
}

/// Writes `text` to standard error with one write(2), unbuffered, adding a final newline if
/// `text` lacks one. One call per line keeps lines from concurrent threads whole (for lines
/// up to PIPE_BUF bytes on pipes). Errors are ignored: there is nowhere left to report them.
public func writeStderr(_ text: String) {
    writeLine(text, to: STDERR_FILENO)
}

/// Writes `text` to standard output the same way, unbuffered: for a command whose lines a
/// pipeline reads as they happen (`veer rollout wait`), where `print` would hold them in
/// its buffer until exit when standard output is a pipe.
public func writeStdout(_ text: String) {
    writeLine(text, to: STDOUT_FILENO)
}

private func writeLine(_ text: String, to fd: Int32) {
    var line = text
    if !line.hasSuffix("\n") { line.append("\n") }
    var utf8 = Array(line.utf8)
    utf8.withUnsafeMutableBytes { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = retryingOnInterrupt { write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }
}

/// Signal handling without signal-context code in Swift.
///
/// A small C handler writes each signal's number to a pipe (the self-pipe trick); one reader
/// thread turns the bytes into calls on a serial dispatch queue. This works whichever thread
/// the kernel picks to take the signal, unlike a signalfd or DispatchSource on Linux, which
/// only see the signal if every thread blocks it.
public enum Signals {
    /// SIGHUP: by convention, reload configuration.
    public static let hangup: Int32 = SIGHUP
    /// SIGTERM: stop cleanly.
    public static let terminate: Int32 = SIGTERM
    /// SIGINT: Ctrl-C.
    public static let interrupt: Int32 = SIGINT

    /// Where every signal body runs, one at a time.
    private static let queue = DispatchQueue(label: "veer.signals")

    private struct Registry {
        var readEnd: Int32 = -1
        var writeEnd: Int32 = -1
        var bodies: [Int32: [@Sendable () -> Void]] = [:]
    }
    private static let registry = Mutex(Registry())

    /// Calls `body` on a serial dispatch queue each time `signal` arrives, instead of the
    /// signal's default action (which would end the process for SIGHUP, SIGTERM and SIGINT).
    /// Several bodies may be registered for one signal; each runs. Signals arriving in a
    /// burst may be coalesced into fewer calls.
    public static func on(_ signal: Int32, _ body: @escaping @Sendable () -> Void) {
        registry.withLock { registry in
            if registry.readEnd < 0 {
                var ends: [Int32] = [-1, -1]
                // Without the pipe there is no way to deliver signals; this only fails when
                // the process is out of descriptors at start-up.
                guard cposix_pipe_nonblocking(&ends) == 0 else {
                    fatalError("\(SystemError(errno: .current, action: "pipe for signals"))")
                }
                // The reader blocks; the handler's end stays non-blocking so it never hangs.
                _ = fcntl(ends[0], F_SETFL, 0)
                registry.readEnd = ends[0]
                registry.writeEnd = ends[1]
                let readEnd = ends[0]
                pthread_detach(spawnThread(name: "veer-signals") { readSignals(from: readEnd) })
            }
            if registry.bodies[signal] == nil {
                // Fails only for an invalid signal number or SIGKILL/SIGSTOP: a programming error.
                guard cposix_signal_to_pipe(signal, registry.writeEnd) == 0 else {
                    fatalError("\(SystemError(errno: .current, action: "sigaction signal \(signal)"))")
                }
            }
            registry.bodies[signal, default: []].append(body)
        }
    }

    private static func readSignals(from fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = buffer.withUnsafeMutableBytes { bytes in
                retryingOnInterrupt { read(fd, bytes.baseAddress, bytes.count) }
            }
            if count <= 0 { return }
            for byte in buffer[0..<count] {
                let bodies = registry.withLock { $0.bodies[Int32(byte)] ?? [] }
                for body in bodies { queue.async(execute: body) }
            }
        }
    }

    /// Sends `signal` to process `pid` (kill(2)); integration tests use it to make a running
    /// server reload (`hangup`) or stop (`terminate`).
    public static func send(_ signal: Int32, to pid: Int32) throws {
        try systemCall("kill \(pid) signal \(signal)") { kill(pid, signal) }
    }
}
