/// What is persisted of the control plane: the weights with their undo stacks and the
/// rollouts, at a revision that grows with every save.
public struct PersistedState: Sendable, Equatable {
    public var store: WeightStore
    /// Sorted by name.
    public var rollouts: [Rollout]
    public var revision: UInt64
    /// The cohort hash key (`select=client`); nil in states saved before it was kept.
    public var seed: CohortSeed?

    public init(store: WeightStore, rollouts: [Rollout], revision: UInt64, seed: CohortSeed? = nil) {
        self.store = store
        self.rollouts = rollouts.sorted { $0.name < $1.name }
        self.revision = revision
        self.seed = seed
    }
}

/// One audit line: a weight change (`new 0 -> 25`) or an event (`rollout to new paused …`).
public struct AuditEntry: Sendable, Equatable {
    /// Unix seconds.
    public let at: Int64
    /// Who asked; nil when Veer itself acted (health, rollout clock, reload).
    public let requester: Requester?
    public let name: NameKey
    public let text: String
    public let reason: String

    public init(at: Int64, requester: Requester?, name: NameKey, text: String, reason: String) {
        self.at = at
        self.requester = requester
        self.name = name
        self.text = text
        self.reason = reason
    }

    /// `2026-11-23T19:20:00Z uid=1000 api.example.com. new 0 -> 25 reason="shift api.example.com new 25%"`, or
    /// `cert=deploy-bot` in place of `uid=1000` for a change over TLS.
    public var line: String {
        let quoted = reason.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        return "\(Timestamp.text(at)) \(requester.map(\.description) ?? "uid=veer") \(name) \(text) reason=\"\(quoted)\""
    }
}

/// Why a store refused or failed.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The stored revision is not the one the save expected: someone else saved first.
        case conflict(stored: UInt64)
        /// Reading or writing failed (errno name and what was being done in the text).
        case io
        /// What is stored cannot be read back as a state.
        case corrupt
    }

    public let kind: Kind
    public let text: String

    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }

    public var description: String { text }
}

/// Where the control plane's state lives: load at start, compare-and-save by revision with
/// the change's audit lines, the audit history. The local state directory is one; etcd,
/// shared by several servers, is the other, and what it can do beyond this is `SharedStore`.
public protocol StateStore: Sendable {
    /// Where it is, for messages: a path or an address.
    var location: String { get }

    /// The saved state, or nil when nothing was saved yet. A state that exists but cannot be
    /// read stops start-up: silently resetting production weights would undo a migration.
    func load() throws(StoreError) -> PersistedState?

    /// The last `limit` audit lines, only those about `name` if given.
    func history(name: NameKey?, limit: Int) throws(StoreError) -> [String]

    /// Saves and audits `request` as one change: the state if the stored revision is still
    /// `request.revision`, then its audit lines, durable before it returns. A shared store
    /// does both in one transaction.
    func commit(_ request: PersistRequest) -> PersistOutcome
}

/// A shared store's health as operators see it.
public struct StoreReachability: Sendable, Equatable {
    /// `etcd http://127.0.0.1:2379 /veer/`.
    public var location: String
    public var reachable: Bool
    /// Unix milliseconds of the last change between reachable and not.
    public var since: Int64
    /// What failed last, while unreachable.
    public var error: String?
    /// The shared state the store holds does not read as a state: it is not adopted, and
    /// changes are refused until it is restored.
    public var unreadable: UnreadableState?

    public init(location: String, reachable: Bool, since: Int64, error: String?, unreadable: UnreadableState? = nil) {
        self.location = location
        self.reachable = reachable
        self.since = since
        self.error = error
        self.unreadable = unreadable
    }
}

/// A shared state that cannot be served: it does not decode, or it fails
/// `StateValidation`. Servers keep serving their last good state; changes are refused,
/// since a compare-and-swap over a state nobody can read would guess what it replaces.
public struct UnreadableState: Sendable, Equatable {
    /// The store's revision of the unreadable value: what a restore replaces.
    public var revision: UInt64
    /// When this server first found it unreadable, Unix milliseconds.
    public var since: Int64
    /// Why: the field and the reason, or the decoder's error.
    public var reason: String

    /// The value at `revision`, found unreadable at `since` (Unix ms) for `reason`.
    public init(revision: UInt64, since: Int64, reason: String) {
        self.revision = revision
        self.since = since
        self.reason = reason
    }

    /// The answer to a change while it lasts, with the way out.
    public func refusal(_ location: String) -> String {
        "the shared state in \(location) is unreadable since \(Timestamp.text(since / 1000)) (revision \(revision): \(reason)); "
            + "this server keeps serving its last good state and refuses changes until "
            + "`veer store restore REASON` on a server that serves the good state writes it back"
    }
}

/// UTC timestamps with seconds, RFC 3339 (`2026-11-22T10:00:00Z`), without Foundation.
public enum Timestamp {
    public static func text(_ unixSeconds: Int64) -> String {
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let secondOfDay = unixSeconds - days * 86_400
        // Days to a proleptic Gregorian date (the era-based civil-from-days algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60))Z"
    }
}
