import Glibc
import Posix
import TestSupport
import Testing

@Suite struct FileIOTests {
    @Test func writeAtomicallyReplacesContentAndLeavesNoTemporaryFile() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let path = directory + "/state.json"
        try FileIO.writeAtomically(Array("old".utf8), to: path)
        try FileIO.writeAtomically(Array("new content".utf8), to: path, mode: 0o640)
        #expect(try FileIO.read(path, limit: 1 << 20) == Array("new content".utf8))
        #expect(try FileIO.permissions(path) == 0o640)
        #expect(try FileIO.contentsOfDirectory(directory) == ["state.json"])
    }

    @Test func writeIntoMissingDirectoryNamesENOENT() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        #expect {
            try FileIO.writeAtomically([1], to: directory + "/missing/state")
        } throws: { error in
            (error as? SystemError)?.errno == .ENOENT && "\(error)".contains("ENOENT")
                && "\(error)".contains(directory + "/missing/state.tmp")
        }
    }

    @Test func readMissingFileNamesIt() {
        #expect {
            _ = try FileIO.read("/nonexistent/x", limit: 1 << 20)
        } throws: { error in
            "\(error)" == "open /nonexistent/x: ENOENT (No such file or directory)"
        }
    }

    @Test func appendAndSyncAppends() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let path = directory + "/journal"
        try FileIO.appendAndSync(Array("a\n".utf8), to: path)
        try FileIO.appendAndSync(Array("b\n".utf8), to: path)
        #expect(try FileIO.read(path, limit: 1 << 20) == Array("a\nb\n".utf8))
        #expect(try FileIO.permissions(path) == 0o600)
    }

    @Test func makeDirectoryCreatesParents() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        try FileIO.makeDirectory(directory + "/a/b/c")
        try FileIO.makeDirectory(directory + "/a/b/c")
        #expect(FileIO.exists(directory + "/a/b/c"))
        #expect(try FileIO.permissions(directory + "/a/b") == 0o700)
        try FileIO.writeAtomically([1], to: directory + "/file")
        #expect {
            try FileIO.makeDirectory(directory + "/file/sub")
        } throws: { error in
            (error as? SystemError)?.errno == .ENOTDIR
        }
    }

    @Test func readsLargeFiles() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        try FileIO.writeAtomically(bytes, to: directory + "/big")
        #expect(try FileIO.read(directory + "/big", limit: 1 << 30) == bytes)
        try FileIO.remove(directory + "/big")
        #expect(!FileIO.exists(directory + "/big"))
    }
}

/// Bounded reads (issue 23): only regular files, never past the limit.
@Suite struct BoundedFileReadTests {
    @Test func aFileOfExactlyTheLimitIsReadAndOneByteMoreIsRefused() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        try FileIO.writeAtomically([UInt8](repeating: 7, count: 100), to: directory + "/f")
        #expect(try FileIO.read(directory + "/f", limit: 100).count == 100)
        #expect {
            _ = try FileIO.read(directory + "/f", limit: 99)
        } throws: { error in
            (error as? FileRefusal)?.reason == .tooLarge(limit: 99) && "\(error)" == "larger than 99 bytes"
        }
    }

    @Test func aDeviceADirectoryAndAFIFOAreRefusedWithoutBlocking() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        #expect(mkfifo(directory + "/fifo", 0o600) == 0)
        for (path, kind) in [("/dev/zero", "character device"), (directory, "directory"), (directory + "/fifo", "FIFO")] {
            #expect {
                _ = try FileIO.read(path, limit: 1 << 20)
            } throws: { error in
                "\(error)" == "not a regular file (\(kind))"
            }
        }
    }

    @Test func procfsFilesWithSizeZeroAreReadToTheLimit() throws {
        // /proc/self/maps reports st_size 0 yet holds several lines.
        #expect(try FileIO.read("/proc/self/maps", limit: 1 << 24).count > 0)
        #expect {
            _ = try FileIO.read("/proc/self/maps", limit: 10)
        } throws: { error in
            (error as? FileRefusal)?.reason == .tooLarge(limit: 10)
        }
    }

    @Test func onlyAPlainFileOrNothingPassesForStateFiles() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        try FileIO.requirePlainFileOrAbsent(directory + "/absent")
        try FileIO.writeAtomically([1], to: directory + "/plain")
        try FileIO.requirePlainFileOrAbsent(directory + "/plain")
        #expect(symlink(directory + "/plain", directory + "/link") == 0)
        #expect(symlink(directory + "/gone", directory + "/dangling") == 0)
        #expect {
            try FileIO.requirePlainFileOrAbsent(directory + "/link")
        } throws: { error in
            "\(error)" == "a symbolic link to \(directory)/plain"
        }
        #expect {
            try FileIO.requirePlainFileOrAbsent(directory + "/dangling")
        } throws: { error in
            "\(error)" == "a symbolic link to \(directory)/gone (dangling)"
        }
    }
}
