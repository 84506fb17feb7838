import DNSWire
import Traffic

/// Signed answers (RFC 4035 §3.1): for a query with DO=1 to a signed zone, the RRSIGs of
/// every RRset in the answer and authority sections, and the NSEC records that prove a name
/// or type absent, a wildcard's use, or a delegation's lack of DS. Everything is copied from
/// the `ZoneSignatures` made at load; nothing is signed here. Such queries take the general
/// path only (the fast path declines them); DO=0 queries and unsigned zones answer as before.
extension Responder {
    /// The most NSEC records one answer needs: NXDOMAIN's two (the name and the wildcard), a
    /// wildcard NODATA's two, a third for a wildcard met along a CNAME chain.
    static var maxProofs: Int { 4 }

    /// True when this query gets DNSSEC records from zone `zone`: DO=1 and the zone signed.
    @inline(__always)
    func signs(_ zone: Int32) -> Bool {
        guard state.dnssec, let signatures = snapshot.signatures else { return false }
        return signatures.isSigned(zone)
    }

    /// Writes the records of `section` (wire form after the owner, back to back), each owned
    /// by `owner`, with `ttl` when given (a `ttl-shift=` cap: the RRSIG's TTL follows its
    /// RRset's, its original TTL stays in its RDATA); RRSIGs only when `signatures`. Returns
    /// how many were written.
    @discardableResult
    func writeRecords(_ owner: Owner, _ section: UnsafeRawBufferPointer, ttl: UInt32? = nil,
                      signatures: Bool = true) throws(WireError) -> UInt16 {
        var offset = 0, written: UInt16 = 0
        while offset + 10 <= section.count {
            let size = 10 + Int(read16(section, offset + 8))
            let isSignature = read16(section, offset) == RRType.rrsig.rawValue
            if signatures || !isSignature {
                try writeOwner(owner)
                let at = writer.count
                try writer.bytes(UnsafeRawBufferPointer(rebasing: section[offset..<(offset + size)]))
                if let ttl {
                    writer.patch16(UInt16(truncatingIfNeeded: ttl >> 16), at: at + 4)
                    writer.patch16(UInt16(truncatingIfNeeded: ttl), at: at + 6)
                }
                written += 1
            }
            offset += size
        }
        return written
    }

    /// The RRSIGs of `ZoneData.rrsets[index]` in the answer section, when the query is signed.
    func signAnswer(_ owner: Owner, rrset index: Int, zone: Int32, ttl: UInt32? = nil) throws(WireError) {
        guard signs(zone), let signatures = snapshot.signatures else { return }
        state.answerCount += try writeRecords(owner, signatures.signatures(ofRRSet: index), ttl: ttl)
    }

    /// The RRSIGs of endpoint `endpoint` of weighted set `set` (`kind` 0 CNAME, 1 A, 2 AAAA):
    /// the chosen endpoint's own signature.
    func signAnswer(_ owner: Owner, endpoint: Int, in set: Int32, kind: Int, zone: Int32, ttl: UInt32) throws(WireError) {
        guard signs(zone), let signatures = snapshot.signatures else { return }
        state.answerCount += try writeRecords(owner, signatures.signatures(ofEndpoint: endpoint, in: Int(set), kind: kind), ttl: ttl)
    }


    /// The SOA's RRSIG after a negative answer's SOA (authority section).
    func signNegative(zone: Int32) throws(WireError) {
        guard signs(zone), let signatures = snapshot.signatures else { return }
        let zones = snapshot.zones
        let info = zones.zones[Int(zone)]
        guard let soa = zones.nodes[Int(info.apex)].rrset(.soa, in: zones.rrsets) else { return }
        state.authorityCount += try writeRecords(.name(info.origin), signatures.signatures(ofRRSet: soa), ttl: info.negativeTTL)
    }

    /// Keeps node `node`'s NSEC for the authority section, once.
    func addProof(_ node: Int32) {
        guard node >= 0 else { return }
        for index in 0..<state.proofCount where proofs[index] == node { return }
        guard state.proofCount < Self.maxProofs else { return }
        proofs[state.proofCount] = node
        state.proofCount += 1
    }

    /// NODATA at node `node` (RFC 4035 §3.1.3.1): its own NSEC, whose bitmap lacks the type;
    /// for an empty non-terminal, which has none, the NSEC that covers its name, whose next
    /// name lies below it.
    func proveNoData(_ node: Int32) {
        guard let signatures = snapshot.signatures else { return }
        let zones = snapshot.zones
        if signatures.nsec(node).count > 0 {
            addProof(node)
        } else {
            zones.nodes[Int(node)].name.wire.withUnsafeBytes { addProof(signatures.covering($0, zone: zones.nodes[Int(node)].zone)) }
        }
    }

    /// The name `name` (uncompressed, any case) does not exist but a wildcard answered for
    /// it (RFC 4035 §3.1.3.3): the NSEC covering it shows no closer match.
    func proveNoCloserMatch(_ name: UnsafeRawBufferPointer, zone: Int32) {
        guard let signatures = snapshot.signatures else { return }
        addProof(signatures.covering(name, zone: zone))
    }

