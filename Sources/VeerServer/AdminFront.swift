import Authority
import Posix
import Traffic

/// The admin socket's front: who may ask (the peer's uid and gid; over TLS, `ControlTLSFront`
/// judges the client's certificate with `ControlAccess`), then one handler per
/// command from `commands`. Commands that change state go to the plane as events; the others
/// are answered here from the status, the store's history or a reload. Replies start `ok` or
/// `error:`.
final class AdminFront: Sendable {
    /// One admin line, parsed, with who sent it.
    struct Request: Sendable {
        let command: AdminCommand
        /// The line without `--wait`, trimmed: what audit lines quote.
        let line: String
        /// Who asked: the socket peer's uid, or a TLS client's certificate subject.
        let requester: Requester
        /// `--wait`: answer once every live server sharing the store serves the change.
        let wait: Bool
    }

    /// A command's handler: the reply to `request`, or the error the reply names.
    typealias Handler = @Sendable (AdminFront, Request) throws(AdminError) -> String

    /// Every command and its handler, one entry each (Knot's control does the same).
    static let commands: [AdminCommand.Verb: Handler] = [
        .help: { (_, _) throws(AdminError) in "ok commands:\n" + AdminCommand.usage },
        .status: { (front, request) throws(AdminError) in try front.status(request) },
        .rolloutStatus: { (front, request) throws(AdminError) in try front.rolloutStatus(request) },
        .health: { (front, request) throws(AdminError) in try front.health(request) },
        .history: { (front, request) throws(AdminError) in try front.history(request) },
        .analysis: { (front, request) throws(AdminError) in try front.analysis(request) },
        .reload: { (front, request) throws(AdminError) in try front.reload(request) },
        .storeRestore: { (front, request) throws(AdminError) in try front.storeRestore(request) },
        .weight: { (front, request) throws(AdminError) in front.change(request) },
        .shift: { (front, request) throws(AdminError) in front.change(request) },
        .drain: { (front, request) throws(AdminError) in front.change(request) },
        .undo: { (front, request) throws(AdminError) in front.change(request) },
        .rolloutStart: { (front, request) throws(AdminError) in front.change(request) },
        .rolloutPause: { (front, request) throws(AdminError) in front.change(request) },
        .rolloutResume: { (front, request) throws(AdminError) in front.change(request) },
        .rolloutAbort: { (front, request) throws(AdminError) in front.change(request) },
    ]

    let allowedUIDs: Set<UInt32>
    let allowedGIDs: Set<UInt32>
    let loop: ControlLoop
    let reloader: Reloader
    let reports: StatusSource
    let store: any StateStore
    /// With a shared store: what `--wait` waits on.
    let shared: (any SharedStore)?
    let counters: CounterRegistry
    let box: SnapshotBox

    init(allowedUIDs: Set<UInt32>, allowedGIDs: Set<UInt32>, loop: ControlLoop, reloader: Reloader, reports: StatusSource,
         store: any StateStore, shared: (any SharedStore)?, counters: CounterRegistry, box: SnapshotBox) {
        self.allowedUIDs = allowedUIDs
        self.allowedGIDs = allowedGIDs
        self.loop = loop
        self.reloader = reloader
        self.reports = reports
        self.store = store
        self.shared = shared
        self.counters = counters
        self.box = box
    }

    /// Answers one admin line: `ok …` or `error: …`.
    func handle(_ line: String, peer: PeerCredentials) -> String {
        guard isAllowed(peer) else {
            Log.warning("admin: refused uid=\(peer.uid) gid=\(peer.gid) pid=\(peer.pid)")
            return "error: uid \(peer.uid) is not allowed on the admin socket (see --admin-allow-uid and --admin-allow-gid)"
        }
        return answer(line) { _ in .allowed(.uid(peer.uid)) }
    }

    /// Answers one admin line whose sender `decide` judges once the line is parsed (the TLS
    /// front's certificate scopes; the socket's peer is judged before).
    func answer(_ line: String, decide: (AdminCommand) -> ControlAccess.Verdict) -> String {
        let (line, wait) = AdminCommand.waitSwitch(line)
        do throws(AdminError) {
            let command = try AdminCommand.parse(line)
            let requester: Requester
            switch decide(command) {
            case .allowed(let allowed): requester = allowed
            case .refused(let reason): return "error: \(reason)"
            }
            let request = Request(command: command, line: AdminCommand.trimmed(line), requester: requester, wait: wait)
            guard let handler = Self.commands[command.verb] else { return "error: \(command.verb.rawValue) has no handler" }
            return try handler(self, request)
        } catch {
            return "error: \(error)"
        }
    }

