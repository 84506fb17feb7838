import Authority
import DNSSEC
import DNSWire
import Posix
import Synchronization

/// `veer serve --keys DIR`: signs the zones that have keys in DIR where zones are loaded (at
/// start, on reload) and when the plane asks for renewal (`.resign`). Each zone's signatures
/// are kept in a cache, in memory and under `<state-dir>/signatures/`, so a restart, a reload
/// or a renewal signs only the RRsets that changed or near expiry. One log line per zone
/// signed; the totals feed `/metrics`.
final class ZoneSigning: Sendable {
    let keysDirectory: String
    let policy: SignaturePolicy
    /// Where the caches are saved; nil keeps them in memory only.
    let cacheDirectory: String?
    private let caches = Mutex<[DomainName: SignatureCache]>([:])
    /// Signatures made since start (not taken from a cache).
    private let made = Atomic<Int>(0)
    /// When the served signatures are next due for renewal (Unix seconds), 0 before any.
    private let nextRefresh = Atomic<Int64>(0)
    /// Passes that failed (keys unreadable, a signing error): the old signatures stay.
    private let failures = Atomic<Int>(0)
    /// The published keys of each zone the last pass that succeeded signed, for `status`.
    private let keysServed = Mutex<[DomainName: [KeyRecord]]>([:])

    init(keysDirectory: String, policy: SignaturePolicy, cacheDirectory: String?) {
        self.keysDirectory = keysDirectory
        self.policy = policy
        self.cacheDirectory = cacheDirectory
    }

    /// The time signing takes as now: Unix seconds, in serial arithmetic (RFC 4034 §3.1.5).
    static var now: UInt32 { UInt32(truncatingIfNeeded: Clock.wallSeconds()) }

    /// Signs the zones of `data` that have keys (reading the keys again, so `veer keys`
    /// changes take effect): the signatures to publish with it, nil when no zone has keys,
    /// when they are next due, and the published keys of each zone signed. Throws, naming the
    /// zone, when keys or signing fail (what `status` shows of the keys stays as it was).
    func sign(_ data: ZoneData, now: UInt32 = ZoneSigning.now) throws
        -> (signatures: ZoneSignatures?, refreshAt: UInt32?, keys: [DomainName: [KeyRecord]]) {
        let keys: [DomainName: ZoneKeys]
        do {
            keys = try KeyDirectory.load(keysDirectory, now: now)
        } catch {
            failures.add(1, ordering: .relaxed)
            throw error
        }
        let plan = SigningPlan(data, dnskeys: keys.mapValues { $0.published.map(\.dnskeyRDATA) })
        let signedKeys = Dictionary(uniqueKeysWithValues: plan.zones.compactMap { zone in keys[zone.origin].map { (zone.origin, $0.records) } })
        guard !plan.zones.isEmpty else {
            keysServed.withLock { $0 = [:] }
            return (nil, nil, [:])
        }
        var all: [[[[UInt8]]]] = []
        var refreshAt: UInt32?
        var madeNow = 0
        for zone in plan.zones {
            let started = Clock.now()
            let signer = ZoneSigner(keys: keys[zone.origin]!, policy: policy, cache: cache(for: zone.origin))
            let sets = zone.sets.map { RRsetToSign(owner: $0.owner, type: $0.type, originalTTL: $0.ttl, rdatas: $0.rdatas) }
            let signatures: [[[UInt8]]]
            do {
                signatures = try signer.sign(sets, now: now)
            } catch {
                failures.add(1, ordering: .relaxed)
                throw DNSSECError("signing \(zone.origin): \(error)")
            }
            do { try signer.cache.save() } catch { Log.warning("dnssec: \(zone.origin): signature cache not saved: \(error)") }
            let count = signatures.reduce(0) { $0 + $1.count }
            let ms = (Clock.now() - started) / 1_000_000
            Log.info("dnssec: \(zone.origin) signed: \(sets.count) RRsets, \(signer.signaturesMade) signatures made, "
                     + "\(count - signer.signaturesMade) reused, \(ms) ms, next renewal in \(Int64(Int32(bitPattern: signer.nextRefresh &- now))) s")
            madeNow += signer.signaturesMade
            if refreshAt == nil || Int32(bitPattern: signer.nextRefresh &- refreshAt!) < 0 { refreshAt = signer.nextRefresh }
            all.append(signatures)
        }
        made.add(madeNow, ordering: .relaxed)
        keysServed.withLock { $0 = signedKeys }
        if let refreshAt { nextRefresh.store(Int64(now) + Int64(Int32(bitPattern: refreshAt &- now)), ordering: .relaxed) }
        return (ZoneSignatures(plan, signatures: all, over: data, made: madeNow), refreshAt, signedKeys)
    }

    /// The published keys (tag, algorithm, state) of each zone the last good pass signed.
    func servedKeys() -> [DomainName: [KeyRecord]] {
        keysServed.withLock { $0 }
    }

    /// When the served signatures are next due for renewal (Unix seconds), nil before any.
    var nextRenewal: Int64? {
        let at = nextRefresh.load(ordering: .relaxed)
        return at == 0 ? nil : at
    }

    /// The wall-clock milliseconds of `refreshAt` (serial seconds near `now`), for `.signed`.
    static func milliseconds(_ refreshAt: UInt32, now: UInt32 = ZoneSigning.now) -> Int64 {
        (Clock.wallSeconds() + Int64(Int32(bitPattern: refreshAt &- now))) * 1000
    }

    /// The cache of zone `origin`: kept from the last pass, else loaded from its file.
    private func cache(for origin: DomainName) -> SignatureCache {
        caches.withLock { caches in
            if let cache = caches[origin] { return cache }
            var file: String?
            if let cacheDirectory {
                do {
                    try FileIO.makeDirectory(cacheDirectory)
                    file = cacheDirectory + "/" + Self.fileName(origin)
                } catch {
                    Log.warning("dnssec: \(cacheDirectory): \(error); signatures of \(origin) cached in memory only")
                }
            }
            let cache = SignatureCache(file: file)
            if let warning = cache.warning { Log.warning("dnssec: \(warning)") }
            caches[origin] = cache
            return cache
        }
    }

    /// `example.com.cache` for `example.com.`; `root.cache` for the root.
    static func fileName(_ origin: DomainName) -> String {
        let text = origin.isRoot ? "root" : String(origin.description.lowercased().dropLast())
        return text.map { $0 == "/" ? "_" : $0 }.reduce(into: "") { $0.append($1) } + ".cache"
    }

    /// The DNSSEC families of `/metrics`.
    func metricsText() -> String {
        """
        # HELP veer_dnssec_signatures_made_total RRSIGs made since start (not taken from the signature cache).
        # TYPE veer_dnssec_signatures_made_total counter
        veer_dnssec_signatures_made_total \(made.load(ordering: .relaxed))
        # HELP veer_dnssec_signing_failures_total Signing passes that failed; the signatures before them are served on.
        # TYPE veer_dnssec_signing_failures_total counter
        veer_dnssec_signing_failures_total \(failures.load(ordering: .relaxed))
        # HELP veer_dnssec_next_renewal_timestamp_seconds When the earliest served signature is due for renewal (Unix time).
        # TYPE veer_dnssec_next_renewal_timestamp_seconds gauge
        veer_dnssec_next_renewal_timestamp_seconds \(nextRefresh.load(ordering: .relaxed))

        """
    }
}
