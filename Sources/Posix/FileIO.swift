import Glibc

/// Whole-file reads and crash-safe writes for persisted state.
///
/// Errors are `SystemError`s naming the step and the path, e.g. `fsync /x/state.tmp: ENOSPC
/// (No space left on device)` or `open /x: ENOENT (No such file or directory)`.
public enum FileIO {
    /// Replaces `path` with `bytes` so that after a crash the file holds either the old or the
    /// new content, never a mix: write a temporary file in the same directory
    /// (`<path>.tmp`), fsync it, rename it over `path`, fsync the directory.
    ///
    /// On an error before the rename, the old file is untouched and the temporary file is
    /// removed. If only the final directory fsync fails, the new content is in place but may
    /// not survive a crash; the error is still thrown. The file gets exactly `mode`
    /// (not reduced by the umask).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o600) throws {
        let temporary = path + ".tmp"
        let fd = try systemCall("open \(temporary)") {
            open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        }
        do {
            try systemCall("fchmod \(temporary)") { fchmod(fd, mode_t(mode)) }
            try writeAll(fd, bytes, "write \(temporary)")
            try systemCall("fsync \(temporary)") { fsync(fd) }
            let closed = Glibc.close(fd)
            if closed != 0 && Glibc.errno != EINTR {
                throw SystemError(errno: .current, action: "close \(temporary)")
            }
        } catch {
            closeDescriptor(fd)
            _ = unlink(temporary)
            throw error
        }
        do {
            try systemCall("rename \(temporary) to \(path)") { rename(temporary, path) }
        } catch {
            _ = unlink(temporary)
            throw error
        }
        try syncDirectory(containing: path)
    }

    /// Appends `bytes` to `path` (created with `mode` if missing) and fsyncs, so the data is on
    /// disk when this returns. A newly created file also gets its directory fsynced. Throws
    /// `FileRefusal` when `path` (or what a link there names) is not a regular file; the open
    /// does not block on a FIFO.
    public static func appendAndSync(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o600) throws {
        var created = false
        var fd = retryingOnInterrupt { open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        if fd < 0 && Glibc.errno == ENOENT {
            fd = try systemCall("open \(path)") {
                open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode_t(mode))
            }
            created = true
        } else if fd < 0 {
            throw SystemError(errno: .current, action: "open \(path)")
        }
        defer { closeDescriptor(fd) }
        var info = stat()
        try systemCall("fstat \(path)") { fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FileRefusal(path: path, reason: .notRegular(kind: fileKind(info.st_mode)))
        }
        // A write cut short (ENOSPC half way) or not made durable is taken back, so the
        // caller's "failed" is true and the next append does not continue a torn line.
        let before = lseek(fd, 0, SEEK_END)
        do {
            try writeAll(fd, bytes, "write \(path)")
            try systemCall("fsync \(path)") { fsync(fd) }
        } catch {
            if before >= 0 { _ = ftruncate(fd, before) }
            throw error
        }
        if created { try syncDirectory(containing: path) }
    }

    /// Up to `maxBytes` bytes of `path` from `offset` on, and its whole size; empty and 0
    /// when it does not exist. Throws `FileRefusal` when it is not a regular file.
    public static func read(_ path: String, from offset: Int, maxBytes: Int) throws -> (bytes: [UInt8], size: Int) {
        let fd = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        if fd < 0 {
            if Glibc.errno == ENOENT { return ([], 0) }
            throw SystemError(errno: .current, action: "open \(path)")
        }
        defer { closeDescriptor(fd) }
        var info = stat()
        try systemCall("fstat \(path)") { fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FileRefusal(path: path, reason: .notRegular(kind: fileKind(info.st_mode)))
        }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: max(0, min(maxBytes, size - offset)))
        var done = 0
        while done < bytes.count {
            let count = try bytes.withUnsafeMutableBytes { buffer in
                try systemCall("read \(path)") { pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done)) }
            }
            if count == 0 { break }
            done += count
        }
        return (Array(bytes[0..<done]), size)
    }

    /// The size of `path` in bytes; 0 when it does not exist.
    public static func size(_ path: String) throws -> Int {
        var info = stat()
        if stat(path, &info) != 0 {
            if Glibc.errno == ENOENT { return 0 }
            throw SystemError(errno: .current, action: "stat \(path)")
        }
        return Int(info.st_size)
    }

    /// Cuts `path` to its first `length` bytes, durably.
    public static func truncate(_ path: String, to length: Int) throws {
        let fd = try systemCall("open \(path)") { open(path, O_WRONLY | O_CLOEXEC) }
        defer { closeDescriptor(fd) }
        try systemCall("ftruncate \(path)") { ftruncate(fd, off_t(length)) }
        try systemCall("fsync \(path)") { fsync(fd) }
    }

    /// True if something (file, directory, socket...) exists at `path`; symbolic links are followed.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Creates `path` and any missing parents (mkdir -p) with `mode`. An existing directory is
    /// fine; an existing non-directory throws ENOTDIR naming it.
    public static func makeDirectory(_ path: String, mode: UInt32 = 0o700) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode_t(mode)) != 0 {
                let error = Errno.current
                var info = stat()
                guard error == .EEXIST, stat(prefix, &info) == 0 else {
                    throw SystemError(errno: error, action: "mkdir \(prefix)")
                }
                if info.st_mode & S_IFMT != S_IFDIR {
                    throw SystemError(errno: .ENOTDIR, action: "mkdir \(prefix)")
                }
            }
            prefix += "/"
        }
    }

    /// Names in directory `path`, without "." and "..", sorted.
    public static func contentsOfDirectory(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw SystemError(errno: .current, action: "opendir \(path)") }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// `path` made absolute with symbolic links, `.` and `..` resolved (realpath(3)); `path`
    /// itself when it cannot be resolved (it does not exist).
    public static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Removes the file (not directory) at `path`.
    public static func remove(_ path: String) throws {
        try systemCall("unlink \(path)") { unlink(path) }
    }

    /// Writes every byte, retrying short writes.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ action: @autoclosure () -> String) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                offset += try systemCall(action()) { write(fd, buffer.baseAddress! + offset, buffer.count - offset) }
            }
        }
    }

    /// fsyncs the directory holding `path`, so a rename or a new name in it is durable.
    static func syncDirectory(containing path: String) throws {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = try systemCall("open \(directory)") { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { closeDescriptor(fd) }
        try systemCall("fsync \(directory)") { fsync(fd) }
    }
}
