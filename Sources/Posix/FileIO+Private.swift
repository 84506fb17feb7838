import Glibc

/// Files that hold secrets: created once, never overwritten, and checked for who may read them.
extension FileIO {
    /// Creates `path` with exactly `mode` and writes `bytes`, failing with EEXIST when anything
    /// is already there (O_EXCL, no link followed), then fsyncs the file and its directory.
    /// A failed write removes the half-written file.
    public static func createExclusively(_ bytes: [UInt8], at path: String, mode: UInt32 = 0o600) throws {
        let fd = try systemCall("open \(path)") {
            open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        }
        do {
            try systemCall("fchmod \(path)") { fchmod(fd, mode_t(mode)) }
            try writeAll(fd, bytes, "write \(path)")
            try systemCall("fsync \(path)") { fsync(fd) }
        } catch {
            closeDescriptor(fd)
            _ = unlink(path)
            throw error
        }
        closeDescriptor(fd)
        try syncDirectory(containing: path)
    }

    /// The permission bits of `path` (mode & 0o7777), links followed.
    public static func permissionBits(_ path: String) throws -> UInt32 {
        var info = stat()
        try systemCall("stat \(path)") { stat(path, &info) }
        return UInt32(info.st_mode) & 0o7777
    }
}
