import DNSWire

/// The DNSSEC records of one `ZoneData`, made in advance (README "DNSSEC"): the RRSIGs of
/// every RRset and of each weighted endpoint's RRsets, each signed zone's DNSKEY RRset and
/// NSEC chain with their RRSIGs, in wire form after the owner name (TYPE, CLASS, TTL,
/// RDLENGTH, RDATA), as `RRSetData.wire` keeps addresses. A DO=1 answer copies them; nothing
/// is signed per query. Built from a `SigningPlan` and the signatures the signer made for
/// it; a re-signing builds a new one for the same zone data, published in a new snapshot.
public final class ZoneSignatures: @unchecked Sendable {
    /// Where some records lie in `pool` (length 0: none).
    struct Section {
        var offset: UInt32 = 0
        var length: UInt32 = 0
    }

    /// One name of an NSEC chain: its node and where its wire name lies in `pool`.
    struct Link {
        var node: Int32
        var name: Section
    }

    /// Per zone of the zone data: signed or not.
    private let signed: [Bool]
    /// Per RRset of `ZoneData.rrsets`: its RRSIG records.
    private let rrsetSignatures: UnsafeMutablePointer<Section>
    private let rrsetCount: Int
    /// Per weighted set: where its endpoints' entries start in `endpointSignatures`, three
    /// per endpoint (CNAME, A, AAAA).
    private let endpointFirst: [Int]
    private let endpointSignatures: UnsafeMutablePointer<Section>
    private let endpointCount: Int
    /// Per node: its NSEC record followed by the NSEC's RRSIGs; empty off the chain.
    private let nsecs: UnsafeMutablePointer<Section>
    private let nodeCount: Int
    /// Per zone: the DNSKEY records followed by their RRSIGs.
    private let dnskeys: [Section]
    /// Per zone: its chain in `links`, in canonical order.
    private let chains: [Range<Int>]
    private let links: UnsafeMutablePointer<Link>
    private let linkCount: Int
    private let pool: UnsafeMutableRawPointer
    /// Signatures made for the plan this was built from (not from the cache): the log line.
    public let made: Int
    /// RRSIGs kept, made or reused.
    public let signatureCount: Int

