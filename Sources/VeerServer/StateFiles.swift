import Foundation
import Posix
import Synchronization
import Traffic

/// The state in the local state directory, the default `StateStore` of one server:
/// `weights.json`, replaced atomically (write temp → fsync → rename → fsync dir), and
/// `audit.log`, appended and fsynced, both before a command answers `ok`. Veer is the only
/// writer, so the revision to compare with is the one it last read or wrote.
final class FileStateStore: StateStore {
    static let formatVersion = 1
    let directory: String
    var path: String { directory + "/weights.json" }
    var auditPath: String { directory + "/audit.log" }
    var location: String { path }
    private let revision = Mutex<UInt64>(0)

    /// The saved form, as today's and earlier servers write it; `revision` is absent in
    /// files from before it was kept.
    private struct Contents: Codable {
        var version: Int
        var revision: UInt64?
        var names: [WeightStore.Name]
        /// Rollouts, active and finished (the last one of each name); absent in older files.
        var rollouts: [Rollout]?
        /// The cohort seed, 32 hex digits; absent in older files.
        var seed: String?
    }

    init(directory: String) throws(StoreError) {
        self.directory = directory
        do { try FileIO.makeDirectory(directory) } catch {
            throw StoreError(.io, "state directory: \(error)")
        }
    }

    func load() throws(StoreError) -> PersistedState? {
        guard FileIO.exists(path) else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path) } catch {
            throw StoreError(.io, "state file \(path): \(error)")
        }
        let contents: Contents
        do {
            contents = try JSONDecoder().decode(Contents.self, from: Data(bytes))
        } catch {
            throw StoreError(.corrupt, "state file \(path) is corrupt (\(Self.describe(error))); repair it or move it away to start from the zone weights")
        }
        guard contents.version == Self.formatVersion else {
            throw StoreError(.corrupt, "state file \(path): format version \(contents.version), this veer reads \(Self.formatVersion)")
        }
        var seed: CohortSeed?
        if let text = contents.seed {
            guard let parsed = CohortSeed(hex: text) else {
                throw StoreError(.corrupt, "state file \(path): seed must be 32 lowercase hex digits, found \"\(text)\"")
            }
            seed = parsed
        }
        let state = PersistedState(store: WeightStore(names: contents.names), rollouts: contents.rollouts ?? [],
                                   revision: contents.revision ?? 0, seed: seed)
        revision.withLock { $0 = state.revision }
        return state
    }

    func save(_ store: WeightStore, rollouts: [Rollout], seed: CohortSeed, replacing expected: UInt64) throws(StoreError) -> UInt64 {
        try revision.withLock { (current) throws(StoreError) -> UInt64 in
            guard current == expected else {
                throw StoreError(.conflict(stored: current), "\(path) is at revision \(current), not \(expected)")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do {
                let data = try encoder.encode(Contents(version: Self.formatVersion, revision: expected + 1, names: store.names,
                                                       rollouts: rollouts.sorted { $0.name < $1.name }, seed: seed.description))
                try FileIO.writeAtomically(Array(data) + [0x0A], to: path)
            } catch {
                throw StoreError(.io, "\(path): \(error)")
            }
            current = expected + 1
            return current
        }
    }

    func append(_ entries: [AuditEntry]) throws(StoreError) {
        guard !entries.isEmpty else { return }
        let text = entries.map { $0.line + "\n" }.joined()
        do { try FileIO.appendAndSync(Array(text.utf8), to: auditPath) } catch {
            throw StoreError(.io, "\(auditPath): \(error)")
        }
    }

    func history(name: NameKey?, limit: Int) throws(StoreError) -> [String] {
        guard FileIO.exists(auditPath) else { return [] }
        let text: String
        do { text = String(decoding: try FileIO.read(auditPath), as: UTF8.self) } catch {
            throw StoreError(.io, "reading \(auditPath): \(error)")
        }
        var lines = text.split(separator: "\n").map(String.init)
        if let name {
            let needle = " \(name) "
            lines = lines.filter { $0.contains(needle) }
        }
        return Array(lines.suffix(limit))
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
