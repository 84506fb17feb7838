/// The weights in force, by endpoint slot: immutable, replaced whole by the control side.
public final class WeightTable: Sendable {
    /// What operators set (or the zone's default).
    public let configured: [UInt32]
    /// What selection uses: the configured weight, or 0 while the endpoint is unhealthy.
    public let effective: [UInt32]
    /// The TTL cap of the slot's answers while its name is being moved (`ttl-shift=`), or 0
    /// for the records' own TTL.
    public let ttlCap: [UInt32]

    public init(configured: [UInt32], effective: [UInt32]? = nil, ttlCap: [UInt32]? = nil) {
        self.configured = configured
        self.effective = effective ?? configured
        self.ttlCap = ttlCap ?? [UInt32](repeating: 0, count: configured.count)
        precondition(self.effective.count == configured.count && self.ttlCap.count == configured.count)
    }

    /// The TTL to answer with for `slot` when its records say `ttl`.
    @inline(__always)
    public func ttl(_ slot: Int, _ ttl: UInt32) -> UInt32 {
        guard slot < ttlCap.count else { return ttl }
        let cap = ttlCap[slot]
        return cap != 0 && cap < ttl ? cap : ttl
    }

    public static let empty = WeightTable(configured: [])

    /// The effective weight of `slot`, 0 for a slot this table does not know.
    @inline(__always)
    public func effective(_ slot: Int) -> UInt32 {
        slot < effective.count ? effective[slot] : 0
    }

    @inline(__always)
    public func configured(_ slot: Int) -> UInt32 {
        slot < configured.count ? configured[slot] : 0
    }
}
