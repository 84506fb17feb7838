import DNSWire
import ZoneFile

extension ZoneData {
    /// Builds the tree `ZoneData` answers from, in named steps run in this order by
    /// `ZoneData.init`: `placeNodes` (a node per owner name and per empty non-terminal, each
    /// record placed at its node), `markCuts` (delegations), `buildRRSets` (the records of
    /// each node as RRsets, their targets resolved over the finished tree) and
    /// `buildWeightedSets`. Build time only; nothing here runs per query.
    struct Builder {
        /// The zones, parents before children, so a child zone's data wins at and below its apex.
        let zones: [Zone]
        /// Labels of each zone's origin.
        let originLabels: [Int]
        /// One zone as the parser built it: the owner table of its validation becomes the node
        /// table (owner i is node i), so no name is hashed a second time.
        let owners: OwnerIndex?
        /// Lowercased wire name → node.
        var table: NameTable
        var nodes: [Node] = []
        /// Each node's records, node after node: `placed[firstPlaced[i] ..< firstPlaced[i + 1]]`
        /// are node i's, in file order (after `placeNodes`).
        var firstPlaced: [Int32] = []
        var placed: [(zone: Int32, record: Int32)] = []
        /// Every node's RRsets, node after node (`Node.firstRRSet`), after `buildRRSets`.
        var rrsets: [RRSetData] = []
        var weighted: [WeightedSet] = []
        /// Where the address RRsets' records are written.
        let addressBytes: AddressBytes

        init(zones input: [Zone], addressBytes: AddressBytes) {
            let zones = input.sorted { $0.origin.labelCount < $1.origin.labelCount }
            self.zones = zones
            self.addressBytes = addressBytes
            originLabels = zones.map(\.origin.labelCount)
            owners = zones.count == 1 ? zones[0].owners.flatMap { owners in
                owners.table.count == owners.names.count && owners.ofRecord.count == zones[0].records.count ? owners : nil
            } : nil
            let expected = zones.reduce(0) { $0 + $1.records.count + $1.weighted.count }
            table = owners?.table ?? NameTable(expectedCount: expected + 16)
            nodes.reserveCapacity(max(table.count, expected) + 16)
        }

        /// The index in `zones` of the deepest zone holding `name`, or -1.
        func deepestZone(_ name: DomainName) -> Int {
            var best = -1
            for (index, zone) in zones.enumerated() where name.isSubdomain(of: zone.origin) { best = index }
            return best
        }

        /// Runs `body` with `name`'s table key, lowercased on the stack: no array per name.
        static func lowercased<T>(_ name: DomainName, _ body: (UnsafeRawBufferPointer) -> T) -> T {
            name.wire.withUnsafeBufferPointer { wire in
                withUnsafeTemporaryAllocation(byteCount: wire.count, alignment: 1) { key in
                    for i in wire.indices { key[i] = asciiLower(wire[i]) }
                    return body(UnsafeRawBufferPointer(key))
                }
            }
        }

        /// The node of `name` in zone `zone`, made (with empty non-terminals up to the apex, so
        /// "exists but no data" is NODATA, not NXDOMAIN) when it is new. `labels`: its label
        /// count, when known.
        mutating func node(for name: DomainName, zone: Int, labels: Int? = nil) -> Int {
            let index = nodes.count
            // Looked up and inserted in one probe.
            let existing = Self.lowercased(name) { table.lookupOrInsert($0, value: Int32(index)) }
            if existing >= 0 { return Int(existing) }
            nodes.append(Node(name: name, zone: Int32(zone), isApex: name == zones[zone].origin))
            // A name one label below the apex (most of a large zone) has the apex as parent.
            let labels = labels ?? name.labelCount
            if labels > originLabels[zone] + 1, let parent = name.parent {
                _ = node(for: parent, zone: zone, labels: labels - 1)
            }
            return index
        }

