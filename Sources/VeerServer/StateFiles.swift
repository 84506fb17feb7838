import Foundation
import Posix
import Synchronization
import Traffic

/// The state in the local state directory, the default `StateStore` of one server:
/// `weights.json`, replaced atomically (write temp → fsync → rename → fsync dir), and
/// `audit.log`, appended and fsynced, both before a command answers `ok`. Veer is the only
/// writer, so the revision to compare with is the one it last read or wrote.
///
/// The two files cannot change in one step, so `weights.json` carries the audit lines of the
/// change it holds (`pendingAudit`): when Veer dies after saving a change and before its audit
/// line is written (SIGKILL, power loss), the next start finds the line missing from the end
/// of `audit.log` and appends it. A change is then in both files or in neither.
final class FileStateStore: StateStore {
    let directory: String
    var path: String { directory + "/weights.json" }
    var auditPath: String { directory + "/audit.log" }
    var location: String { path }
    private let revision = Mutex<UInt64>(0)
    /// Audit lines of the saved state that `audit.log` lacks because writing them failed at
    /// start: written before the next change's.
    private let owed = Mutex<[String]>([])

    init(directory: String) throws(StoreError) {
        self.directory = directory
        do { try FileIO.makeDirectory(directory) } catch {
            throw StoreError(.io, "state directory: \(error)")
        }
    }

    /// The largest `weights.json` read: far above any real state (a name's entry is under
    /// 100 bytes per endpoint), and small enough that a runaway file cannot exhaust memory.
    static let maxStateBytes = 256 << 20
    /// How much of the end of `audit.log` `history` reads: the newest lines, bounded.
    static let maxHistoryBytes = 16 << 20

