/// What a store shared by several servers can do beyond `StateStore`: it knows the live
/// servers, the leader and this server's place among them, and it tells the control edge
/// what the others do. Handed to whoever needs it (status, `--wait`, shared health); a
/// server on its local state directory has none, so nothing asks a store what it is.
public protocol SharedStore: Sendable {
    /// This server's name among those sharing the store.
    var serverID: String { get }

    /// Whether the store answers, for `status` and metrics.
    var reachability: StoreReachability { get }

    /// The server that drives rollouts and rollbacks, if one is elected.
    var leader: String? { get }

    /// The live servers, each with the revision it serves.
    func servers() throws(StoreError) -> [SharedServer]

    /// Says this server now serves `revision` (published with its lease).
    func serving(revision: UInt64)

    /// `reply` once every live server serves `revision`, or an error naming those that do not
    /// after a while (`--wait`).
    func waitUntilServed(_ revision: UInt64, after reply: String) -> String

    /// The cluster as the store last said it (registrations, their zones, `--cluster`):
    /// kept up to date by following the store, so reading it asks nothing.
    var cluster: ClusterMembership { get }

    /// Says which zones this server serves now (published with its lease when they change).
    func servingZones(_ zones: [String: ZoneSummary])

    /// `reply` once every member (expected, or live) serves the zones this server serves, or
    /// an error naming those that do not after a while (`reload --wait`).
    func waitUntilZonesAgree(after reply: String) -> String

    /// This server's probe verdicts (endpoint key → up/down/unknown), for the others' quorum.
    func publishHealth(_ verdicts: [String: String])

    /// When this server last answered each endpoint at weight 0 (name, endpoint id, what it
    /// saw), for the cluster-wide drain report. Written only when it changes.
    func publishDrain(_ seen: [(name: String, id: String, seen: DrainWatch.Seen)])

    /// Writes `state` (this server's last good one) over the unreadable value at `revision`,
    /// with `audit`, by compare-and-swap: nothing is written if the store moved since.
    /// Returns the new revision.
    func restore(_ state: PersistedState, over revision: UInt64, audit: [AuditEntry]) throws(StoreError) -> UInt64

    /// Starts following the store: `callbacks` hear every state another server saves, the
    /// leadership, and every server's verdicts.
    func start(_ callbacks: SharedStoreCallbacks)
}

/// One live server sharing the store.
public struct SharedServer: Sendable, Equatable {
    /// Its `--server-id`.
    public var id: String
    /// The revision of the shared state it serves.
    public var revision: UInt64
    /// When it last said so, Unix milliseconds.
    public var at: Int64

    public init(id: String, revision: UInt64, at: Int64) {
        self.id = id
        self.revision = revision
        self.at = at
    }
}

/// What a shared store tells the control edge.
public struct SharedStoreCallbacks: Sendable {
    /// A state another server saved.
    public var state: @Sendable (PersistedState) -> Void
    /// This server leads (true) or another one does (false).
    public var leadership: @Sendable (Bool) -> Void
    /// Every live server's verdicts (its own included): server → endpoint key → up/down/unknown.
    public var health: @Sendable ([String: [String: String]]) -> Void
    /// What another server saw of the drained endpoints.
    public var drain: @Sendable ([EndpointKey: DrainWatch.Seen]) -> Void

    public init(state: @escaping @Sendable (PersistedState) -> Void, leadership: @escaping @Sendable (Bool) -> Void,
                health: @escaping @Sendable ([String: [String: String]]) -> Void,
                drain: @escaping @Sendable ([EndpointKey: DrainWatch.Seen]) -> Void = { _ in }) {
        self.state = state
        self.leadership = leadership
        self.health = health
        self.drain = drain
    }
}
