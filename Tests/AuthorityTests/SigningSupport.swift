@testable import Authority
import DNSWire
import TestSupport
import Traffic

/// Signatures shaped like real ones (RFC 4034 §3.1 RDATA, algorithm 13, a 64-octet value
/// that is not a real signature) for every set of `data`'s zones: enough to check where
/// RRSIGs and NSEC records go in answers. Real signatures are checked by real validators
/// (IntegrationTests/DNSSECValidationTests.swift).
func fakeSignatures(_ data: ZoneData, origins: [String]? = nil) throws -> ZoneSignatures {
    let signed = try (origins ?? data.zones.map { $0.origin.description }).map { try DomainName($0) }
    let plan = SigningPlan(data, dnskeys: Dictionary(uniqueKeysWithValues: signed.map { ($0, [fakeDNSKEY]) }))
    let signatures = plan.zones.map { zone in
        zone.sets.map { set in [fakeRRSIG(set, signer: zone.origin)] }
    }
    return ZoneSignatures(plan, signatures: signatures, over: data)
}

/// A DNSKEY RDATA: flags 257 (a CSK), protocol 3, algorithm 13, 64 octets of key.
let fakeDNSKEY: [UInt8] = [1, 1, 3, 13] + [UInt8](repeating: 0xAB, count: 64)

/// An RRSIG RDATA for `set`: type covered, algorithm 13, labels (a wildcard's `*` not
/// counted), original TTL, expiration, inception, key tag 4242, signer, 64 octets that
/// begin with the set's first RDATA (so a test can tell whose signature it got).
func fakeRRSIG(_ set: SigningPlan.RRset, signer: DomainName) -> [UInt8] {
    var labels = set.owner.labelCount
    if set.owner.wire.count > 2, set.owner.wire[0] == 1, set.owner.wire[1] == UInt8(ascii: "*") { labels -= 1 }
    func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)] }
    return [UInt8(set.type.rawValue >> 8), UInt8(set.type.rawValue & 0xFF), 13, UInt8(labels)] + be32(set.ttl)
        + be32(2_000_000_000) + be32(1_900_000_000) + [0x10, 0x92] + signer.lowercasedWire
        + Array((set.rdatas[0] + [UInt8](repeating: 0xCD, count: 64)).prefix(64))
}

/// An exchange with a snapshot that carries `signatures`.
func signedExchange(_ data: ZoneData, signatures: ZoneSignatures, weights: WeightTable? = nil) -> Exchange {
    Exchange(responder: Responder(snapshot: Snapshot(zones: data, weights: weights ?? zoneWeights(data), generation: 1,
                                                     signatures: signatures),
                                  random: ScriptedRandom([])))
}
