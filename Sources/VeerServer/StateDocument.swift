import Foundation
import Traffic

/// The saved form of the state, in `weights.json` and in a shared store: as today's and
/// earlier servers write it (`revision`, `rollouts` and `seed` are absent in older files).
struct StateDocument: Codable {
    static let formatVersion = 1

    var version: Int
    var revision: UInt64?
    var names: [WeightStore.Name]
    /// Rollouts, active and finished (the last one of each name).
    var rollouts: [Rollout]?
    /// The cohort seed, 32 hex digits.
    var seed: String?
    /// Who made the last change, for a conflict's message (shared stores only).
    var lastChange: String?
    /// The audit lines of the change this state holds, until `audit.log` surely has them,
    /// and the log's size before they were appended (the state directory only; see
    /// `FileStateStore`).
    var pendingAudit: [String]?
    var auditSize: Int?

    static func encode(_ state: PersistedState, pretty: Bool, lastChange: String? = nil, pendingAudit: [String] = [],
                       auditSize: Int? = nil) throws -> [UInt8] {
        try JSON.encode(StateDocument(version: formatVersion, revision: state.revision, names: state.store.names,
                                      rollouts: state.rollouts, seed: state.seed?.description, lastChange: lastChange,
                                      pendingAudit: pendingAudit.isEmpty ? nil : pendingAudit, auditSize: auditSize),
                        pretty: pretty)
    }

    /// Reads a saved state; `what` names it in errors. `revision` overrides the saved one
    /// (a shared store's own revision counts there).
    static func decode(_ bytes: [UInt8], from what: String, revision: UInt64?) throws(StoreError) -> PersistedState {
        try read(bytes, from: what).state(from: what, revision: revision)
    }

    static func read(_ bytes: [UInt8], from what: String) throws(StoreError) -> StateDocument {
        let document: StateDocument
        do {
            document = try JSONDecoder().decode(StateDocument.self, from: Data(bytes))
        } catch {
            throw StoreError(.corrupt, "\(what) is corrupt (\(Self.describe(error))); repair it or move it away to start from the zone weights")
        }
        guard document.version == formatVersion else {
            throw StoreError(.corrupt, "\(what): format version \(document.version), this veer reads \(formatVersion)")
        }
        return document
    }

    /// The state this document holds, once it passes `StateValidation`: a document that
    /// decodes but holds what no command could have made (an undo entry longer than its
    /// name, a weight above the largest) is as corrupt as one that does not decode.
    func state(from what: String, revision: UInt64?) throws(StoreError) -> PersistedState {
        do { try StateValidation.check(names: names, rollouts: rollouts ?? []) } catch {
            throw StoreError(.corrupt, "\(what): \(error.text)")
        }
        var seed: CohortSeed?
        if let text = self.seed {
            guard let parsed = CohortSeed(hex: text) else {
                throw StoreError(.corrupt, "\(what): seed must be 32 lowercase hex digits, found \"\(text)\"")
            }
            seed = parsed
        }
        return PersistedState(store: WeightStore(names: names), rollouts: rollouts ?? [], revision: revision ?? self.revision ?? 0, seed: seed)
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context), DecodingError.keyNotFound(_, let context),
             DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = fieldPath(context.codingPath)
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }

    /// `names[0].endpoints[1].weight`: a coding path as the document spells it.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }
}
