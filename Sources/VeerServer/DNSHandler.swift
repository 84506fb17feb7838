import DNSWire
import Authority
import Posix
import Traffic

/// What every server thread applies to every query, from the command line.
struct QueryPolicy: Sendable {
    var maxUDPPayload = EDNS.defaultPayload
    var status = StatusQueryPolicy(prefixes: [])
    /// Shared by every UDP thread; nil: no rate limiting.
    var rateLimiter: RateLimiter?
    /// Sources never rate limited: loopback unless `--rrl-exempt` names others.
    var rateLimitExempt = ExemptNetworks([])
    /// Nil turns DNS cookies off.
    var cookieSecret: CookieSecret?
}

/// Connects a socket loop to a `Responder`: one per server thread. Before each query it
/// checks the published generation (one atomic load) and picks up a new snapshot only
/// when it moved. UDP answers pass the rate limiter unless the client is exempt or proved
/// its address with a server cookie; TCP answers never do (TCP cannot be forged).
final class DNSHandler: PacketHandler {
    private let box: SnapshotBox
    private let responder: Responder<FastRandom>
    private let counterRegistry: CounterRegistry
    /// This thread's served-answer counters by endpoint slot.
    private var served: ServedCounters
    /// Answers of `select=client` names by slot and key kind, and the keys seen.
    private var servedByKind: ServedCounters
    private let cohorts: CohortSampler
    private let queries: QueryCounters
    private let policy: QueryPolicy
    private var generation: UInt64

    init(box: SnapshotBox, counters: CounterRegistry, policy: QueryPolicy) {
        self.box = box
        self.policy = policy
        queries = counters.makeQueryBlock()
        let snapshot = box.current
        counterRegistry = counters
        generation = snapshot.generation
        served = counters.makeBlock(capacity: Self.capacity(for: snapshot))
        servedByKind = counters.makeKindBlock(capacity: Self.capacity(for: snapshot))
        cohorts = counters.makeSampler()
        responder = Responder(snapshot: snapshot, random: FastRandom(), maxUDPPayload: policy.maxUDPPayload,
                              cookieSecret: policy.cookieSecret,
                              clock: { UInt32(truncatingIfNeeded: Clock.wallSeconds()) })
    }

    /// Room for every slot of `snapshot`, with headroom so reloads rarely need a new block.
    private static func capacity(for snapshot: Snapshot) -> Int {
        max(64, snapshot.zones.slotCount * 2)
    }

    func handle(query: UnsafeRawBufferPointer, response: UnsafeMutableRawBufferPointer,
                transport: Transport, peer: SocketAddress) -> Int {
        let published = box.generation
        if published != generation { refresh() }
        let tcp = transport == .tcp
        let words = peer.addressWords
        let client = ClientAddress(ipv6: peer.isIPv6, high: words.high, low: words.low)
        let answer = responder.respond(to: query, into: response, overTCP: tcp, resolver: client,
                                       statusAllowed: policy.status.allows(peer))
        if answer.length == 0 {
            queries.countDropped(tcp: tcp)
            return 0
        }
        if !tcp, let limiter = policy.rateLimiter, answer.cookie != .valid, !policy.rateLimitExempt.contains(client) {
            let kind = RateLimiter.Kind.of(rcode: answer.rcode, flags: UInt16(response[2]) << 8 | UInt16(response[3]))
            switch limiter.decide(client: client, kind: kind, token: answer.subject, nowMs: Clock.coarseMilliseconds()) {
            case .send:
                break
            case .countOnly:
                queries.countLimited(kind: kind.rawValue, slipped: false)
            case .drop:
                queries.countLimited(kind: kind.rawValue, slipped: false)
                return 0
            case .slip:
                let slipped = RateLimiter.truncate(response, length: answer.length)
                queries.countLimited(kind: kind.rawValue, slipped: slipped > 0)
                return slipped
            }
        }
        queries.countAnswered(tcp: tcp, rcode: Int(answer.rcode.rawValue & Header.rcodeMask))
        let slot = Int(answer.chosenSlot)
        if slot >= 0 && slot < served.capacity {
            served.increment(slot)
            if answer.cohortKey != .none {
                servedByKind.increment(2 * slot + (answer.cohortKey.isECS ? 0 : 1))
                cohorts.record(answer.cohortKey, slot: slot)
            }
        }
        return answer.length
    }

    /// No query for a while: pick up a newer snapshot anyway, so the old one (a whole zone
    /// set after a reload) is freed now rather than at this thread's next query.
    func idle() {
        if box.generation != generation { refresh() }
    }

    private func refresh() {
        let snapshot = box.current
        generation = snapshot.generation
        responder.snapshot = snapshot
        if served.capacity < snapshot.zones.slotCount {
            served = counterRegistry.makeBlock(capacity: Self.capacity(for: snapshot))
            servedByKind = counterRegistry.makeKindBlock(capacity: Self.capacity(for: snapshot))
        }
    }
}
