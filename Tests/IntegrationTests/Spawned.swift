import Foundation
import Glibc

/// A program started with posix_spawn the way systemd starts a socket-activated service:
/// the sockets it is handed become descriptors 3, 4, … with `LISTEN_FDS` and `LISTEN_PID`
/// set, standard input and output are /dev/null, standard error goes to a file, and every
/// other descriptor is closed.
///
/// Not `Foundation.Process`: closing every other descriptor keeps the long-lived child from
/// holding the pipe of some concurrently running `dig`, whose reader would then never see
/// its end; and a pid of our own is reaped with waitpid, never left to a monitor thread.
final class Spawned: @unchecked Sendable {
    let pid: pid_t
    /// Where the program's standard error goes.
    let logPath: String
    private var exitStatus: Int32?

    /// Starts `executable arguments`. With `sockets`, it runs through
    /// `/bin/sh -c 'LISTEN_PID=$$ … exec "$@"'`: the child's pid is not known before the spawn,
    /// and sh's `$$` is, and stays the pid across the exec.
    init(_ executable: String, _ arguments: [String], handing sockets: [Int32] = [], names: [String]? = nil,
         environment extra: [String: String] = [:], logPath: String) throws {
        self.logPath = logPath
        let first: Int32 = 3
        // dup2 onto 3, 4, … must not overwrite a socket still to be moved, and a socket just
        // opened can itself be 3 or 4 when tests running alongside have closed theirs: the
        // child gets copies made above every target, closed here once it is spawned.
        var high: [Int32] = []
        defer { for fd in high { close(fd) } }
        for fd in sockets {
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, first + Int32(sockets.count) + 64)
            guard copy >= 0 else { throw HarnessError("fcntl F_DUPFD_CLOEXEC: errno \(errno)") }
            high.append(copy)
        }
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTEN_") && $0.key != "NOTIFY_SOCKET" }
        environment.merge(extra) { $1 }
        var command = [executable] + arguments
        if !sockets.isEmpty {
            environment["LISTEN_FDS"] = "\(sockets.count)"
            if let names { environment["LISTEN_FDNAMES"] = names.joined(separator: ":") }
            command = ["/bin/sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$@\"", "sh"] + command
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        for (index, fd) in high.enumerated() {
            // dup2 clears close-on-exec on the copy: the child keeps it.
            posix_spawn_file_actions_adddup2(&actions, fd, first + Int32(index))
        }
        guard try Self.addCloseFrom()(&actions, first + Int32(sockets.count)) == 0 else {
            throw HarnessError("posix_spawn_file_actions_addclosefrom_np: errno \(errno)")
        }

        // The test runner may block signals; the child starts with none blocked and defaults.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
        guard result == 0 else { throw HarnessError("posix_spawn \(command[0]): errno \(result)") }
        self.pid = pid
    }

    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later): declared only with
    /// _GNU_SOURCE, which Swift's Glibc module is not built with, so it is looked up by name
    /// (dlsym with RTLD_DEFAULT, a null handle).
    static func addCloseFrom() throws -> AddCloseFrom {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            throw HarnessError("posix_spawn_file_actions_addclosefrom_np not found: glibc 2.34 or later is needed")
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }

    /// What the program wrote to standard error so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Whether it has exited (reaping it if so).
    var hasExited: Bool { reap(blocking: false) != nil }

    /// Polls the log until `text` appears; throws with the log if the program exits first or
    /// `timeout` passes.
    func waitForLog(_ text: String, timeout: Duration = .seconds(10)) throws {
        let deadline = ContinuousClock.now + timeout
        while !log.contains(text) {
            if let status = reap(blocking: false) {
                throw HarnessError("exited with status \(status) before writing \"\(text)\"\n--- log ---\n\(log)")
            }
            if ContinuousClock.now >= deadline {
                throw HarnessError("no \"\(text)\" within \(timeout)\n--- log ---\n\(log)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// SIGTERM, then waits (SIGKILL after 5 s). Returns the exit status (128+N for signal N).
    @discardableResult
    func stop() -> Int32 {
        if let exitStatus { return exitStatus }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let status = reap(blocking: false) { return status }
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(pid, SIGKILL)
        return reap(blocking: true) ?? -1
    }

    /// waitpid: the exit status once the program has ended, nil while it runs.
    private func reap(blocking: Bool) -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
        guard result == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
        let signal = status & 0x7F
        exitStatus = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        return exitStatus
    }
}
