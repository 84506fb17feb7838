import Glibc
import Posix

extension FileIO {
    /// Creates a new private (0700) directory `<parent>/<prefix>XXXXXX` and returns its path.
    public static func makeTemporaryDirectory(in parent: String = "/tmp", prefix: String = "veer-") throws -> String {
        var template = Array("\(parent)/\(prefix)XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let created else { throw SystemError(errno: .current, action: "mkdtemp \(parent)/\(prefix)XXXXXX") }
        return String(cString: created)
    }
}