        /// Step 1: a node for every owner name, weighted names and empty non-terminals
        /// included, and every record placed at its node (`firstPlaced`, `placed`).
        mutating func placeNodes() {
            // Each record's node, in file order; grouped per node below with a counting sort (a
            // dictionary of arrays cost a second per million records to fill and to free).
            var byRecord: [(node: Int32, zone: Int32, record: Int32)] = []
            byRecord.reserveCapacity(zones.reduce(0) { $0 + $1.records.count })
            if let owners {
                let origin = zones[0].origin
                for name in owners.names { nodes.append(Node(name: name, zone: 0, isApex: name == origin)) }
                for name in owners.names {
                    let labels = name.labelCount
                    if labels > originLabels[0] + 1, let parent = name.parent { _ = node(for: parent, zone: 0, labels: labels - 1) }
                }
                _ = node(for: origin, zone: 0)
                for (recordIndex, owner) in owners.ofRecord.enumerated() { byRecord.append((owner, 0, Int32(recordIndex))) }
                for weightedName in zones[0].weighted { _ = node(for: weightedName.owner, zone: 0) }
            }
            for (zoneIndex, zone) in zones.enumerated() where owners == nil {
                _ = node(for: zone.origin, zone: zoneIndex)
                // One zone: every record is in it (the parser checked). Consecutive records of one
                // owner (an RRset, or A and AAAA) share its node without a lookup.
                var previous: (name: DomainName, node: Int32)?
                for (recordIndex, record) in zone.records.enumerated() where zones.count == 1 || deepestZone(record.name) == zoneIndex {
                    let here: Int32
                    if let previous, previous.name == record.name {
                        here = previous.node
                    } else {
                        here = Int32(node(for: record.name, zone: zoneIndex))
                        previous = (record.name, here)
                    }
                    byRecord.append((here, Int32(zoneIndex), Int32(recordIndex)))
                }
                for weightedName in zone.weighted where deepestZone(weightedName.owner) == zoneIndex {
                    _ = node(for: weightedName.owner, zone: zoneIndex)
                }
            }
            firstPlaced = [Int32](repeating: 0, count: nodes.count + 1)
            for entry in byRecord { firstPlaced[Int(entry.node) + 1] += 1 }
            for index in nodes.indices { firstPlaced[index + 1] += firstPlaced[index] }
            placed = [(zone: Int32, record: Int32)](repeating: (0, 0), count: byRecord.count)
            var fill = firstPlaced
            for entry in byRecord {
                placed[Int(fill[Int(entry.node)])] = (entry.zone, entry.record)
                fill[Int(entry.node)] += 1
            }
        }

        /// The records placed at node `index`.
        func placedRange(_ index: Int) -> Range<Int> { Int(firstPlaced[index])..<Int(firstPlaced[index + 1]) }

        /// Step 2: zone cuts, an NS RRset below an apex; the topmost one wins.
        mutating func markCuts() {
            var anyCut = false
            for index in nodes.indices where !nodes[index].isApex
                && placed[placedRange(index)].contains(where: { zones[Int($0.zone)].records[Int($0.record)].type == .ns }) {
                nodes[index].cut = Int32(index)
                anyCut = true
            }
            guard anyCut else { return }
            for index in nodes.indices {
                var name = nodes[index].name
                while let parent = name.parent, name != zones[Int(nodes[index].zone)].origin {
                    let up = table.lookup(parent.lowercasedWire)
                    if up >= 0, nodes[Int(up)].cut == up, !nodes[Int(up)].isApex { nodes[index].cut = up }
                    name = parent
                }
            }
        }

        /// The RRset of `records` (one type): A and AAAA in wire form in `addressBytes`, others
        /// decoded, with their targets resolved over `nodes` (a finished tree) for the types
        /// that have them: an empty array costs no allocation, and A/AAAA RRsets are most of a
        /// large zone.
        static func makeRRSet(_ records: some Collection<ResourceRecord>, table: NameTable, nodes: [Node],
                              addressBytes: AddressBytes) -> RRSetData {
            let type = records.first!.type
            if type == .a || type == .aaaa { return RRSetData(addresses: records, in: addressBytes) }
            let followed = type == .cname || type == .ns || type == .mx || type == .srv
            return RRSetData(type: type, ttl: records.first!.ttl, records: records.map(\.data),
                             targets: !followed ? [] : records.map { record in
                                 switch record.data {
                                 case .cname(let target), .ns(let target), .mx(_, let target), .srv(_, _, _, let target):
                                     lowercased(target) { key in
                                         withUnsafeTemporaryAllocation(byteCount: DomainName.maxWireLength + 2, alignment: 1) {
                                             table.resolve(key, scratch: $0, nodes: nodes)
                                         }
                                     }
                                 default: .outside
                                 }
                             },
                             targetNodes: !followed || type == .cname ? [] : records.map { record in
                                 record.data.additionalName.map { name in lowercased(name) { table.lookup($0) } } ?? -1
                             })
        }