    /// NXDOMAIN for `name` (lowercased, uncompressed) in zone `zone` (RFC 4035 §3.1.3.2): the
    /// NSEC covering the name, and the one covering the wildcard at its closest encloser
    /// (often the same). `scratch` holds the wildcard name while it is looked up.
    func proveNameError(_ name: UnsafeRawBufferPointer, zone: Int32, scratch: UnsafeMutableRawBufferPointer) {
        guard let signatures = snapshot.signatures else { return }
        let zones = snapshot.zones
        addProof(signatures.covering(name, zone: zone))
        // The closest encloser: the longest suffix that exists (an empty non-terminal too).
        var offset = 0
        while name[offset] != 0 {
            offset += 1 + Int(name[offset])
            let suffix = UnsafeRawBufferPointer(rebasing: name[offset...])
            guard zones.table.lookup(suffix) >= 0 else { continue }
            scratch[0] = 1
            scratch[1] = UInt8(ascii: "*")
            UnsafeMutableRawBufferPointer(rebasing: scratch[2..<(2 + suffix.count)]).copyMemory(from: suffix)
            addProof(signatures.covering(UnsafeRawBufferPointer(rebasing: scratch[0..<(2 + suffix.count)]), zone: zone))
            return
        }
    }

    /// NXDOMAIN at the end of a CNAME chain, for the target `name` (any case).
    func proveNameError(_ name: DomainName, zone: Int32, scratch: UnsafeMutableRawBufferPointer) {
        let length = name.wire.count
        // Lowercased into the second half of `scratch`; the wildcard name is built in the first.
        let half = UnsafeMutableRawBufferPointer(rebasing: scratch[(scratch.count - length)...])
        name.wire.withUnsafeBytes { wire in
            for index in 0..<length { half[index] = asciiLower(wire[index]) }
        }
        proveNameError(UnsafeRawBufferPointer(half), zone: zone,
                       scratch: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<(scratch.count - length)]))
    }

    /// The NSEC records kept by `addProof`, with their RRSIGs, in the authority section.
    func writeProofs() throws(WireError) {
        guard state.proofCount > 0, let signatures = snapshot.signatures else { return }
        let nodes = snapshot.zones.nodes
        for index in 0..<state.proofCount {
            let node = proofs[index]
            state.authorityCount += try writeRecords(.name(nodes[Int(node)].name), signatures.nsec(node))
        }
    }

    /// After a referral's NS records: the cut's DS RRset and its RRSIGs, or the cut's NSEC
    /// proving there is no DS (RFC 4035 §3.1.4).
    func signReferral(cut: Int32) throws(WireError) {
        let zones = snapshot.zones
        let node = zones.nodes[Int(cut)]
        guard signs(node.zone), let signatures = snapshot.signatures else { return }
        if let ds = node.rrset(.ds, in: zones.rrsets) {
            var written: UInt16 = 0
            for index in 0..<zones.rrsets[ds].count {
                try writeRecord(.name(node.name), zones.rrsets[ds], index)
                written += 1
            }
            state.authorityCount += written
            state.authorityCount += try writeRecords(.name(node.name), signatures.signatures(ofRRSet: ds))
        } else {
            addProof(cut)
        }
    }

    /// A DS question at a delegation point of a signed zone: answered by the parent, this
    /// zone (RFC 4035 §3.1.4.1), not referred: the DS RRset, or NODATA with the cut's NSEC.
    func answerDS(cut: Int32) throws(WireError) -> Outcome {
        let zones = snapshot.zones
        let node = zones.nodes[Int(cut)]
        state.subject = cut
        if let ds = node.rrset(.ds, in: zones.rrsets) {
            try writeAnswer(.question, zones.rrsets[ds])
            try signAnswer(.question, rrset: ds, zone: node.zone)
        } else {
            try writeNegative(zone: node.zone)
            try signNegative(zone: node.zone)
            if signs(node.zone) { proveNoData(cut) }
        }
        return Outcome(rcode: .noError, authoritative: true)
    }

    /// True when `name` (lowercased) is the delegation point `cut` itself, not a name below.
    func isCut(_ name: UnsafeRawBufferPointer, _ cut: Int32) -> Bool {
        snapshot.zones.table.lookup(name) == cut
    }
}

extension Responder {
    /// A DNSKEY question at a signed zone's apex (any DO: the keys are data), or an NSEC
    /// question at a name on the chain; nil for anything else.
    func answerDNSSECType(_ node: Int32, qtype: RRType, owner: Owner) throws(WireError) -> Outcome? {
        guard let signatures = snapshot.signatures, qtype == .dnskey || qtype == .nsec else { return nil }
        let zones = snapshot.zones
        let zone = zones.nodes[Int(node)].zone
        guard signatures.isSigned(zone) else { return nil }
        if qtype == .dnskey {
            guard zones.zones[Int(zone)].apex == node else { return nil }
            state.answerCount += try writeRecords(owner, signatures.dnskey(zone), signatures: state.dnssec)
        } else {
            guard signatures.nsec(node).count > 0 else { return nil }
            state.answerCount += try writeRecords(owner, signatures.nsec(node), signatures: state.dnssec)
        }
        return Outcome(rcode: .noError, authoritative: true)
    }
}
