import DNSWire
import Traffic

/// `_veer.NAME` status queries (README "The served split" and "DNSSEC"): the migration state
/// of a weighted name as TXT, to allowed clients; in class CH too; hidden from validating
/// resolvers in a signed zone.
extension Responder {
    /// True when the question's first label is `_veer` (any case) and there are weighted
    /// names: one byte compare for every other query.
    var isStatusQuery: Bool {
        // One byte first: the label array is only loaded for a first label "_????".
        guard qname[1] == UInt8(ascii: "_") else { return false }
        let label = StatusRecords.label
        guard state.qnameLength > label.count + 2, qname[0] == UInt8(label.count), !snapshot.status.isEmpty else { return false }
        for i in 0..<label.count where qname[1 + i] != label[i] { return false }
        return true
    }

    /// In a signed zone an IN status query with DO=1, as every validating resolver sends,
    /// is answered as the zone answers without the status feature (a signed NXDOMAIN or
    /// NODATA, which validates); `dig` (DO=0) and class CH still get the TXT (README "DNSSEC").
    var statusHiddenByDNSSEC: Bool {
        guard state.dnssec, let signatures = snapshot.signatures else { return false }
        switch snapshot.zones.resolve(statusSubject, scratch: scratch) {
        case .node(let node), .wildcard(let node): return signatures.isSigned(snapshot.zones.nodes[Int(node)].zone)
        case .nxdomain(let zone): return signatures.isSigned(zone)
        case .referral(let cut): return signatures.isSigned(snapshot.zones.nodes[Int(cut)].zone)
        case .outside: return false
        }
    }

    /// `_veer.NAME` in class CH: the status TXT (class CH, TTL 0) to allowed clients, which
    /// no resolver validates; REFUSED otherwise, and for names that are not weighted.
    func answerStatusInChaos(_ response: inout ResponseHeader, qtype: RRType, allowed: Bool, edns: ClientEDNS?) -> Answered {
        guard allowed, let strings = snapshot.status.strings(forWire: statusSubject) else {
            return finish(&response, rcode: .refused, question: true, edns: edns)
        }
        response.aa = true
        if qtype == .txt || qtype == .any {
            do throws(WireError) {
                try writeOwner(.question)
                try writer.u16(RRType.txt.rawValue)
                try writer.u16(RRClass.chaos.rawValue)
                try writer.u32(0)
                let lengthAt = writer.count
                try writer.u16(0)
                try RData.txt(strings).encode(into: &writer, compress: false)
                writer.patch16(UInt16(writer.count - lengthAt - 2), at: lengthAt)
                state.answerCount = 1
            } catch {
                truncate(&response)
            }
        }
        return finish(&response, rcode: .noError, question: true, edns: edns)
    }

    /// The name a status query asks about: the question without its `_veer` label.
    var statusSubject: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: qname[(StatusRecords.label.count + 1)..<state.qnameLength])
    }

    /// TXT with the status strings (TTL 0: it changes with every weight); other types get
    /// NODATA with the zone's SOA, as for any name that has only TXT.
    func answerStatus(_ strings: [[UInt8]], qtype: RRType) throws(WireError) {
        if qtype == .txt || qtype == .any {
            try writeRecord(.question, .txt, ttl: 0, .txt(strings))
            state.answerCount = 1
            return
        }
        let zones = snapshot.zones
        switch zones.resolve(statusSubject, scratch: scratch) {
        case .node(let node), .wildcard(let node):
            try writeNegative(zone: zones.nodes[Int(node)].zone)
        case .nxdomain(let zone):
            try writeNegative(zone: zone)
        case .referral, .outside:
            break
        }
    }
}
