/// What operators see of a `select=client` name's cohorts: answers by key kind, the heaviest
/// keys, and how many sampled keys a weight change would move. Pure: built from the
/// effective weights and the query path's samples.
public struct CohortView: Sendable, Equatable {
    /// Keys shown as the heaviest.
    public static let topCount = 5
    /// When the heaviest keys carry more than this share of the sampled answers, the split
    /// users get follows those few keys more than the weights: warn.
    public static let concentrationWarning = 0.5

    public struct Key: Sendable, Equatable {
        public let key: CohortKey
        public let endpoint: String
        public let count: UInt64
        /// Of the name's sampled answers, 0...1.
        public let share: Double
    }

    public let name: NameKey
    /// Per endpoint (in the name's order): answers keyed by ECS and by resolver address.
    public let byKind: [(endpoint: String, ecs: UInt64, resolver: UInt64)]
    /// The heaviest sampled keys, heaviest first.
    public let top: [Key]
    /// Distinct keys sampled.
    public let keys: Int
    /// The share of sampled answers the `top` keys carry.
    public let topShare: Double

    /// The view of `name` from every thread's `samples` and per-slot kind counts.
    public init(_ name: EffectiveWeights.Name, samples: [CohortSample], byKind: [(ecs: UInt64, resolver: UInt64)]) {
        self.name = name.key
        self.byKind = name.endpoints.map { endpoint in
            let slot = endpoint.config.slot
            return (endpoint.config.id, slot < byKind.count ? byKind[slot].ecs : 0, slot < byKind.count ? byKind[slot].resolver : 0)
        }
        let mine = Self.samples(of: name, samples)
        let total = mine.reduce(0) { $0 + $1.count }
        let sorted = mine.sorted { ($0.count, $1.key.raw) > ($1.count, $0.key.raw) }
        top = sorted.prefix(Self.topCount).map { sample in
            Key(key: sample.key, endpoint: name.endpoints.first { $0.config.slot == sample.slot }?.config.id ?? "?",
                count: sample.count, share: total == 0 ? 0 : Double(sample.count) / Double(total))
        }
        keys = Set(mine.map(\.key)).count
        topShare = top.reduce(0) { $0 + $1.share }
    }

    /// True when a handful of keys carry most answers (and there are more keys than shown).
    public var concentrated: Bool { keys > Self.topCount && topShare > Self.concentrationWarning }

    /// `name`'s samples, one per key: a key answered from two endpoints (it moved) counts on
    /// the one it had most.
    static func samples(of name: EffectiveWeights.Name, _ samples: [CohortSample]) -> [CohortSample] {
        let slots = Set(name.endpoints.map(\.config.slot))
        var byKey: [CohortKey: CohortSample] = [:]
        for sample in samples where slots.contains(sample.slot) {
            if let seen = byKey[sample.key] {
                let heavier = seen.count >= sample.count ? seen : sample
                byKey[sample.key] = CohortSample(key: sample.key, slot: heavier.slot, count: seen.count + sample.count)
            } else {
                byKey[sample.key] = sample
            }
        }
        return Array(byKey.values)
    }

    /// How a weight change would move `name`'s sampled keys: keys and their answers that
    /// would get another endpoint under `after` than under `before`. Each key is asked for
    /// the address family of the endpoint it was seen on (a CNAME name: any).
    public static func moves(of name: EffectiveWeights.Name, samples: [CohortSample], before: WeightTable,
                             after: WeightTable) -> (keys: Int, of: Int, answers: UInt64, ofAnswers: UInt64) {
        let slots = name.endpoints.map(\.config.slot)
        var random = NoRandom()
        var moved = (keys: 0, of: 0, answers: UInt64(0), ofAnswers: UInt64(0))
        for sample in Self.samples(of: name, samples) {
            guard let endpoint = name.endpoints.first(where: { $0.config.slot == sample.slot })?.config else { continue }
            let family: WeightTable.Family = endpoint.records.contains(.a) ? .a : endpoint.records.contains(.aaaa) ? .aaaa : .any
            let was = before.pick(slots, family: family, client: sample.key, random: &random)
            let will = after.pick(slots, family: family, client: sample.key, random: &random)
            moved.of += 1
            moved.ofAnswers += sample.count
            if was != will {
                moved.keys += 1
                moved.answers += sample.count
            }
        }
        return moved
    }

    /// `select=client` names never draw; a random source they would use is a bug.
    struct NoRandom: RandomSource {
        func next(below bound: UInt64) -> UInt64 { preconditionFailure("a select=client name drew at random") }
    }
}

extension CohortView {
    /// `CohortView` compares by its values; the tuple array is compared field by field.
    public static func == (a: CohortView, b: CohortView) -> Bool {
        a.name == b.name && a.top == b.top && a.keys == b.keys && a.topShare == b.topShare
            && a.byKind.elementsEqual(b.byKind) { $0.endpoint == $1.endpoint && $0.ecs == $1.ecs && $0.resolver == $1.resolver }
    }
}
