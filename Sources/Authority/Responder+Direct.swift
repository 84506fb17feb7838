import DNSWire
import Traffic

/// The fast path: answers copied from what `DirectAnswers` holds ready, taken only while
/// `useDirectAnswers` is set. Each must give the bytes the general path (`Responder.swift`)
/// would write for the same query and draws; `DirectAnswerOracleTests` and the fuzz target
/// (fuzz/RespondFuzz.swift) compare the two.
extension Responder {
    /// Answers from the precomputed records (`DirectAnswers`): an A or AAAA question at a
    /// plain name, or at a weighted address name after choosing its endpoint; asked by the
    /// name's own name (`exact`, not through a wildcard, whose compression offsets differ):
    /// any question at a CNAME name, plain or weighted, the chain then followed, and an MX,
    /// SRV or NS question with its additional addresses. Nil when the general path must
    /// answer (another kind of name, nothing to choose, an endpoint without such records).
    @inline(__always)
    func answerDirectly(_ node: Int32, qtype: RRType, from direct: DirectAnswers, exact: Bool) throws(WireError) -> Outcome? {
        let address = qtype == .a || qtype == .aaaa
        let aaaa = qtype == .aaaa
        let recordSize = aaaa ? 28 : 16
        if address {
            let plain = direct.answer(node, aaaa: aaaa)
            if plain.count > 0 {
                try writer.bytes(plain)
                state.answerCount = UInt16(plain.count / recordSize)
                return Outcome(rcode: .noError, authoritative: true)
            }
        }
        let slots = direct.slots(node)
        // A CNAME's target is what the records after it point to, as the general path writes
        // them, only when the writer remembers it: after a question of up to 63 labels
        // (127 octets at most), which leave room in its 64 targets.
        let cnameFits = exact && state.qnameLength <= 2 * (WireWriter.maxCompressionTargets - 1) + 1
        guard slots.count > 0 else {
            guard exact else { return nil }
            let (record, target) = direct.plainCNAME(node)
            if record.count > 0 {
                guard cnameFits else { return nil }
                let start = writer.count
                try writer.bytes(record)
                state.answerCount = 1
                return try followDirectCNAME(at: start, to: target, from: node, qtype: qtype)
            }
            // MX, SRV or NS with its additional addresses, when all of it fits;
            // otherwise the general path decides what to leave out.
            let (records, answers, additionals) = direct.records(node, type: qtype)
            if records.count > 0 && writer.count + records.count <= writer.limit {
                try writer.bytes(records)
                state.answerCount = answers
                state.additionalCount = additionals
                return Outcome(rcode: .noError, authoritative: true)
            }
            return nil
        }
        if address && direct.cname(node, endpoint: 0).record.count == 0 {
            guard let chosen = pick(slots, family: aaaa ? .aaaa : .a) else { return nil }
            let (records, ttl) = direct.answer(node, endpoint: chosen, aaaa: aaaa)
            guard records.count > 0 else { return nil }
            let start = writer.count
            try writer.bytes(records)
            state.answerCount = UInt16(records.count / recordSize)
            patchTTL(at: start + 6, every: recordSize, count: Int(state.answerCount), ttl: ttl, slot: slots[chosen])
            return Outcome(rcode: .noError, authoritative: true)
        }
        guard cnameFits, direct.cname(node, endpoint: 0).record.count > 0, let chosen = pick(slots, family: .any) else { return nil }
        let (record, ttl, target) = direct.cname(node, endpoint: chosen)
        guard record.count > 0 else { return nil }
        let start = writer.count
        try writer.bytes(record)
        state.answerCount = 1
        patchTTL(at: start + 6, every: record.count, count: 1, ttl: ttl, slot: slots[chosen])
        return try followDirectCNAME(at: start, to: target, from: node, qtype: qtype)
    }

    /// After a precomputed CNAME record written at `start` for `node`: the rest of the chain,
    /// unless the question asked for the CNAME itself (or ANY: one RRset is enough).
    @inline(__always)
    func followDirectCNAME(at start: Int, to target: Resolution, from node: Int32, qtype: RRType) throws(WireError) -> Outcome {
        guard qtype != .cname, qtype != .any else { return Outcome(rcode: .noError, authoritative: true) }
        // The target name starts after owner pointer, TYPE, CLASS, TTL and RDLENGTH (`rdata`).
        // Names written after it compress against it, as after a CNAME written name by name.
        switch target {
        case .node(let next), .wildcard(let next):
            // A CNAME to itself: the loop closes here, as in `answer(node:owner:qtype:after:)`.
            guard next != node else { return Outcome(rcode: .noError, authoritative: true) }
            let rdata = start &+ 12
            writer.addCompressionTargets(ofNameAt: rdata)
            state.lastRData = rdata
            return try answer(node: next, owner: .pointer(UInt16(pointerTarget(ofNameAt: rdata))), qtype: qtype, after: node)
        case .nxdomain(let zone):
            writer.addCompressionTargets(ofNameAt: start &+ 12)
            try writeNegative(zone: zone)
            return Outcome(rcode: .nxDomain, authoritative: true)
        case .referral, .outside:
            return Outcome(rcode: .noError, authoritative: true)
        }
    }

    /// Where a pointer to the name at `offset` (a CNAME's target) leads when the general path
    /// writes it: to the name itself, or, when the name is nothing but a pointer, where that
    /// pointer leads.
    @inline(__always)
    func pointerTarget(ofNameAt offset: Int) -> Int {
        let first = writer.buffer[offset]
        guard first & DomainName.labelTypeMask == DomainName.pointerLabel else { return offset }
        return Int(first & DomainName.pointerOffsetMask) << 8 | Int(writer.buffer[offset + 1])
    }

    /// Sets the TTL of `count` copied records, `every` bytes apart from `at`, to `slot`'s
    /// capped TTL when a `ttl-shift=` caps it below `ttl`.
    @inline(__always)
    func patchTTL(at: Int, every: Int, count: Int, ttl: UInt32, slot: Int) {
        let capped = snapshot.weights.ttl(slot, ttl)
        guard capped != ttl else { return }
        for record in 0..<count {
            writer.patch16(UInt16(truncatingIfNeeded: capped >> 16), at: at + record * every)
            writer.patch16(UInt16(truncatingIfNeeded: capped), at: at + record * every + 2)
        }
    }

    /// The end of a CNAME chain at the plain name `node`, for an A (or, `aaaa`, AAAA)
    /// question: its precomputed records, each owned by the CNAME target just written (at
    /// `state.lastRData`, see `pointerTarget`). False when it has none, or the target is out
    /// of a pointer's reach.
    @inline(__always)
    func answerChainEndDirectly(_ node: Int32, aaaa: Bool, from direct: DirectAnswers) throws(WireError) -> Bool {
        // The general path points at the target only if the writer remembered it (a copied
        // CNAME's target waits to be registered, and `answerDirectly` made sure it will be).
        guard state.lastRData <= WireWriter.maxPointerOffset, writer.hasRoomForTargets else { return false }
        let records = direct.answer(node, aaaa: aaaa)
        guard records.count > 0 else { return false }
        let owner = pointerTarget(ofNameAt: state.lastRData)
        let recordSize = aaaa ? 28 : 16
        let start = writer.count
        try writer.bytes(records)
        let pointer = DomainName.pointerFlags | UInt16(owner)
        for record in 0..<(records.count / recordSize) {
            writer.patch16(pointer, at: start + record * recordSize)
            state.answerCount += 1
        }
        return true
    }
}
