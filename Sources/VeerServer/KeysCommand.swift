import DNSSEC
import DNSWire
import Posix

/// `veer keys generate|ds|list|activate|retire`: DNSSEC keys in a key directory, and the steps
/// of a rollover. Each step is a pure function of DNSSEC's `Rollover` on the zone's key records;
/// this file reads the records, applies the step and writes back what changed.
enum KeysCommand {
    /// The subcommands, whose usage lines live in `VeerCommand.usage` with every other command's.
    static let verbs = ["generate", "ds", "list", "activate", "retire"]

    /// The usage of `verb` (`usage: veer keys …`), or of every subcommand for an unknown one.
    static func usage(of verb: String) -> String {
        CommandHelp.usage(of: ["keys", verb]) ?? verbs.compactMap { CommandHelp.usage(of: ["keys", $0]) }.joined(separator: "\n")
    }

    /// Runs `veer keys ...` (the words after `keys`): 0 ok, 1 error, 64 usage.
    static func run(_ arguments: ArraySlice<String>, now: UInt32 = UInt32(truncatingIfNeeded: Clock.wallSeconds())) -> Int32 {
        let verb = arguments.first ?? ""
        let rest = arguments.dropFirst()
        if rest.contains("--help") || rest.contains("-h") || ["--help", "-h", "help"].contains(verb) {
            print(usage(of: verb))
            return 0
        }
        do {
            let output: String
            switch verb {
            case "generate": output = try generate(rest, now: now)
            case "ds": output = try ds(rest)
            case "list": output = try list(rest)
            case "activate", "retire": output = try step(verb, rest, now: now)
            case "": throw UsageError("missing subcommand")
            default: throw UsageError("unknown subcommand \"\(verb)\"")
            }
            print(output, terminator: output.hasSuffix("\n") ? "" : "\n")
            return 0
        } catch let error as UsageError {
            writeStderr("veer keys\(verb.isEmpty ? "" : " " + verb): \(error)\n\(usage(of: verb))\n")
            return 64
        } catch {
            writeStderr("veer keys \(verb): error: \(error)\n")
            return 1
        }
    }

    /// The options every subcommand shares, read and checked.
    struct Arguments {
        var positional: [String]
        var dir: String
        var options: OptionReader

        init(_ arguments: ArraySlice<String>, valued: Set<String> = [], switches: Set<String> = [],
             positional range: ClosedRange<Int>) throws(UsageError) {
            options = try OptionReader(arguments, valued: valued.union(["dir"]), switches: switches)
            positional = options.positional
            guard range.contains(positional.count) else {
                throw UsageError(range.lowerBound == range.upperBound
                    ? "expected \(range.lowerBound) argument\(range.lowerBound == 1 ? "" : "s"), got \(positional.count)"
                    : "expected \(range.lowerBound) to \(range.upperBound) arguments, got \(positional.count)")
            }
            guard let dir = options.last("dir") else { throw UsageError("--dir DIR is required") }
            self.dir = dir
        }

        func zone(at index: Int) throws(UsageError) -> DomainName {
            let text = positional[index]
            guard !text.contains("/"), let zone = try? DomainName(text.hasSuffix(".") ? text : text + ".") else {
                throw UsageError("\"\(text)\" is not a zone name")
            }
            return zone.lowercased()
        }

        func dnskeyTTL() throws(UsageError) -> UInt32 {
            UInt32(try options.integer("dnskey-ttl", default: Int(Rollover.defaultDNSKEYTTL), range: 0...Int(Int32.max)))
        }
    }

    /// `generate`: a new CSK, active if the zone has no active key, else pre-published.
    static func generate(_ arguments: ArraySlice<String>, now: UInt32) throws -> String {
        let args = try Arguments(arguments, valued: ["algorithm", "dnskey-ttl"], positional: 1...1)
        let zone = try args.zone(at: 0)
        let algorithmText = args.options.last("algorithm") ?? DNSSECAlgorithm.ecdsaP256SHA256.name
        guard let algorithm = DNSSECAlgorithm(name: algorithmText) else {
            throw UsageError("--algorithm must be ecdsap256sha256 or ed25519, got \"\(algorithmText)\"")
        }
        let ttl = try args.dnskeyTTL()
        if let missing = algorithm.availability() {
            throw DNSSECError("algorithm \(algorithm) is not available in this libcrypto: \(missing)")
        }
        try FileIO.makeDirectory(args.dir)
        let existing = try KeyDirectory.files(args.dir).filter { $0.record.zone == zone }
        let state = try Rollover.stateForNewKey(algorithm, in: existing.map(\.record))
        let takenTags = Set(existing.map(\.record.tag))
        var key = try SigningKey.generate(algorithm)
        // Two keys of a zone must not share a tag (RFC 4034 appendix B: tags are not unique).
        while takenTags.contains(key.keyTag) { key = try SigningKey.generate(algorithm) }
        let record = KeyRecord(zone: zone, algorithm: algorithm, tag: key.keyTag, state: state, created: now,
                               activated: state == .active ? now : nil)
        let privatePath = args.dir + "/" + record.baseName + ".private"
        let statePath = args.dir + "/" + record.baseName + ".state"
        try FileIO.createExclusively(try key.pem(), at: privatePath, mode: 0o600)
        do {
            try FileIO.createExclusively(Array(record.text.utf8), at: statePath, mode: 0o644)
        } catch {
            try? FileIO.remove(privatePath)
            throw error
        }
        let ds = try DS.rdata(owner: zone, key: key)
        let next = state == .active ? "" : "; it signs nothing until `veer keys activate \(zone) \(key.keyTag)`; give the parent its DS first\n"
        return "; key \(key.keyTag) for \(zone), algorithm \(algorithm), state \(state.rawValue): \(privatePath)\n" + next
            + Presentation.dnskey(owner: zone, ttl: ttl, rdata: key.dnskeyRDATA) + "\n"
            + Presentation.ds(owner: zone, rdata: ds) + "\n"
    }