    func load() throws(StoreError) -> PersistedState? {
        try refuseLinkOrSpecialFile()
        guard FileIO.exists(path) else { return nil }
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path, limit: Self.maxStateBytes) } catch {
            throw StoreError(.io, "state file \(path): \(error)")
        }
        let document = try StateDocument.read(bytes, from: "state file \(path)")
        let state = try document.state(from: "state file \(path)", revision: nil)
        // A log that cannot be completed must not keep the server down: the lines are written
        // before the next change's.
        let pending = document.pendingAudit ?? []
        do {
            try completeAudit(pending, sizeBefore: document.auditSize ?? 0)
        } catch {
            Log.error("audit: \(error); the last change's \(pending.count) line(s) are written with the next change")
            owed.withLock { $0 = pending }
        }
        revision.withLock { $0 = state.revision }
        return state
    }

    /// Stops start-up when `weights.json` is a symbolic link (dangling or not) or not a
    /// regular file: it is replaced by rename, which would replace the link, not its target,
    /// and a dangling link would look like no saved state at all. (`audit.log` is appended
    /// through a link; a special file there fails each append and read, not start-up.)
    private func refuseLinkOrSpecialFile() throws(StoreError) {
        do { try FileIO.requirePlainFileOrAbsent(path) } catch {
            throw StoreError(.io, "state file \(path) is \(error): refusing to start; make it a regular file, "
                             + "or pass --state-dir the directory the link points into")
        }
    }

    /// Makes `audit.log` hold `pending`, the audit lines of the saved state's last change,
    /// which Veer (its only writer) was appending at offset `sizeBefore`: nothing when they
    /// are there or the log is shorter (rotated since: they went with the old file); the rest
    /// of them when only a start is there (a write cut short) or nothing is.
    private func completeAudit(_ pending: [String], sizeBefore: Int) throws(StoreError) {
        guard !pending.isEmpty else { return }
        let expected = Array(pending.map { $0 + "\n" }.joined().utf8)
        let bytes: [UInt8], size: Int
        do {
            (bytes, size) = try FileIO.read(auditPath, from: sizeBefore, maxBytes: expected.count)
        } catch {
            throw StoreError(.io, "audit log \(auditPath): \(error)")
        }
        guard size >= sizeBefore, bytes != expected else { return }
        guard expected.starts(with: bytes) else {
            Log.warning("audit: \(auditPath) was changed by something other than Veer after the last change; "
                        + "its \(pending.count) audit line(s) may be missing: \(pending.joined(separator: " | "))")
            return
        }
        do { try FileIO.appendAndSync(Array(expected[bytes.count...]), to: auditPath) } catch {
            throw StoreError(.io, "\(auditPath): \(error)")
        }
        Log.warning("audit: the last change was saved but not (fully) audited, Veer stopped in between; completed its \(pending.count) line(s)")
    }

    /// Writes `state` as it is, revision included: the local copy of a shared store's state.
    func replace(with state: PersistedState) throws(StoreError) {
        try revision.withLock { (current) throws(StoreError) in
            do {
                try FileIO.writeAtomically(StateDocument.encode(state, pretty: true) + [0x0A], to: path)
            } catch {
                throw StoreError(.io, "\(path): \(error)")
            }
            current = state.revision
        }
    }

    func save(_ store: WeightStore, rollouts: [Rollout], seed: CohortSeed, replacing expected: UInt64) throws(StoreError) -> UInt64 {
        try save(store, rollouts: rollouts, seed: seed, replacing: expected, pendingAudit: [])
    }

    /// Saves the state with the audit lines of its change (and any still owed), then appends
    /// those lines.
    func commit(_ request: PersistRequest) -> PersistOutcome {
        let owedLines = owed.withLock { $0 }
        let lines = owedLines + request.audit.map(\.line)
        let revision: UInt64
        do {
            revision = try save(request.store, rollouts: request.rollouts, seed: request.seed, replacing: request.revision,
                                pendingAudit: lines)
        } catch {
            if case .conflict = error.kind { return .conflict(error.text) }
            return .saveFailed(error.text)
        }
        do { try appendLines(lines) } catch {
            return .auditFailed(revision: revision, error.text)
        }
        owed.withLock { $0 = [] }
        return .saved(revision: revision)
    }

    private func save(_ store: WeightStore, rollouts: [Rollout], seed: CohortSeed, replacing expected: UInt64,
                      pendingAudit: [String]) throws(StoreError) -> UInt64 {
        try revision.withLock { (current) throws(StoreError) -> UInt64 in
            guard current == expected else {
                throw StoreError(.conflict(stored: current), "\(path) is at revision \(current), not \(expected)")
            }
            do {
                let state = PersistedState(store: store, rollouts: rollouts, revision: expected + 1, seed: seed)
                let auditSize = pendingAudit.isEmpty ? nil : (try? FileIO.size(auditPath)) ?? 0
                try FileIO.writeAtomically(StateDocument.encode(state, pretty: true, pendingAudit: pendingAudit, auditSize: auditSize)
                                           + [0x0A], to: path)
            } catch {
                throw StoreError(.io, "\(path): \(error)")
            }
            current = expected + 1
            return current
        }
    }

    func append(_ entries: [AuditEntry]) throws(StoreError) {
        try appendLines(entries.map(\.line))
    }

    private func appendLines(_ lines: [String]) throws(StoreError) {
        guard !lines.isEmpty else { return }
        let text = lines.map { $0 + "\n" }.joined()
        do { try FileIO.appendAndSync(Array(text.utf8), to: auditPath) } catch {
            throw StoreError(.io, "\(auditPath): \(error)")
        }
    }

    func history(name: NameKey?, limit: Int) throws(StoreError) -> [String] {
        guard FileIO.exists(auditPath) else { return [] }
        var lines: [String]
        do {
            let size = try FileIO.size(auditPath)
            let start = max(0, size - Self.maxHistoryBytes)
            let tail = try FileIO.read(auditPath, from: start, maxBytes: Self.maxHistoryBytes).bytes
            lines = String(decoding: tail, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            // Started inside a line: that line's start is older than the tail read.
            if start > 0, !lines.isEmpty { lines.removeFirst() }
        } catch {
            throw StoreError(.io, "reading \(auditPath): \(error)")
        }
        if let name {
            let needle = " \(name) "
            lines = lines.filter { $0.contains(needle) }
        }
        return Array(lines.suffix(limit))
    }
}
