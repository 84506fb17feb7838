import Testing
import Traffic
@testable import VeerServer

/// The admin protocol parser: every command, every malformed form, and the error text.
struct AdminCommandTests {
    @Test(arguments: [
        ("status", AdminCommand.status(name: nil, json: false)),
        ("status api.example.com", .status(name: "api.example.com", json: false)),
        ("status json", .status(name: nil, json: true)),
        ("status api.example.com json", .status(name: "api.example.com", json: true)),
        ("STATUS  api.example.com\t--json", .status(name: "api.example.com", json: true)),
        ("weight api.example.com new 10", .weight(name: "api.example.com", endpoint: "new", weight: 10)),
        ("weight api.example.com new 0", .weight(name: "api.example.com", endpoint: "new", weight: 0)),
        ("weight api.example.com new 1000000", .weight(name: "api.example.com", endpoint: "new", weight: 1_000_000)),
        ("shift api.example.com new 25%", .shift(name: "api.example.com", endpoint: "new", basisPoints: 2500)),
        ("shift api.example.com new 0.5%", .shift(name: "api.example.com", endpoint: "new", basisPoints: 50)),
        ("shift api.example.com new 12.75%", .shift(name: "api.example.com", endpoint: "new", basisPoints: 1275)),
        ("shift api.example.com new 100%", .shift(name: "api.example.com", endpoint: "new", basisPoints: 10_000)),
        ("shift api.example.com new 0%", .shift(name: "api.example.com", endpoint: "new", basisPoints: 0)),
        ("drain api.example.com old", .drain(name: "api.example.com", endpoint: "old")),
        ("undo api.example.com", .undo(name: "api.example.com")),
        ("history", .history(name: nil, limit: 20)),
        ("history api.example.com", .history(name: "api.example.com", limit: 20)),
        ("history 5", .history(name: nil, limit: 5)),
        ("history api.example.com 5", .history(name: "api.example.com", limit: 5)),
        ("reload", .reload),
        ("health api.example.com", .health(name: "api.example.com")),
        ("help", .help),
        ("  reload  ", .reload),
    ] as [(String, AdminCommand)])
    func parses(_ line: String, _ expected: AdminCommand) throws {
        #expect(try AdminCommand.parse(line) == expected)
    }

    @Test(arguments: [
        ("", "empty command; try \"help\""),
        ("   ", "empty command; try \"help\""),
        ("frobnicate", "unknown command \"frobnicate\"; commands: status, weight, shift, drain, undo, history, health, reload, help"),
        ("status a b c", "usage: status [NAME] [json]"),
        ("status a b", "usage: status [NAME] [json]"),
        ("weight api.example.com new", "usage: weight NAME ENDPOINT N"),
        ("weight api.example.com new 1 2", "usage: weight NAME ENDPOINT N"),
        ("weight api.example.com new -1", "weight must be an integer from 0 to 1000000, got \"-1\""),
        ("weight api.example.com new 1.5", "weight must be an integer from 0 to 1000000, got \"1.5\""),
        ("weight api.example.com new 1000001", "weight must be an integer from 0 to 1000000, got \"1000001\""),
        ("weight api.example.com new ten", "weight must be an integer from 0 to 1000000, got \"ten\""),
        ("shift api.example.com new", "usage: shift NAME ENDPOINT P%"),
        ("shift api.example.com", "usage: shift NAME ENDPOINT P%"),
        ("shift api.example.com new 25", "share must look like 25% or 2.5% (0% to 100%), got \"25\""),
        ("shift api.example.com new 101%", "share must look like 25% or 2.5% (0% to 100%), got \"101%\""),
        ("shift api.example.com new -5%", "share must look like 25% or 2.5% (0% to 100%), got \"-5%\""),
        ("shift api.example.com new 1.234%", "share must look like 25% or 2.5% (0% to 100%), got \"1.234%\""),
        ("shift api.example.com new %", "share must look like 25% or 2.5% (0% to 100%), got \"%\""),
        ("shift api.example.com new .5%", "share must look like 25% or 2.5% (0% to 100%), got \".5%\""),
        ("drain api.example.com", "usage: drain NAME ENDPOINT"),
        ("undo", "usage: undo NAME"),
        ("undo a b", "usage: undo NAME"),
        ("history a b c", "usage: history [NAME] [N]"),
        ("history a b", "usage: history [NAME] [N]"),
        ("history 0", "history count must be 1 to 10000, got 0"),
        ("reload now", "usage: reload"),
        ("health", "usage: health NAME"),
        ("health a b", "usage: health NAME"),
    ] as [(String, String)])
    func refuses(_ line: String, _ message: String) {
        #expect(throws: AdminError.badValue(message)) { try AdminCommand.parse(line) }
    }
}
