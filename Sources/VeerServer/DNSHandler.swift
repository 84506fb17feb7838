import DNSWire
import Authority
import Posix
import Traffic

/// Connects a socket loop to a `Responder`: one per server thread. Before each query it
/// checks the published generation (one atomic load) and picks up a new snapshot only
/// when it moved.
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
    private let statusPolicy: StatusQueryPolicy
    private var generation: UInt64

    init(box: SnapshotBox, counters: CounterRegistry, maxUDPPayload: UInt16, statusPolicy: StatusQueryPolicy) {
        self.box = box
        self.statusPolicy = statusPolicy
        queries = counters.makeQueryBlock()
        let snapshot = box.current
        counterRegistry = counters
        generation = snapshot.generation
        served = counters.makeBlock(capacity: Self.capacity(for: snapshot))
        servedByKind = counters.makeKindBlock(capacity: Self.capacity(for: snapshot))
        cohorts = counters.makeSampler()
        responder = Responder(snapshot: snapshot, random: FastRandom(), maxUDPPayload: maxUDPPayload)
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
        let answer = responder.respond(to: query, into: response, overTCP: tcp,
                                       resolver: ClientAddress(ipv6: peer.isIPv6, high: words.high, low: words.low),
                                       statusAllowed: statusPolicy.allows(peer))
        if answer.length == 0 {
            queries.countDropped(tcp: tcp)
            return 0
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
