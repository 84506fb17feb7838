import Posix

/// The `veer` command: `serve`, `check`, and the admin commands.
public enum VeerCommand {
    static let usage = """
        usage: veer serve [--zones DIR] [--max-zone-bytes N] [--listen ADDR:PORT]... [--threads N] [--io uring|mmsg] [--edns-payload N]
                          [--tcp-max-connections N] [--tcp-idle-timeout SECONDS]
                          [--state-dir DIR] [--admin PATH] [--admin-allow-uid UID]... [--admin-allow-gid GID]...
                          [--rollback-window SECONDS] [--metrics ADDR:PORT] [--status-query-from CIDR,...]...
                          [--cohort-seed HEX32] [--store etcd=http[s]://HOST:PORT[,...]] [--store-prefix /veer/]
                          [--store-ca FILE] [--store-cert FILE --store-key FILE] [--store-user NAME --store-password-file FILE]
                          [--server-id NAME] [--cluster ID,ID,...] [--rrl-rate N] [--rrl-window SECONDS] [--rrl-slip N]
                          [--rrl-ipv4-prefix LEN] [--rrl-ipv6-prefix LEN] [--rrl-exempt CIDR,...|none]... [--rrl-log-only]
                          [--cookie-secret HEX32|off]
                          [--keys DIR [--signature-validity D] [--signature-refresh D]
                           [--signature-inception-offset D] [--signature-jitter D]]
                          [--control ADDR:PORT --control-ca FILE --control-cert FILE --control-key FILE
                           [--control-crl FILE] [--control-allow SUBJECT=NAME[,NAME...]]...]
               veer check [--max-zone-bytes N] [--origin NAME] [--keys DIR] [DIR|FILE]
               veer keys generate ZONE --dir DIR [--algorithm ecdsap256sha256|ed25519] [--dnskey-ttl SECONDS]
               veer keys ds ZONE --dir DIR
               veer keys list [ZONE] --dir DIR [--json]
               veer keys activate ZONE TAG --dir DIR [--dnskey-ttl SECONDS] [--force]
               veer keys retire ZONE TAG --dir DIR [--dnskey-ttl SECONDS] [--force]
               veer store import|export --state-dir DIR --store etcd=http[s]://HOST:PORT[,...] [--store-prefix /veer/]
                          [--store-ca FILE] [--store-cert FILE --store-key FILE] [--store-user NAME --store-password-file FILE]
               veer [--admin PATH] status [NAME] [--json]
               veer [--admin PATH] weight NAME ENDPOINT N [--dry-run] [--force]
               veer [--admin PATH] shift NAME ENDPOINT P% [--dry-run] [--force]
               veer [--admin PATH] drain NAME ENDPOINT [--dry-run] [--force]
               veer [--admin PATH] undo NAME [--force]
               veer [--admin PATH] rollout start NAME --to ENDPOINT --steps 1,5,25,50,100 --bake 10m [--dry-run] [--force]
               veer [--admin PATH] rollout status [NAME] [--json]
               veer [--admin PATH] rollout wait NAME [--timeout D] [--json]
                   (exit 0 completed, 1 aborted, 2 paused, 3 timed out, 4 no state; no timeout unless given)
               veer [--admin PATH] rollout pause|resume|abort NAME
               veer [--admin PATH] history [NAME] [N] [--json]
               veer [--admin PATH] health NAME [--json]
               veer [--admin PATH] analysis NAME [ENDPOINT] [--json]
               veer [--admin PATH] reload [--wait]
               veer [--admin PATH] store restore REASON
               veer --server HOST:PORT --ca FILE --cert FILE --key FILE <any command above but serve, check, keys, store import|export>
               veer --version | veer COMMAND --help
        """

    /// Runs the command line and returns the exit status (0 ok, 1 error, 64 usage).
    public static func main(_ arguments: [String]) -> Int32 {
        let rest = arguments.dropFirst()
        if rest.first == "--version" || rest.first == "version" {
            print(CommandHelp.versionText)
            return 0
        }
        if let help = CommandHelp.help(rest) {
            print(help)
            return 0
        }
        do throws(UsageError) {
            // Admin commands may put --admin (or --server and its files) before or after the verb.
            var words = rest
            var clientOptions = AdminTransport.Options()
            while let first = words.first {
                var after = words.dropFirst()
                guard try clientOptions.take(first, &after) else { break }
                words = after
            }
            // `store restore` is the running server's (it holds the last good state); `store
            // import|export` work on a state directory and etcd directly.
            if let verb = words.first, AdminClient.verbs.contains(verb) || (verb == "store" && words.dropFirst().first == "restore") {
                return try AdminClient.run(rest)
            }
            switch rest.first {
            case "serve":
                let config = try ServeConfig(rest.dropFirst())
                do throws(StartupError) {
                    let server = try Server(config: config)
                    try server.run()
                } catch {
                    for line in error.lines { Log.error("startup: \(line)") }
                    return 1
                }
            case "check":
                return try CheckCommand.run(rest.dropFirst())
            case "store":
                return try StoreCommand.run(rest.dropFirst())
            case "keys":
                return KeysCommand.run(rest.dropFirst())
            case "help", "--help", "-h":
                print(usage)
                return 0
            case nil:
                throw UsageError("missing command")
            case let other?:
                throw UsageError("unknown command \"\(other)\"")
            }
        } catch {
            writeStderr("veer: \(error)\n\(CommandHelp.text(for: rest))\n")
            return 64
        }
    }
}
