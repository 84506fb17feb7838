import Glibc
import Posix

/// File helpers only tests need: scratch directories, and the permission bits to check.
extension FileIO {
    /// Creates a new private (0700) directory `<parent>/<prefix>XXXXXX` and returns its path.
    public static func makeTemporaryDirectory(in parent: String = "/tmp", prefix: String = "veer-") throws -> String {
        var template = Array("\(parent)/\(prefix)XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let created else { throw SystemError(errno: .current, action: "mkdtemp \(parent)/\(prefix)XXXXXX") }
        return String(cString: created)
    }

    /// Permission bits of `path` (e.g. 0o600), following symbolic links.
    public static func permissions(_ path: String) throws -> UInt32 {
        var info = stat()
        try systemCall("stat \(path)") { stat(path, &info) }
        // The low 12 bits: rwx for user, group, other plus setuid, setgid, sticky.
        return UInt32(info.st_mode) & 0o7777
    }
}
