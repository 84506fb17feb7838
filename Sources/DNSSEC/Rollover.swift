// The steps of a key rollover as pure functions on one zone's key records (RFC 6781 §4.1.1,
// pre-publication, applied to a combined signing key). `veer keys` reads the records, applies
// one step and writes back what changed; nothing here touches files or clocks.
import DNSWire

/// Key rollover steps, each refusing what would make a validator call the zone bogus.
public enum Rollover {
    /// The DNSKEY TTL assumed when none is given: caches may hold the old DNSKEY RRset this long.
    public static let defaultDNSKEYTTL: UInt32 = 3600

    /// The state of a new key for a zone that has `keys`: the first (no active key) is active
    /// at once; later ones are pre-published. Refuses a second algorithm: every RRset would
    /// need a signature of each algorithm in the DNSKEY RRset (RFC 4035 §2.2), which Veer's
    /// rollover does not do.
    public static func stateForNewKey(_ algorithm: DNSSECAlgorithm, in keys: [KeyRecord]) throws(DNSSECError) -> KeyState {
        let live = keys.filter { $0.state != .removed }
        if let other = live.first(where: { $0.algorithm != algorithm }) {
            throw DNSSECError("the zone already has key \(other.tag) of algorithm \(other.algorithm); "
                + "an algorithm rollover is not supported: remove the zone's keys first")
        }
        return live.contains { $0.state == .active } ? .published : .active
    }

    /// Makes published key `tag` active at `now`; the active key becomes retiring. Refused
    /// unless the key is published, and (without `force`) until `dnskeyTTL` has passed since it
    /// was published, so every cache already holds it when its signatures appear.
    public static func activate(_ keys: [KeyRecord], tag: UInt16, now: UInt32, dnskeyTTL: UInt32,
                                force: Bool) throws(DNSSECError) -> [KeyRecord] {
        let index = try find(keys, tag: tag)
        let key = keys[index]
        guard key.state == .published else {
            throw DNSSECError("key \(tag) is \(key.state.rawValue); only a published key can be activated")
        }
        if let retiring = keys.first(where: { $0.state == .retiring }) {
            throw DNSSECError("key \(retiring.tag) is still retiring: retire it before the next rollover")
        }
        let waited = now &- key.created
        if !force && Int32(bitPattern: waited) < Int32(bitPattern: dnskeyTTL) {
            throw DNSSECError("key \(tag) was published \(waited) s ago; caches may hold the DNSKEY RRset "
                + "without it for \(dnskeyTTL) s (the DNSKEY TTL). Wait \(dnskeyTTL &- waited) s more, or --force")
        }
        var result = keys
        for i in result.indices where result[i].state == .active {
            result[i].state = .retiring
            result[i].retiring = now
        }
        result[index].state = .active
        result[index].activated = now
        return result
    }

    /// Takes retiring key `tag` out of the zone at `now`. Refused unless the key is retiring,
    /// and (without `force`) until `dnskeyTTL` has passed since its successor became active,
    /// so no cache holds signatures that only the old key's chain can validate. The parent's
    /// DS must already point at the new key: Veer cannot see the parent, the operator checks.
    public static func retire(_ keys: [KeyRecord], tag: UInt16, now: UInt32, dnskeyTTL: UInt32,
                              force: Bool) throws(DNSSECError) -> [KeyRecord] {
        let index = try find(keys, tag: tag)
        let key = keys[index]
        guard key.state == .retiring else {
            let hint = key.state == .active ? " (activate its successor first)" : ""
            throw DNSSECError("key \(tag) is \(key.state.rawValue); only a retiring key can be retired\(hint)")
        }
        guard let successor = keys.first(where: { $0.state == .active }) else {
            throw DNSSECError("the zone has no active key to take over from key \(tag)")
        }
        let waited = now &- successor.since
        if !force && Int32(bitPattern: waited) < Int32(bitPattern: dnskeyTTL) {
            throw DNSSECError("key \(successor.tag) became active \(waited) s ago; caches may still hold "
                + "signatures made by key \(tag) for \(dnskeyTTL) s (the DNSKEY TTL). Wait "
                + "\(dnskeyTTL &- waited) s more, or --force")
        }
        var result = keys
        result[index].state = .removed
        result[index].removed = now
        return result
    }

    /// Index of the live key with `tag`; two live keys with one tag (a tag collision) are
    /// refused as ambiguous.
    static func find(_ keys: [KeyRecord], tag: UInt16) throws(DNSSECError) -> Int {
        let matches = keys.indices.filter { keys[$0].tag == tag && keys[$0].state != .removed }
        guard let first = matches.first else { throw DNSSECError("no key with tag \(tag)") }
        guard matches.count == 1 else { throw DNSSECError("two keys have tag \(tag); move one out of the directory") }
        return first
    }
}