        /// Step 3: every node's records as RRsets, in type order (records of one type keep
        /// their file order), and each node's place in `rrsets`.
        mutating func buildRRSets() {
            // Filled beside the tree, their places set in `nodes` once `tree`, which shares its
            // storage, is gone: changing `nodes` while it lived copied the whole tree.
            var rrsets: [RRSetData] = []
            rrsets.reserveCapacity(nodes.count)
            var firstRRSet = [Int32](repeating: 0, count: nodes.count + 1)
            do {
                let tree = nodes, table = table, zones = zones, addressBytes = addressBytes
                func makeRRSet(_ records: some Collection<ResourceRecord>) -> RRSetData {
                    Self.makeRRSet(records, table: table, nodes: tree, addressBytes: addressBytes)
                }
                for index in tree.indices {
                    firstRRSet[index] = Int32(rrsets.count)
                    let range = placedRange(index)
                    if range.count == 1 {
                        // Most names of a large zone: one record, no intermediate arrays.
                        let zone = Int(placed[range.lowerBound].zone), record = Int(placed[range.lowerBound].record)
                        let type = zones[zone].records[record].type
                        if type == .a || type == .aaaa {
                            rrsets.append(RRSetData(address: zones[zone].records[record].data,
                                                    ttl: zones[zone].records[record].ttl, in: addressBytes))
                        } else {
                            rrsets.append(makeRRSet(CollectionOfOne(zones[zone].records[record])))
                        }
                    } else if range.count > 1 {
                        let here = placed[range].map { zones[Int($0.zone)].records[Int($0.record)] }
                        if here.allSatisfy({ $0.type == here[0].type }) {
                            rrsets.append(makeRRSet(here))
                        } else {
                            let types = Set(here.map(\.type)).sorted { $0.rawValue < $1.rawValue }
                            rrsets.append(contentsOf: types.map { type in makeRRSet(here.filter { $0.type == type }) })
                        }
                    }
                }
            }
            firstRRSet[nodes.count] = Int32(rrsets.count)
            for index in nodes.indices {
                nodes[index].firstRRSet = firstRRSet[index]
                nodes[index].rrsetCount = firstRRSet[index + 1] - firstRRSet[index]
            }
            self.rrsets = rrsets
            placed = []
            firstPlaced = []
        }

        /// Step 4: the weighted names, each endpoint's records as RRsets, and each weighted
        /// node's index in `weighted`. `slot` gives each (owner, endpoint id) its permanent
        /// counter/weight slot.
        mutating func buildWeightedSets(slot: (DomainName, String) -> Int) {
            var weightedAt: [(node: Int, set: Int32)] = []
            do {
                let tree = nodes, table = table, addressBytes = addressBytes
                for (zoneIndex, zone) in zones.enumerated() {
                    for weightedName in zone.weighted where deepestZone(weightedName.owner) == zoneIndex {
                        let endpoints = weightedName.endpoints.map { endpoint in
                            let records = endpoint.records
                            func set(_ type: RRType) -> RRSetData? {
                                let matching = records.filter { $0.type == type }
                                return matching.isEmpty ? nil : Self.makeRRSet(matching, table: table, nodes: tree, addressBytes: addressBytes)
                            }
                            return WeightedSet.Endpoint(slot: slot(weightedName.owner, endpoint.id),
                                                        cname: set(.cname), a: set(.a), aaaa: set(.aaaa), storage: addressBytes)
                        }
                        weightedAt.append((Int(table.lookup(weightedName.owner.lowercasedWire)), Int32(weighted.count)))
                        weighted.append(WeightedSet(owner: weightedName.owner, endpoints: endpoints,
                                                    isCNAME: endpoints.contains { $0.cname != nil }))
                    }
                }
            }
            for (index, set) in weightedAt { nodes[index].weighted = set }
        }

        /// Each zone's origin, apex node, SOA and negative TTL.
        func zoneInfos() -> [ZoneInfo] {
            zones.map { zone in
                guard case .soa(let soa) = zone.soa.data else { preconditionFailure("zone without SOA passed validation") }
                return ZoneInfo(origin: zone.origin, file: zone.file, apex: table.lookup(zone.origin.lowercasedWire),
                                soa: zone.soa.data, negativeTTL: min(zone.soa.ttl, soa.minimum), soaTTL: zone.soa.ttl, serial: soa.serial)
            }
        }
    }
}
