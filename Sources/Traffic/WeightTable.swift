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
    /// By slot: the endpoint's `EndpointKey.cohortSalt` when its name says `select=client`,
    /// else 0 (the name draws at random).
    @usableFromInline let cohortSalt: [UInt64]
    /// What the cohort hash is keyed by (`CohortSeed`).
    public let seed: CohortSeed

    init(draw: [UInt32], refused: [Bool], ttlCap: [UInt32], cohortSalt: [UInt64], seed: CohortSeed) {
        precondition(draw.count == ttlCap.count * Self.families && refused.count == draw.count && cohortSalt.count == ttlCap.count)
        self.draw = draw
        self.refused = refused
        self.ttlCap = ttlCap
        self.cohortSalt = cohortSalt
        self.seed = seed
    }

    public static let empty = WeightTable(draw: [], refused: [], ttlCap: [], cohortSalt: [], seed: .zero)

    /// `slot`'s cohort salt, 0 when its name draws at random (or the slot is unknown).
    @inlinable @inline(__always)
    public func cohortSalt(_ slot: Int) -> UInt64 {
        slot < cohortSalt.count ? cohortSalt[slot] : 0
    }

    /// Chooses among the endpoints in `slots` (one weighted name's) for `family`: by the
    /// client's cohort when the name says `select=client`, else a weighted draw. The query
    /// path and the control side's `--dry-run` both choose through here. Nil when nothing
    /// can be chosen.
    @inlinable @inline(__always)
    public func pick<R: RandomSource>(_ slots: [Int], family: Family, client: CohortKey, random: inout R) -> Int? {
        slots.withUnsafeBufferPointer { pick($0, family: family, client: client, random: &random) }
    }

    /// `pick` over slots kept outside an array (the query path's precomputed answers).
    @inlinable @inline(__always)
    public func pick<R: RandomSource>(_ slots: UnsafeBufferPointer<Int>, family: Family, client: CohortKey, random: inout R) -> Int? {
        if cohortSalt(slots[0]) != 0 {
            return Cohort.choose(count: slots.count, weight: { weight(slots[$0], family) },
                                 salt: { cohortSalt(slots[$0]) }, key: client, seed: seed)
        }
        return WeightedChoice.pick(count: slots.count, weight: { weight(slots[$0], family) }, random: &random)
    }

    /// True when `slot`'s name chooses by client.
    @inlinable @inline(__always)
    public func selectsByClient(_ slot: Int) -> Bool { cohortSalt(slot) != 0 }

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
