import Foundation
import Testing
import VeerServer

/// `--help` on every command, `--version`, and usage errors that name what is missing and
/// print only the usage of the command typed, through the real binary.
@Suite struct CommandHelpTests {
    /// Every command of the binary's own table answers `--help` with its usage and exit 0.
    @Test(arguments: CommandHelp.commands) func helpOnEveryCommandExits0WithItsUsage(command: [String]) throws {
        let result = try runProgram(try Tools.veer(), command + ["--help"])
        #expect(result.status == 0, "\(command): \(result.output)")
        let usage = try #require(CommandHelp.usage(of: command), "no usage line for \(command)")
        #expect(result.output == usage + "\n", "\(command)")
        let lines = result.output.split(separator: "\n").filter { $0.hasPrefix("usage: veer") }
        #expect(!lines.isEmpty, "\(command): \(result.output)")
        for line in lines {
            #expect(line.contains(" " + command[0]), "\(command): \(line)")
        }
        // Only this command's usage: never all of them.
        #expect(result.output.split(separator: "\n").count < CommandHelp.all.split(separator: "\n").count / 2, "\(result.output)")
    }

    @Test func everyAdminVerbHasAUsageLine() {
        for command in CommandHelp.commands {
            #expect(CommandHelp.usage(of: command) != nil, "\(command) has no line in CommandHelp.all")
        }
        #expect(CommandHelp.commands.contains(["rollout", "start"]))
        #expect(CommandHelp.commands.contains(["store", "restore"]))
    }

    @Test func helpAloneListsEveryCommand() throws {
        for arguments in [["--help"], ["help"], ["-h"]] {
            let result = try runProgram(try Tools.veer(), arguments)
            #expect(result.status == 0)
            #expect(result.output == CommandHelp.all + "\n")
        }
    }

    @Test func versionNamesVeerAndOpenSSLAndExits0() throws {
        let result = try runProgram(try Tools.veer(), ["--version"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("veer \(CommandHelp.version) (OpenSSL 3"), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 1)
    }

    @Test func rolloutStartWithoutBakeSaysBakeIsRequiredWithOnlyItsUsage() throws {
        let result = try runProgram(try Tools.veer(), ["--admin", "/nonexistent/admin.sock", "rollout", "start", "api.example.com",
                                                       "--to", "new", "--steps", "10,50"])
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.hasPrefix("veer: --bake is required\n"), "\(result.output)")
        let usages = result.output.split(separator: "\n").filter { $0.hasPrefix("usage: veer") }
        #expect(usages == ["usage: veer [--admin PATH] rollout start NAME --to ENDPOINT --steps 1,5,25,50,100 --bake 10m [--dry-run] [--force]"],
                "\(result.output)")
    }

    @Test func unknownOptionOfCheckPrintsOnlyCheckUsage() throws {
        let result = try runProgram(try Tools.veer(), ["check", "--no-such-option"])
        #expect(result.status == 64)
        #expect(result.output.hasPrefix("veer: unknown option --no-such-option\nusage: veer check "), "\(result.output)")
        #expect(result.output.split(separator: "\n").count == 2, "\(result.output)")
    }

    @Test func anUnknownCommandPrintsEveryUsage() throws {
        let result = try runProgram(try Tools.veer(), ["frobnicate"])
        #expect(result.status == 64)
        #expect(result.output == "veer: unknown command \"frobnicate\"\n" + CommandHelp.all + "\n")
    }
}