    /// `ds`: the DS of every key the parent may hold, each after a comment with its state.
    static func ds(_ arguments: ArraySlice<String>) throws -> String {
        let args = try Arguments(arguments, positional: 1...1)
        let zone = try args.zone(at: 0)
        let files = try KeyDirectory.files(args.dir).filter { $0.record.zone == zone && $0.record.state != .removed }
        guard files.contains(where: { $0.record.state == .active }) else {
            throw DNSSECError("\(args.dir): no active key for \(zone) (veer keys generate \(zone) --dir \(args.dir))")
        }
        let notes: [KeyState: String] = [
            .active: "active: the parent must hold this DS",
            .published: "published: add this DS at the parent before `veer keys activate`",
            .retiring: "retiring: remove this DS from the parent before `veer keys retire`",
        ]
        var out = ""
        for file in files.sorted(by: { order($0.record.state) < order($1.record.state) }) {
            let key = try KeyDirectory.privateKey(file)
            out += "; key \(file.record.tag) \(notes[file.record.state] ?? file.record.state.rawValue)\n"
            out += Presentation.ds(owner: zone, rdata: try DS.rdata(owner: zone, key: key)) + "\n"
        }
        return out
    }

    /// Active first, then the key coming in, then the one going out.
    static func order(_ state: KeyState) -> Int {
        switch state {
        case .active: 0
        case .published: 1
        case .retiring: 2
        case .removed: 3
        }
    }

    /// One row of `list --json`.
    struct ListedKey: Encodable {
        let zone: String
        let tag: Int
        let algorithm: Int
        let algorithmName: String
        let state: String
        /// RFC 3339, UTC.
        let since: String
        let sinceSeconds: Int
        let file: String
    }

    /// `list`: every key (or a zone's), with state and since when.
    static func list(_ arguments: ArraySlice<String>) throws -> String {
        let args = try Arguments(arguments, switches: ["json"], positional: 0...1)
        let zone = args.positional.isEmpty ? nil : try args.zone(at: 0)
        let files = try KeyDirectory.files(args.dir)
            .filter { zone == nil || $0.record.zone == zone }
            .sorted { ($0.record.zone, $0.record.tag) < ($1.record.zone, $1.record.tag) }
        let rows = files.map { file in
            ListedKey(zone: file.record.zone.description, tag: Int(file.record.tag), algorithm: Int(file.record.algorithm.rawValue),
                      algorithmName: file.record.algorithm.name, state: file.record.state.rawValue,
                      since: Log.timestamp(Int64(file.record.since)), sinceSeconds: Int(file.record.since), file: file.privatePath)
        }
        if args.options.has("json") { return JSON.text(rows) }
        let table = [["ZONE", "TAG", "ALGORITHM", "STATE", "SINCE"]]
            + rows.map { [$0.zone, String($0.tag), "\($0.algorithm) \($0.algorithmName)", $0.state, $0.since] }
        let widths = (0..<5).map { column in table.map { $0[column].count }.max()! }
        return table.map { row in
            row.enumerated().map { $0.offset == 4 ? $0.element : $0.element + String(repeating: " ", count: widths[$0.offset] - $0.element.count + 2) }
                .joined()
        }.joined(separator: "\n") + "\n"
    }

    /// `activate` and `retire`: one rollover step on the zone's records; the changed `.state`
    /// files are replaced atomically.
    static func step(_ verb: String, _ arguments: ArraySlice<String>, now: UInt32) throws -> String {
        let args = try Arguments(arguments, valued: ["dnskey-ttl"], switches: ["force"], positional: 2...2)
        let zone = try args.zone(at: 0)
        guard let tag = UInt16(args.positional[1]) else { throw UsageError("\"\(args.positional[1])\" is not a key tag") }
        let ttl = try args.dnskeyTTL()
        let files = try KeyDirectory.files(args.dir).filter { $0.record.zone == zone }
        guard !files.isEmpty else { throw DNSSECError("\(args.dir): no keys for \(zone)") }
        let before = files.map(\.record)
        let after = verb == "activate"
            ? try Rollover.activate(before, tag: tag, now: now, dnskeyTTL: ttl, force: args.options.has("force"))
            : try Rollover.retire(before, tag: tag, now: now, dnskeyTTL: ttl, force: args.options.has("force"))
        if verb == "activate" {
            // The key must load before the zone depends on it.
            _ = try KeyDirectory.privateKey(files.first { $0.record.tag == tag && $0.record.state != .removed }!)
        }
        var changed: [String] = []
        for (file, record) in zip(files, after) where record != file.record {
            try FileIO.writeAtomically(Array(record.text.utf8), to: file.statePath, mode: 0o644)
            changed.append("key \(record.tag) \(file.record.state.rawValue) -> \(record.state.rawValue)")
        }
        let reload = "reload or restart `veer serve --keys \(args.dir)` to serve the change"
        return "ok \(zone): " + changed.joined(separator: ", ") + "; " + reload
    }
}
