import Glibc

/// Why a bounded read refused a file: it is not a regular file, or it is larger than the
/// limit. A failed system call is a `SystemError` instead.
public struct FileRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong with the file.
    public enum Reason: Equatable, Sendable {
        /// A directory, device, FIFO or socket (named as `kind` says), possibly through a link.
        case notRegular(kind: String)
        /// More than `limit` bytes.
        case tooLarge(limit: Int)
        /// A symbolic link where a plain file must be; `target` is what it points to.
        case symbolicLink(target: String)
    }

    /// The file, as the caller named it.
    public let path: String
    /// What was wrong with it.
    public let reason: Reason

    /// Refuses `path` for `reason`.
    public init(path: String, reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// `not a regular file (character device)`, `larger than 1024 bytes`, or
    /// `a symbolic link to /x (dangling)`: the reason only; callers name the file.
    public var description: String {
        switch reason {
        case .notRegular(let kind): "not a regular file (\(kind))"
        case .tooLarge(let limit): "larger than \(limit) bytes"
        case .symbolicLink(let target): "a symbolic link to \(target)"
        }
    }
}

extension FileIO {
    /// The whole content of `path`, which must be a regular file (a symbolic link to one is
    /// followed) of at most `limit` bytes.
    ///
    /// The type is checked with fstat on the opened descriptor, not on the path, so the file
    /// cannot be swapped between the check and the read; the open does not block on a FIFO.
    /// At most `limit + 1` bytes are ever read, so `/dev/zero`, a growing file or a file
    /// whose size procfs reports as 0 cannot make this read more. Throws `FileRefusal` for a
    /// file of the wrong kind or size, `SystemError` for a failed call.
    public static func read(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = try systemCall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
        defer { closeDescriptor(fd) }
        var info = stat()
        try systemCall("fstat \(path)") { fstat(fd, &info) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FileRefusal(path: path, reason: .notRegular(kind: fileKind(info.st_mode)))
        }
        guard Int(info.st_size) <= limit else { throw FileRefusal(path: path, reason: .tooLarge(limit: limit)) }
        // Sized from st_size plus a byte to see the end in one read; st_size is only a hint
        // (procfs reports 0, a file may grow), so a full buffer is regrown up to limit + 1.
        let ceiling = limit < Int.max ? limit + 1 : limit
        var capacity = min(ceiling, max(64 * 1024, Int(info.st_size) + 1))
        var result: [UInt8] = []
        while true {
            var atEnd = false
            let previous = result
            result = try [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                previous.withUnsafeBufferPointer { old in
                    if let base = old.baseAddress { buffer.baseAddress!.initialize(from: base, count: old.count) }
                }
                count = previous.count
                while count < buffer.count {
                    let read = try systemCall("read \(path)") { Glibc.read(fd, buffer.baseAddress! + count, buffer.count - count) }
                    if read == 0 { atEnd = true; return }
                    count += read
                }
            }
            if result.count > limit { throw FileRefusal(path: path, reason: .tooLarge(limit: limit)) }
            if atEnd { return result }
            capacity = min(ceiling, capacity * 2)
        }
    }

    /// Throws unless `path` is absent or a regular file itself (not a symbolic link, even to
    /// a regular file, nor a directory, device, FIFO or socket): for files Veer replaces by
    /// rename or appends to, where a link would be silently replaced or written through.
    public static func requirePlainFileOrAbsent(_ path: String) throws {
        var info = stat()
        if lstat(path, &info) != 0 {
            if Glibc.errno == ENOENT { return }
            throw SystemError(errno: .current, action: "lstat \(path)")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            return
        case S_IFLNK:
            var target = linkTarget(path) ?? "?"
            if !exists(path) { target += " (dangling)" }
            throw FileRefusal(path: path, reason: .symbolicLink(target: target))
        default:
            throw FileRefusal(path: path, reason: .notRegular(kind: fileKind(info.st_mode)))
        }
    }

    /// What a symbolic link at `path` points to, as written in the link.
    static func linkTarget(_ path: String) -> String? {
        // PATH_MAX on Linux.
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `character device`, `directory`… for the type bits of `mode`.
    static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "regular file"
        case S_IFDIR: "directory"
        case S_IFCHR: "character device"
        case S_IFBLK: "block device"
        case S_IFIFO: "FIFO"
        case S_IFSOCK: "socket"
        case S_IFLNK: "symbolic link"
        default: "unknown type"
        }
    }
}
