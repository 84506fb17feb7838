import Foundation
import Posix
import Testing
import Traffic
@testable import VeerServer
import ZoneFile

/// The admin front's command table: one handler per command, and every command reaches its
/// own (a misrouted one would answer with another command's reply, or an error).
struct AdminFrontTests {
    static let zone = """
        $ORIGIN example.com.
        $TTL 300
        @     IN SOA ns1 hostmaster 1 3600 600 604800 60
        @     IN NS  ns1
        ns1   IN A   192.0.2.53
        $HEALTH gw tcp address=127.0.0.1:9 interval=5s timeout=1s
        $ANALYSIS errors prometheus url=http://127.0.0.1:9 query=up{job='{{endpoint}}'} requests=up{job='{{endpoint}}'} max=1
        api   30 IN A 192.0.2.1 endpoint=old weight=100 health=gw
        api   30 IN A 192.0.2.2 endpoint=new weight=0 health=gw analysis=errors

        """

    /// One line of every command, in an order that leaves each one something to do, and the
    /// start of the reply only that command's handler gives.
    static let lines: [(line: String, verb: AdminCommand.Verb, reply: String)] = [
        ("help", .help, "ok commands:\n"),
        ("status", .status, "ok 1 weighted name"),
        ("weight api.example.com new 10", .weight, "ok api.example.com. old=100 new=10 (generation 2)"),
        ("shift api.example.com new 50%", .shift, "ok api.example.com. old=50 new=50 (generation 3)"),
        ("drain api.example.com new", .drain, "ok api.example.com. old=50 new=0 (generation 4)"),
        ("undo api.example.com", .undo, "ok api.example.com. old=50 new=50 (generation 5)"),
        ("rollout start api.example.com --to new --steps 60,100 --bake 10m", .rolloutStart, "ok api.example.com. rollout to new started"),
        ("rollout status", .rolloutStatus, "ok 1 rollout"),
        ("rollout pause api.example.com", .rolloutPause, "ok api.example.com. rollout to new paused"),
        ("rollout resume api.example.com", .rolloutResume, "ok api.example.com. rollout to new baking"),
        ("rollout abort api.example.com", .rolloutAbort, "ok api.example.com. rollout to new aborted"),
        ("history api.example.com 3", .history, "ok 1 change (3 audit lines)\n"),
        ("health api.example.com", .health, "ok api.example.com."),
        ("analysis api.example.com", .analysis, "ok api.example.com. 1 analysis run now"),
        ("reload", .reload, "ok reloaded, generation 10"),
        // Without a shared store only its own handler knows to say so.
        ("store restore test", .storeRestore, "error: store restore: this server has no shared store"),
    ]

    @Test func everyCommandHasOneHandler() {
        #expect(Set(AdminFront.commands.keys) == Set(AdminCommand.Verb.allCases))
        #expect(Set(Self.lines.map(\.verb)) == Set(AdminCommand.Verb.allCases), "the lines below cover every command")
    }

    @Test func everyCommandReachesItsOwnHandler() throws {
        let root = NSTemporaryDirectory() + "veer-admin-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/zones", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.zone.write(toFile: root + "/zones/example.com.zone", atomically: true, encoding: .utf8)
        let (zones, errors) = ZoneParser.loadDirectory(root + "/zones", files: .system(maxBytes: 1 << 20))
        try #require(errors.isEmpty, "\(errors)")
        let control = try Control(settings: Control.Settings(zonesDirectory: root + "/zones", allowedUIDs: [], allowedGIDs: []),
                                  zones: zones, store: try FileStateStore(directory: root + "/state"))
        let peer = PeerCredentials(uid: 0, gid: 0, pid: 1)
        for (line, verb, expected) in Self.lines {
            #expect(try AdminCommand.parse(line).verb == verb)
            let reply = control.handle(line, peer: peer)
            #expect(reply.hasPrefix(expected), "\(line)")
        }
    }
}
