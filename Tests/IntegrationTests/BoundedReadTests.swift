import Foundation
import Posix
import Testing

/// Zone and state files are hostile input: a device, a link to one, or a file over the size
/// limit is refused with its position and reason, by `veer check`, at start and on reload,
/// and never read past the limit (issue 23, repros 4 and 5).
@Suite(.serialized)
struct BoundedReadTests {
    static let zone = WeightsTests.zone

    /// Writes `zones` (file name → text) into a fresh directory and returns it.
    static func zonesDirectory(_ zones: [String: String]) throws -> URL {
        let directory = try makeTemporaryDirectory()
        try writeZones(zones, to: directory)
        return directory
    }

    @Test func includeOfDevZeroIsRefusedNotReadForever() throws {
        let included = Self.zone + "\n$INCLUDE /dev/zero\n"
        let directory = try Self.zonesDirectory(["example.com.zone": included])
        defer { try? FileManager.default.removeItem(at: directory) }
        let check = try runProgram(try Tools.veer(), ["check", directory.path], timeout: .seconds(10))
        #expect(!check.timedOut, "veer check read /dev/zero until killed")
        #expect(check.status == 1)
        #expect(check.output.contains("example.com.zone:9:10: error: cannot read $INCLUDE file \"/dev/zero\": not a regular file (character device)"),
                "\(check.output)")

        // The same zone given to a running server by reload: refused, old data kept.
        let state = try WeightsTests.stateDirectory()
        let server = try WeightsTests.start(state: state)
        let file = server.zonesDirectory.appendingPathComponent("example.com.zone")
        try (included + "new IN A 192.0.2.77\n").write(to: file, atomically: true, encoding: .utf8)
        let reload = try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock", "reload"], timeout: .seconds(10))
        #expect(!reload.timedOut, "reload never replied")
        #expect(reload.status == 1)
        #expect(reload.output.hasPrefix("error:"), "\(reload.output)")
        #expect(reload.output.contains("example.com.zone:9:10:") && reload.output.contains("not a regular file (character device)"),
                "\(reload.output)")
        #expect(try server.dig("www.example.com").answer == ["www.example.com. 3600 IN A 192.0.2.10"])
        #expect(try server.dig("new.example.com").answer.isEmpty)
    }

    @Test func aZoneFileSymlinkedToADeviceIsRefused() throws {
        let directory = try Self.zonesDirectory(["good.zone.inc": Self.zone])
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/example.com.zone", withDestinationPath: "/dev/zero")
        let check = try runProgram(try Tools.veer(), ["check", directory.path], timeout: .seconds(10))
        #expect(!check.timedOut)
        #expect(check.status == 1)
        #expect(check.output.contains("example.com.zone:1:1: error: cannot read the zone file: not a regular file (character device)"),
                "\(check.output)")
        // A link to a regular file is followed.
        try FileManager.default.removeItem(atPath: directory.path + "/example.com.zone")
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/example.com.zone", withDestinationPath: "good.zone.inc")
        let linked = try runProgram(try Tools.veer(), ["check", directory.path])
        #expect(linked.status == 0, "\(linked.output)")
        // serve refuses to start on the device link, naming it.
        try FileManager.default.removeItem(atPath: directory.path + "/example.com.zone")
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/example.com.zone", withDestinationPath: "/dev/zero")
        let serve = try runProgram(try Tools.veer(), ["serve", "--zones", directory.path, "--state-dir", directory.path + "/state",
                                                      "--listen", "127.0.0.1:0"], timeout: .seconds(10))
        #expect(!serve.timedOut)
        #expect(serve.status != 0)
        #expect(serve.output.contains("not a regular file (character device)"), "\(serve.output)")
    }

    @Test func aZoneOverTheSizeLimitIsRefusedWithFileAndLine() throws {
        let big = String(repeating: "; padding to pass the limit\n", count: 100)
        let directory = try Self.zonesDirectory(["example.com.zone": Self.zone + "\n$INCLUDE big.inc\n", "big.inc": big])
        defer { try? FileManager.default.removeItem(at: directory) }
        let check = try runProgram(try Tools.veer(), ["check", "--max-zone-bytes", "2048", directory.path])
        #expect(check.status == 1)
        #expect(check.output.contains("example.com.zone:9:10: error: cannot read $INCLUDE file \"\(directory.path)/big.inc\": larger than 2048 bytes"),
                "\(check.output)")
        // The top-level file over the limit: its own name, line 1.
        let inline = try Self.zonesDirectory(["example.com.zone": Self.zone + "\n" + big])
        defer { try? FileManager.default.removeItem(at: inline) }
        let whole = try runProgram(try Tools.veer(), ["check", "--max-zone-bytes", "2048", inline.path])
        #expect(whole.status == 1)
        #expect(whole.output.contains("example.com.zone:1:1: error: cannot read the zone file: larger than 2048 bytes"), "\(whole.output)")
        // Under the default limit the same zone is fine.
        #expect(try runProgram(try Tools.veer(), ["check", directory.path]).status == 0)
        // A value out of range is a usage error.
        #expect(try runProgram(try Tools.veer(), ["check", "--max-zone-bytes", "12", directory.path]).status == 64)
    }

    @Test func aDanglingWeightsSymlinkStopsStartUp() throws {
        let state = try WeightsTests.stateDirectory()
        try FileManager.default.createSymbolicLink(atPath: state + "/weights.json", withDestinationPath: state + "/gone/weights.json")
        #expect {
            try WeightsTests.start(state: state)
        } throws: { error in
            let text = "\(error)"
            return text.contains("state file \(state)/weights.json is a symbolic link to \(state)/gone/weights.json (dangling): refusing to start")
        }
        // The link is left as it was, not replaced by a file.
        let attributes = try FileManager.default.attributesOfItem(atPath: state + "/weights.json")
        #expect(attributes[.type] as? FileAttributeType == .typeSymbolicLink)
        // A FIFO as weights.json stops start-up too, without blocking on it.
        try FileManager.default.removeItem(atPath: state + "/weights.json")
        #expect(mkfifo(state + "/weights.json", 0o600) == 0)
        #expect {
            try WeightsTests.start(state: state)
        } throws: { error in
            "\(error)".contains("state file \(state)/weights.json is not a regular file (FIFO): refusing to start")
        }
    }

    @Test func aFIFOAsTheAuditLogFailsCommandsWithoutHangingThem() throws {
        let state = try WeightsTests.stateDirectory()
        #expect(mkfifo(state + "/audit.log", 0o600) == 0)
        let server = try WeightsTests.start(state: state)
        let history = try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock", "history"], timeout: .seconds(10))
        #expect(!history.timedOut)
        #expect(history.output.hasPrefix("error:") && history.output.contains("not a regular file (FIFO)"), "\(history.output)")
        let change = try runProgram(try Tools.veer(), ["--admin", state + "/admin.sock", "weight", "api.example.com", "new", "5"],
                                    timeout: .seconds(10))
        #expect(!change.timedOut)
        // Opening a FIFO without a reader for writing fails at once (ENXIO) instead of waiting.
        #expect(change.output.hasPrefix("error: writing the audit log failed, nothing changed"), "\(change.output)")
        #expect(try server.dig("www.example.com").answer == ["www.example.com. 3600 IN A 192.0.2.10"])
    }
}