    /// The signatures of `plan` (made over `data`), `signatures[z][s]` the RRSIG RDATA of set
    /// `s` of the plan's zone `z`. `made` is only reported.
    public init(_ plan: SigningPlan, signatures: [[[[UInt8]]]], over data: ZoneData, made: Int = 0) {
        precondition(signatures.count == plan.zones.count, "one list of signatures per planned zone")
        var bytes: [UInt8] = []
        var signed = [Bool](repeating: false, count: data.zones.count)
        var rrsetSections = [Section](repeating: Section(), count: data.rrsets.count)
        var endpointFirst: [Int] = []
        var total = 0
        for set in data.weighted {
            endpointFirst.append(total)
            total += 3 * set.endpoints.count
        }
        var endpointSections = [Section](repeating: Section(), count: total)
        var nsecSections = [Section](repeating: Section(), count: data.nodes.count)
        var dnskeySections = [Section](repeating: Section(), count: data.zones.count)
        var chains = [Range<Int>](repeating: 0..<0, count: data.zones.count)
        var links: [Link] = []
        var count = 0

        func append(_ type: RRType, ttl: UInt32, _ rdata: [UInt8]) {
            bytes += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, UInt8(RRClass.in.rawValue)]
            bytes += [UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF), UInt8((ttl >> 8) & 0xFF), UInt8(ttl & 0xFF)]
            bytes += [UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
        }
        for (zonePlan, zoneSignatures) in zip(plan.zones, signatures) {
            precondition(zoneSignatures.count == zonePlan.sets.count, "one signature list per planned set")
            signed[zonePlan.index] = true
            for (set, rrsigs) in zip(zonePlan.sets, zoneSignatures) {
                let start = bytes.count
                if set.type == .dnskey || set.type == .nsec {
                    for rdata in set.rdatas { append(set.type, ttl: set.ttl, rdata) }
                }
                for rrsig in rrsigs { append(.rrsig, ttl: set.ttl, rrsig) }
                count += rrsigs.count
                let section = Section(offset: UInt32(start), length: UInt32(bytes.count - start))
                switch set.place {
                case .rrset(let index): rrsetSections[index] = section
                case .endpoint(let weightedSet, let endpoint, let kind): endpointSections[endpointFirst[weightedSet] + 3 * endpoint + kind] = section
                case .nsec(let node): nsecSections[node] = section
                case .dnskey(let zone): dnskeySections[zone] = section
                }
            }
            let first = links.count
            for node in zonePlan.chain {
                let start = bytes.count
                bytes += data.nodes[Int(node)].name.lowercasedWire
                links.append(Link(node: node, name: Section(offset: UInt32(start), length: UInt32(bytes.count - start))))
            }
            chains[zonePlan.index] = first..<links.count
        }
        self.signed = signed
        self.endpointFirst = endpointFirst
        dnskeys = dnskeySections
        self.chains = chains
        self.made = made
        signatureCount = count
        let pool = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 8)
        bytes.withUnsafeBytes { if let base = $0.baseAddress { pool.copyMemory(from: base, byteCount: $0.count) } }
        self.pool = pool
        rrsetCount = rrsetSections.count
        rrsetSignatures = Self.storage(rrsetSections, empty: Section())
        endpointCount = endpointSections.count
        endpointSignatures = Self.storage(endpointSections, empty: Section())
        nodeCount = nsecSections.count
        nsecs = Self.storage(nsecSections, empty: Section())
        linkCount = links.count
        self.links = Self.storage(links, empty: Link(node: -1, name: Section()))
    }

    /// `list` in storage of its own (one `empty` element when it has none).
    private static func storage<Element>(_ list: [Element], empty: Element) -> UnsafeMutablePointer<Element> {
        let buffer = UnsafeMutablePointer<Element>.allocate(capacity: max(1, list.count))
        if list.isEmpty { buffer.initialize(to: empty) } else { _ = UnsafeMutableBufferPointer(start: buffer, count: list.count).initialize(from: list) }
        return buffer
    }

    deinit {
        rrsetSignatures.deinitialize(count: max(1, rrsetCount))
        rrsetSignatures.deallocate()
        endpointSignatures.deinitialize(count: max(1, endpointCount))
        endpointSignatures.deallocate()
        nsecs.deinitialize(count: max(1, nodeCount))
        nsecs.deallocate()
        links.deinitialize(count: max(1, linkCount))
        links.deallocate()
        pool.deallocate()
    }

    @inline(__always)
    private func bytes(_ section: Section) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: pool + Int(section.offset), count: Int(section.length))
    }

    /// True when zone `zone` (index in `ZoneData.zones`) is signed.
    @inline(__always)
    func isSigned(_ zone: Int32) -> Bool { zone >= 0 && Int(zone) < signed.count && signed[Int(zone)] }

    /// The RRSIGs of `ZoneData.rrsets[index]`.
    @inline(__always)
    func signatures(ofRRSet index: Int) -> UnsafeRawBufferPointer { bytes(rrsetSignatures[index]) }

    /// The RRSIGs of weighted set `set`'s endpoint `endpoint`, `kind` 0 CNAME, 1 A, 2 AAAA.
    @inline(__always)
    func signatures(ofEndpoint endpoint: Int, in set: Int, kind: Int) -> UnsafeRawBufferPointer {
        bytes(endpointSignatures[endpointFirst[set] + 3 * endpoint + kind])
    }

    /// Node `node`'s NSEC record and its RRSIGs; empty when it has none.
    @inline(__always)
    func nsec(_ node: Int32) -> UnsafeRawBufferPointer { bytes(nsecs[Int(node)]) }

    /// Zone `zone`'s DNSKEY records and their RRSIGs.
    @inline(__always)
    func dnskey(_ zone: Int32) -> UnsafeRawBufferPointer { bytes(dnskeys[Int(zone)]) }

    /// The node whose NSEC covers `name` in zone `zone`: `name` itself when it is on the
    /// chain, else the last name before it in canonical order (RFC 4034 §6.1). -1 when the
    /// zone has no chain. Binary search over the chain; allocates nothing.
    func covering(_ name: UnsafeRawBufferPointer, zone: Int32) -> Int32 {
        let range = chains[Int(zone)]
        guard !range.isEmpty else { return -1 }
        var low = range.lowerBound, high = range.upperBound
        // Invariant: links before `low` sort at or before `name`; from `high` on, after it.
        while low < high {
            let middle = (low + high) / 2
            if canonicalCompare(bytes(links[middle].name), name) <= 0 { low = middle + 1 } else { high = middle }
        }
        // The apex sorts before every name of its zone.
        return links[max(range.lowerBound, low - 1)].node
    }
}