    private func isAllowed(_ peer: PeerCredentials) -> Bool {
        peer.uid == 0 || peer.uid == Posix.Process.currentUID || allowedUIDs.contains(peer.uid)
            || allowedGIDs.contains(peer.gid)
    }

    // MARK: - Handlers

    /// `status [NAME] [json]`.
    private func status(_ request: Request) throws(AdminError) -> String {
        guard case .status(let name, let json) = request.command else { throw Self.misrouted(request) }
        return try reports.report().status(name: name, json: json)
    }

    /// `rollout status [NAME] [json]`.
    private func rolloutStatus(_ request: Request) throws(AdminError) -> String {
        guard case .rolloutStatus(let name, let json) = request.command else { throw Self.misrouted(request) }
        return try reports.report().rolloutStatus(name: name, json: json)
    }

    /// `health NAME [json]`.
    private func health(_ request: Request) throws(AdminError) -> String {
        guard case .health(let name, let json) = request.command else { throw Self.misrouted(request) }
        return json ? try reports.report().healthJSON(name: name) : try reports.report().healthReport(name: name)
    }

    /// `history [NAME] [N] [json]`: the store's audit lines, counted as changes.
    private func history(_ request: Request) throws(AdminError) -> String {
        guard case .history(let name, let limit, let json) = request.command else { throw Self.misrouted(request) }
        do {
            return HistoryReport(try store.history(name: name.map(NameKey.init), limit: limit)).reply(json: json)
        } catch {
            throw AdminError.badValue("\(error)")
        }
    }

    /// `reload`; with `--wait` and a shared store, answered once every server in the cluster
    /// serves the same zones (`waitUntilZonesAgree`).
    private func reload(_ request: Request) throws(AdminError) -> String {
        let errors = reloader.reload()
        guard errors.isEmpty else {
            throw AdminError.badValue("reload failed, still serving generation \(box.generation):\n" + errors.joined(separator: "\n"))
        }
        let reply = "ok reloaded, generation \(box.generation)"
        guard request.wait, let shared else { return reply }
        return shared.waitUntilZonesAgree(after: reply)
    }

    /// `store restore REASON`: this server's state (the last good one it serves) written
    /// over the unreadable shared state by compare-and-swap on the control queue, so no
    /// change of its own runs meanwhile; one audit line per weighted name.
    private func storeRestore(_ request: Request) throws(AdminError) -> String {
        guard case .storeRestore = request.command else { throw Self.misrouted(request) }
        guard let shared else {
            throw AdminError.badValue("store restore: this server has no shared store; its state directory is its only state")
        }
        let requester = request.requester, line = request.line
        let outcome: Result<String, AdminError> = loop.queue.sync {
            guard let bad = shared.reachability.unreadable else {
                return .failure(.badValue("store restore: the shared state reads as a state; nothing to restore"))
            }
            let now = loop.clock()
            let state = loop.latest { PersistedState(store: $0.store, rollouts: Array($0.rollouts.values), revision: $0.revision, seed: $0.seed) }
            let text = "restored revision \(state.revision) over unreadable revision \(bad.revision)"
            let names = state.store.names.isEmpty ? [NameKey(".")] : state.store.names.map { NameKey($0.name) }
            let audit = names.map { AuditEntry(at: now.wall / 1000, requester: requester, name: $0, text: text, reason: line) }
            do {
                let revision = try shared.restore(state, over: bad.revision, audit: audit)
                Log.warning("state: \(requester) \(text) as revision \(revision) reason=\"\(line)\"")
                return .success("ok restored this server's state (revision \(state.revision)) over the unreadable shared state "
                                + "(revision \(bad.revision)) as revision \(revision)")
            } catch {
                return .failure(.badValue("store restore: \(error)"))
            }
        }
        return try outcome.get()
    }

    /// A command that changes state: an event for the plane, whose reply is the answer; with
    /// `--wait` and a shared store, once every live server serves it.
    private func change(_ request: Request) -> String {
        let sample = request.command.isDryRunChange ? counters.cohortSamples() : []
        let reply = loop.send(.command(request.command, line: request.line, requester: request.requester, sample: sample)) ?? "error: no reply"
        guard request.wait, reply.hasPrefix("ok"), let shared else { return reply }
        return shared.waitUntilServed(loop.read { $0.revision }, after: reply)
    }

    /// A handler given another command than its own: `commands` has an entry wrong.
    static func misrouted(_ request: Request) -> AdminError {
        AdminError.badValue("\(request.command.verb.rawValue) reached the wrong handler")
    }
}
