import Posix
import TestSupport
import Testing

@Suite struct FileIOTests {
    @Test func writeAtomicallyReplacesContentAndLeavesNoTemporaryFile() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let path = directory + "/state.json"
        try FileIO.writeAtomically(Array("old".utf8), to: path)
        try FileIO.writeAtomically(Array("new content".utf8), to: path, mode: 0o640)
        #expect(try FileIO.read(path) == Array("new content".utf8))
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
            _ = try FileIO.read("/nonexistent/x")
        } throws: { error in
            "\(error)" == "open /nonexistent/x: ENOENT (No such file or directory)"
        }
    }

    @Test func appendAndSyncAppends() throws {
        let directory = try FileIO.makeTemporaryDirectory()
        let path = directory + "/journal"
        try FileIO.appendAndSync(Array("a\n".utf8), to: path)
        try FileIO.appendAndSync(Array("b\n".utf8), to: path)
        #expect(try FileIO.read(path) == Array("a\nb\n".utf8))
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
        #expect(try FileIO.read(directory + "/big") == bytes)
        try FileIO.remove(directory + "/big")
        #expect(!FileIO.exists(directory + "/big"))
    }
}
