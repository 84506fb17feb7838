import Foundation
import Posix
import Traffic

/// The runtime weights on disk: `STATE_DIR/weights.json`, replaced atomically
/// (write temp → fsync → rename → fsync dir) before a command answers `ok`.
struct StateFile {
    static let formatVersion = 1
    let path: String

    private struct Contents: Codable {
        var version: Int
        var names: [WeightStore.Name]
        /// Rollouts, active and finished (the last one of each name); absent in older files.
        var rollouts: [Rollout]?
    }

    /// What the file holds.
    struct Saved {
        var store: WeightStore
        var rollouts: [Rollout]
    }

    /// The saved store; nil when there is none yet. A file that exists but cannot be read or
    /// decoded stops start-up: silently resetting production weights to the zone defaults
    /// would undo a migration.
    func load() throws(StartupError) -> Saved? {
        guard FileIO.exists(path) else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path) } catch {
            throw StartupError(lines: ["state file \(path): \(error)"])
        }
        do {
            let contents = try JSONDecoder().decode(Contents.self, from: Data(bytes))
            guard contents.version == Self.formatVersion else {
                throw StartupError(lines: ["state file \(path): format version \(contents.version), this veer reads \(Self.formatVersion)"])
            }
            return Saved(store: WeightStore(names: contents.names), rollouts: contents.rollouts ?? [])
        } catch let error as StartupError {
            throw error
        } catch {
            throw StartupError(lines: ["state file \(path) is corrupt (\(Self.describe(error))); repair it or move it away to start from the zone weights"])
        }
    }

    func save(_ store: WeightStore, rollouts: [Rollout]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(Contents(version: Self.formatVersion, names: store.names,
                                               rollouts: rollouts.sorted { $0.name < $1.name }))
        try FileIO.writeAtomically(Array(data) + [0x0A], to: path)
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.keyNotFound(_, let context),
             DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

/// The append-only audit log, `STATE_DIR/audit.log`: one line per weight change, fsynced
/// before the command answers `ok`:
/// `2026-11-23T19:20:00Z uid=1000 api.example.com. new 0 -> 25 reason="shift api.example.com new 25%"`
struct AuditLog {
    let path: String

    /// One line that is not a weight change: `api.example.com. rollout paused`.
    struct Event {
        let name: String
        let text: String
    }

    func append(_ changes: [WeightStore.Change], events: [Event] = [], uid: UInt32?, reason: String, at time: Int64) throws {
        let who = uid.map { "uid=\($0)" } ?? "uid=veer"
        let quoted = reason.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let lines = (events.map { "\($0.name) \($0.text)" } + changes.map { "\($0.name) \($0.endpoint) \($0.old) -> \($0.new)" })
            .map { "\(Log.timestamp(time)) \(who) \($0) reason=\"\(quoted)\"\n" }.joined()
        try FileIO.appendAndSync(Array(lines.utf8), to: path)
    }

    /// The last `limit` lines, optionally only those about `name`.
    func tail(name: String?, limit: Int) throws -> [String] {
        guard FileIO.exists(path) else { return [] }
        let text = String(decoding: try FileIO.read(path), as: UTF8.self)
        var lines = text.split(separator: "\n").map(String.init)
        if let name {
            let key = " " + WeightStore.key(name) + " "
            lines = lines.filter { $0.contains(key) }
        }
        return Array(lines.suffix(limit))
    }
}
