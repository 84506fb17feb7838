import DNSSEC
import DNSWire
import Posix

/// The signed zones in `status`: each zone's published keys with their state, and when the
/// signatures are next renewed (README "DNSSEC").
extension StatusReport {
    /// One signed zone as `status` shows it.
    struct SignedZone: Codable, Equatable {
        struct Key: Codable, Equatable {
            var tag: UInt16
            var algorithm: String
            var state: String
            /// When the key entered its state (RFC 3339).
            var since: String
        }
        var zone: String
        var keys: [Key]
    }

    /// What `ZoneSigning` served last: zones in canonical order, keys by tag.
    static func signedZones(of keys: [DomainName: [KeyRecord]]) -> [SignedZone] {
        keys.sorted { $0.key.description.lowercased() < $1.key.description.lowercased() }.map { zone, records in
            SignedZone(zone: zone.description, keys: records.sorted { $0.tag < $1.tag }.map {
                .init(tag: $0.tag, algorithm: $0.algorithm.name, state: $0.state.rawValue, since: Log.timestamp(Int64($0.since)))
            })
        }
    }

    /// `dnssec: example.com. key 35214 ecdsap256sha256 active since …, key 4711 … published since …`,
    /// one line per signed zone, then when the next renewal is due.
    static func dnssecLines(_ zones: [SignedZone], nextRenewal: String?) -> [String] {
        guard !zones.isEmpty else { return [] }
        var lines = zones.map { zone in
            "dnssec: \(zone.zone) " + zone.keys.map { "key \($0.tag) \($0.algorithm) \($0.state) since \($0.since)" }.joined(separator: ", ")
        }
        if let nextRenewal { lines.append("dnssec: signatures next renewed at \(nextRenewal)") }
        return lines
    }
}
