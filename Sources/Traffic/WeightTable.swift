/// The weights the query path draws with, by endpoint slot and address family: immutable,
/// built by `EffectiveWeights` and replaced whole by the control side. Health, fail-open and
/// address-type eligibility are already applied, so choosing is one cumulative walk.
public final class WeightTable: Sendable {
    /// Which records a query wants of a weighted name: `any` for CNAME endpoints (every one is
    /// eligible), `a` and `aaaa` for address endpoints (only those with such records are).
    public enum Family: Int, Sendable, CaseIterable {
        case any = 0, a = 1, aaaa = 2
    }

    @usableFromInline static let families = 3
    /// Draw weight of slot `s` in family `f` at `s * 3 + f`.
    @usableFromInline let draw: [UInt32]
    /// Same layout: nothing can be drawn because every eligible endpoint is down and the name
    /// says `all-down=refuse` (answer SERVFAIL rather than NODATA).
    @usableFromInline let refused: [Bool]
    /// The TTL cap of the slot's answers while its name is being moved (`ttl-shift=`), or 0
    /// for the records' own TTL.
    @usableFromInline let ttlCap: [UInt32]

    init(draw: [UInt32], refused: [Bool], ttlCap: [UInt32]) {
        precondition(draw.count == ttlCap.count * Self.families && refused.count == draw.count)
        self.draw = draw
        self.refused = refused
        self.ttlCap = ttlCap
    }

    public static let empty = WeightTable(draw: [], refused: [], ttlCap: [])

    /// The weight `slot` is drawn with for `family`; 0 for a slot this table does not know.
    @inlinable @inline(__always)
    public func weight(_ slot: Int, _ family: Family) -> UInt32 {
        let index = slot &* Self.families &+ family.rawValue
        return index < draw.count ? draw[index] : 0
    }

    /// True when `slot`'s name answers SERVFAIL for `family` (see `refused`).
    @inlinable @inline(__always)
    public func refuses(_ slot: Int, _ family: Family) -> Bool {
        let index = slot &* Self.families &+ family.rawValue
        return index < refused.count && refused[index]
    }

    /// The TTL to answer with for `slot` when its records say `ttl`.
    @inlinable @inline(__always)
    public func ttl(_ slot: Int, _ ttl: UInt32) -> UInt32 {
        guard slot < ttlCap.count else { return ttl }
        let cap = ttlCap[slot]
        return cap != 0 && cap < ttl ? cap : ttl
    }
}
