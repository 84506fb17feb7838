// Signs one zone's RRsets ahead of serving, reusing cached signatures that are still fresh.
import Dispatch
import DNSWire
import Posix
import Synchronization

/// Signs one zone's RRsets with a signature cache: the same RRset (owner, type, TTL, RDATA, key
/// tag) whose cached RRSIG is still fresh under the policy is not signed again.
///
/// Every key in `keys.signing` signs every set; keys in `keys.signingDNSKEYOnly` sign the apex
/// DNSKEY RRset too. Signing spreads over the processors; the signer may be shared between
/// threads, calls to `sign` are serialised by the caller's use (the counters are atomic).
public final class ZoneSigner: Sendable {
    /// The zone's keys.
    public let keys: ZoneKeys
    /// Validity and renewal.
    public let policy: SignaturePolicy
    /// Where signatures are looked up and kept.
    public let cache: SignatureCache
    private let made = Atomic<Int>(0)
    private let refresh = Mutex<UInt32>(0)

    /// A signer for `keys`.
    public init(keys: ZoneKeys, policy: SignaturePolicy, cache: SignatureCache) {
        self.keys = keys
        self.policy = policy
        self.cache = cache
    }

    /// The DNSKEY RRset at the apex (all published keys), to be signed with the others.
    public func dnskeyRRset(ttl: UInt32) -> RRsetToSign {
        RRsetToSign(owner: keys.apex, type: RRType(rawValue: RRTypeNumber.dnskey), originalTTL: ttl,
                    rdatas: keys.published.map(\.dnskeyRDATA))
    }

    /// The earliest time one of the signatures made or reused by the last `sign` must be renewed.
    public var nextRefresh: UInt32 { refresh.withLock { $0 } }

    /// How many signatures were made (not taken from the cache) since init: metrics and log.
    public var signaturesMade: Int { made.load(ordering: .relaxed) }

    /// The keys that sign `set`.
    func signers(for set: RRsetToSign) -> [SigningKey] {
        if set.type.rawValue == RRTypeNumber.dnskey && set.owner == keys.apex {
            return keys.signing + keys.signingDNSKEYOnly
        }
        return keys.signing
    }

    /// One list of RRSIG RDATA (uncompressed wire) per input set, in the same order.
    public func sign(_ sets: [RRsetToSign], now: UInt32) throws -> [[[UInt8]]] {
        if let problem = policy.problem { throw DNSSECError(problem) }
        cache.note(now: now)
        let results = Results(count: sets.count)
        let chunks = min(sets.count, max(1, Process.cpuCount * 4))
        let firstError = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let range = (sets.count * chunk / chunks)..<(sets.count * (chunk + 1) / chunks)
            for index in range {
                do {
                    results.store(index, try signOne(sets[index], now: now))
                } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                    return
                }
            }
        }
        if let error = firstError.withLock({ $0 }) { throw error }
        refresh.withLock { $0 = results.earliest(after: now, default: now &+ policy.validity) }
        return results.rrsigs
    }

    /// The RRSIGs of one set, each from the cache when fresh, else made now; and the earliest
    /// renewal time among them.
    func signOne(_ set: RRsetToSign, now: UInt32) throws(DNSSECError) -> (rrsigs: [[UInt8]], renew: UInt32?) {
        var rrsigs: [[UInt8]] = []
        var renew: UInt32? = nil
        let records = set.canonicalRecords()
        for key in signers(for: set) {
            let cacheKey = SignatureKey(try CryptoCall.digest(bits: 256, key.dnskeyRDATA + keys.apex.lowercasedWire + records))
            let margin = policy.margin(seed: cacheKey.seed)
            var rdata: [UInt8]
            if let cached = cache.lookup(cacheKey), let rrsig = try? RRSIG(rdata: cached), fresh(rrsig, margin: margin, now: now) {
                rdata = cached
            } else {
                rdata = try RRSIG.make(set, key: key, signer: keys.apex, inception: now &- policy.inceptionOffset,
                                       expiration: now &+ policy.validity).rdata
                cache.store(cacheKey, rdata, now: now)
                made.add(1, ordering: .relaxed)
            }
            let expiration = Canonical.read32(rdata, 8)
            let due = expiration &- margin
            if renew == nil || Int32(bitPattern: due &- renew!) < 0 { renew = due }
            rrsigs.append(rdata)
        }
        return (rrsigs, renew)
    }

    /// Whether a cached signature may be served on: already valid, and more than `margin`
    /// seconds from expiry.
    func fresh(_ rrsig: RRSIG, margin: UInt32, now: UInt32) -> Bool {
        Int32(bitPattern: now &- rrsig.inception) >= 0
            && Int64(Int32(bitPattern: rrsig.expiration &- now)) > Int64(margin)
    }
}

/// Per-set results written from several threads, each index by exactly one.
private final class Results: @unchecked Sendable {
    let rrsigSlots: UnsafeMutableBufferPointer<[[UInt8]]>
    let renewSlots: UnsafeMutableBufferPointer<UInt32?>

    init(count: Int) {
        rrsigSlots = .allocate(capacity: count)
        rrsigSlots.initialize(repeating: [])
        renewSlots = .allocate(capacity: count)
        renewSlots.initialize(repeating: nil)
    }

    deinit {
        rrsigSlots.deinitialize().deallocate()
        renewSlots.deinitialize().deallocate()
    }

    func store(_ index: Int, _ value: (rrsigs: [[UInt8]], renew: UInt32?)) {
        rrsigSlots[index] = value.rrsigs
        renewSlots[index] = value.renew
    }

    var rrsigs: [[[UInt8]]] { Array(rrsigSlots) }

    /// The earliest renewal, compared in serial arithmetic.
    func earliest(after now: UInt32, default fallback: UInt32) -> UInt32 {
        var best: UInt32? = nil
        for case let due? in renewSlots where best == nil || Int32(bitPattern: due &- best!) < 0 { best = due }
        return best ?? fallback
    }
}
