/// The runtime weights of every weighted name: what operators set, with an undo stack per
/// name. A value type: commands return a new store and the changes they made, or an error,
/// and change nothing on error. The server persists it and publishes it as a `WeightTable`.
public struct WeightStore: Sendable, Equatable, Codable {
    /// Undo steps kept per name; older ones are forgotten.
    public static let maxUndo = 32

    /// One endpoint's configured weight.
    public struct Endpoint: Sendable, Equatable, Codable {
        public var id: String
        public var weight: UInt32
        /// When the weight was last raised (Unix seconds), for the rollback window.
        public var raisedAt: Int64?

        public init(id: String, weight: UInt32, raisedAt: Int64? = nil) {
            self.id = id
            self.weight = weight
            self.raisedAt = raisedAt
        }

        private enum CodingKeys: String, CodingKey { case id, weight, raisedAt }

        /// Reads a saved endpoint; a weight that is not a whole number in range names its field.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            weight = try WholeNumber.decode(UInt32.self, c, .weight)
            raisedAt = try c.contains(.raisedAt) && !c.decodeNil(forKey: .raisedAt) ? WholeNumber.decode(Int64.self, c, .raisedAt) : nil
        }
    }

    /// One weighted name: endpoints in zone order, and the weights before each change.
    public struct Name: Sendable, Equatable, Codable {
        public var name: String
        public var endpoints: [Endpoint]
        public var undo: [[UInt32]]

        public init(name: String, endpoints: [Endpoint], undo: [[UInt32]] = []) {
            self.name = name
            self.endpoints = endpoints
            self.undo = undo
        }

        private enum CodingKeys: String, CodingKey { case name, endpoints, undo }

        /// Reads a saved name; an undo weight that is not a whole number in range names its field.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            endpoints = try c.decode([Endpoint].self, forKey: .endpoints)
            var entries = try c.nestedUnkeyedContainer(forKey: .undo)
            var undo: [[UInt32]] = []
            while !entries.isAtEnd {
                var entry = try entries.nestedUnkeyedContainer()
                var weights: [UInt32] = []
                while !entry.isAtEnd { weights.append(try WholeNumber.decode(UInt32.self, &entry)) }
                undo.append(weights)
            }
            self.undo = undo
        }

        public var weights: [UInt32] { endpoints.map(\.weight) }
        public var total: UInt64 { endpoints.reduce(0) { $0 + UInt64($1.weight) } }

        public func weight(of id: String) -> UInt32? { endpoints.first { $0.id == id }?.weight }
    }

    /// One weight that changed.
    public struct Change: Sendable, Equatable {
        public let name: String
        public let endpoint: String
        public let old: UInt32
        public let new: UInt32

        public init(name: String, endpoint: String, old: UInt32, new: UInt32) {
            self.name = name
            self.endpoint = endpoint
            self.old = old
            self.new = new
        }
    }

    /// The weighted names, sorted by name.
    public private(set) var names: [Name]

    public init(names: [Name] = []) {
        self.names = names.sorted { $0.name < $1.name }
    }

    public func name(_ key: String) -> Name? {
        name(NameKey(key))
    }

    public func name(_ key: NameKey) -> Name? {
        names.first { $0.name == key.text }
    }

    /// The canonical key of a name: lowercased, absolute (`api.example.com.`).
    public static func key(_ name: String) -> String {
        NameKey(name).text
    }

    // MARK: - Reconciling with the zones

    /// What the zones declare for one weighted name.
    public struct Declared: Sendable, Equatable {
        public let name: String
        public let endpoints: [(id: String, weight: UInt32)]
        public init(name: String, endpoints: [(id: String, weight: UInt32)]) {
            self.name = WeightStore.key(name)
            self.endpoints = endpoints
        }
        public static func == (a: Declared, b: Declared) -> Bool {
            a.name == b.name && a.endpoints.map(\.id) == b.endpoints.map(\.id)
                && a.endpoints.map(\.weight) == b.endpoints.map(\.weight)
        }
    }

    /// Saved weights override the zone's defaults; endpoints and names that vanished from the
    /// zones are dropped, new ones take the zone default. Returns the merged store and one
    /// line per thing dropped or added, for the log.
    public func reconciled(with declared: [Declared]) -> (WeightStore, [String]) {
        var notes: [String] = []
        var merged: [Name] = []
        for zoneName in declared {
            guard let saved = name(zoneName.name) else {
                merged.append(Name(name: zoneName.name, endpoints: zoneName.endpoints.map { Endpoint(id: $0.id, weight: $0.weight) }))
                continue
            }
            var endpoints: [Endpoint] = []
            for (id, weight) in zoneName.endpoints {
                if let kept = saved.endpoints.first(where: { $0.id == id }) {
                    endpoints.append(kept)
                } else {
                    endpoints.append(Endpoint(id: id, weight: weight))
                    notes.append("\(zoneName.name) endpoint \(id) is new: zone weight \(weight)")
                }
            }
            for gone in saved.endpoints where !zoneName.endpoints.contains(where: { $0.id == gone.id }) {
                notes.append("\(zoneName.name) endpoint \(gone.id) is no longer in the zone: saved weight \(gone.weight) dropped")
            }
            var undo = saved.undo
            if endpoints.map(\.id) != saved.endpoints.map(\.id) { undo = [] }
            if endpoints.allSatisfy({ $0.weight == 0 }) {
                // Saved weights can't drain every endpoint that is left; the zone's defaults can't either.
                notes.append("\(zoneName.name): saved weights would leave every endpoint at 0; using the zone's weights")
                endpoints = zoneName.endpoints.map { Endpoint(id: $0.id, weight: $0.weight) }
            }
            merged.append(Name(name: zoneName.name, endpoints: endpoints, undo: undo))
        }
        for gone in names where !declared.contains(where: { $0.name == gone.name }) {
            notes.append("\(gone.name) is no longer a weighted name in the zones: saved weights dropped")
        }
        return (WeightStore(names: merged), notes)
    }

    // MARK: - Commands

    /// Sets one endpoint's weight.
    public func setting(_ nameText: String, _ endpoint: String, to weight: UInt32, at now: Int64) throws(AdminError) -> (WeightStore, [Change]) {
        let (index, state) = try lookup(nameText)
        guard let position = state.endpoints.firstIndex(where: { $0.id == endpoint }) else {
            throw AdminError.unknownEndpoint(state.name, endpoint, state.endpoints.map(\.id))
        }
        var weights = state.weights
        weights[position] = weight
        return try applying(weights, to: index, at: now)
    }

    /// Gives `endpoint` `basisPoints`/100 percent of the name's answers and scales the others
    /// to the rest, in proportion to their current weights (equally if they are all 0).
    /// Weights are rescaled to a total of 100 (or 10,000 for fractional percents), so
    /// `shift api new 25%` on old=100/new=0 gives old=75/new=25.
    public func shifting(_ nameText: String, _ endpoint: String, toBasisPoints basisPoints: Int, at now: Int64) throws(AdminError) -> (WeightStore, [Change]) {
        let (index, state) = try lookup(nameText)
        guard let position = state.endpoints.firstIndex(where: { $0.id == endpoint }) else {
            throw AdminError.unknownEndpoint(state.name, endpoint, state.endpoints.map(\.id))
        }
        guard (0...10_000).contains(basisPoints) else { throw AdminError.badValue("share must be between 0% and 100%") }
        let total: UInt64 = basisPoints % 100 == 0 ? 100 : 10_000
        let target = UInt64(basisPoints) * total / 10_000
        let rest = total - target
        let others = state.endpoints.indices.filter { $0 != position }
        var weights = state.weights
        weights[position] = UInt32(target)
        if !others.isEmpty {
            let current = others.map { UInt64(state.endpoints[$0].weight) }
            let sum = current.reduce(0, +)
            let basis = sum == 0 ? [UInt64](repeating: 1, count: others.count) : current
            let basisSum = basis.reduce(0, +)
            // Largest remainder, so the shares add up to exactly `rest`.
            var shares = basis.map { rest * $0 / basisSum }
            var left = rest - shares.reduce(0, +)
            let order = basis.indices.sorted { (rest * basis[$0]) % basisSum > (rest * basis[$1]) % basisSum }
            for i in order where left > 0 {
                shares[i] += 1
                left -= 1
            }
            for (k, other) in others.enumerated() { weights[other] = UInt32(shares[k]) }
        } else if target == 0 {
            throw AdminError.allZero(state.name, state.endpoints.map(\.id).map { ($0, 0) })
        }
        return try applying(weights, to: index, at: now)
    }

    /// Sets every weight of `name` at once, in its endpoint order (a rollout's rollback).
    public func assigning(_ nameText: String, _ weights: [UInt32], at now: Int64) throws(AdminError) -> (WeightStore, [Change]) {
        let (index, state) = try lookup(nameText)
        guard weights.count == state.endpoints.count else {
            throw AdminError.badValue("\(state.name) has \(state.endpoints.count) endpoints, got \(weights.count) weights")
        }
        return try applying(weights, to: index, at: now)
    }

    /// Restores the weights before the last change of `name`.
    public func undoing(_ nameText: String, at now: Int64) throws(AdminError) -> (WeightStore, [Change]) {
        let (index, state) = try lookup(nameText)
        guard let previous = state.undo.last else { throw AdminError.nothingToUndo(state.name) }
        // Checked when the state was loaded; checked again here, so an entry that slipped
        // through is refused rather than written past the endpoints.
        if previous.count == state.endpoints.count, !previous.contains(where: { $0 > 0 }) {
            throw AdminError.allZero(state.name, zip(state.endpoints.map(\.id), previous).map { ($0, $1) })
        }
        if let problem = StateValidation.problem(previous, endpoints: state.endpoints.count) {
            throw AdminError.badValue("the last undo entry of \(state.name) cannot be restored: \(problem)")
        }
        var next = self
        let changes = next.write(previous, to: index, at: now)
        next.names[index].undo.removeLast()
        return (next, changes)
    }

    private func lookup(_ nameText: String) throws(AdminError) -> (Int, Name) {
        let key = Self.key(nameText)
        guard let index = names.firstIndex(where: { $0.name == key }) else {
            throw AdminError.unknownName(key, names.map(\.name))
        }
        return (index, names[index])
    }

    /// Applies new weights to one name, refusing to leave them all at 0, and pushes the old
    /// ones on its undo stack. A change that changes nothing is not a change.
    private func applying(_ weights: [UInt32], to index: Int, at now: Int64) throws(AdminError) -> (WeightStore, [Change]) {
        let state = names[index]
        guard weights.contains(where: { $0 > 0 }) else {
            throw AdminError.allZero(state.name, zip(state.endpoints.map(\.id), weights).map { ($0, $1) })
        }
        var next = self
        let changes = next.write(weights, to: index, at: now)
        if !changes.isEmpty {
            next.names[index].undo.append(state.weights)
            if next.names[index].undo.count > Self.maxUndo { next.names[index].undo.removeFirst() }
        }
        return (next, changes)
    }

    private mutating func write(_ weights: [UInt32], to index: Int, at now: Int64) -> [Change] {
        var changes: [Change] = []
        for (position, weight) in weights.enumerated() {
            let old = names[index].endpoints[position].weight
            guard old != weight else { continue }
            changes.append(Change(name: names[index].name, endpoint: names[index].endpoints[position].id, old: old, new: weight))
            names[index].endpoints[position].weight = weight
            if weight > old { names[index].endpoints[position].raisedAt = now }
        }
        return changes
    }
}

/// Why an admin command was refused; the text follows `error: ` in the reply.
public enum AdminError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownName(String, [String])
    case unknownEndpoint(String, String, [String])
    case allZero(String, [(String, UInt32)])
    case nothingToUndo(String)
    case badValue(String)

    public static func == (a: AdminError, b: AdminError) -> Bool { a.description == b.description }

    public var description: String {
        switch self {
        case .unknownName(let name, let known):
            return "no weighted name \(name); weighted names: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        case .unknownEndpoint(let name, let endpoint, let known):
            return "\(name) has no endpoint \"\(endpoint)\"; endpoints: \(known.joined(separator: ", "))"
        case .allZero(let name, let weights):
            let list = weights.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
            return "refused: every endpoint of \(name) would have weight 0 (\(list)); raise another endpoint first"
        case .nothingToUndo(let name):
            return "nothing to undo for \(name)"
        case .badValue(let text):
            return text
        }
    }
}
