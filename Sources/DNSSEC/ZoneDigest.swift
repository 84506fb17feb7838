// A digest of a zone's served data, so servers in one cluster can tell they serve the same
// zones (README "The expected cluster"). The records go in the canonical form of RFC 4034 §6.
import DNSWire

/// SHA-256 over a zone's records in canonical form: equal on two servers that serve the same
/// records, whatever the order, the case or the layout of their zone files.
public enum ZoneDigest {
    /// The largest RDATA a record can carry (RDLENGTH is 16 bits).
    static let maxRDATA = 65_535

    /// SHA-256 of `records`, each in canonical wire form (owner and RDATA names lower-cased
    /// where RFC 4034 §6.2 says so), sorted as octet strings with duplicates once, followed by
    /// `extra` (what else defines the zone as served: endpoint ids and weights).
    public static func sha256(_ records: [ResourceRecord], extra: [UInt8] = []) throws(DNSSECError) -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxRDATA + 1024, alignment: 8)
        defer { buffer.deallocate() }
        var encoded: [[UInt8]] = []
        encoded.reserveCapacity(records.count)
        for record in records {
            var writer = WireWriter(buffer)
            do { try record.data.encode(into: &writer, compress: false) } catch {
                throw DNSSECError("encoding \(record.name) \(record.type): \(error)")
            }
            let rdata = Canonical.rdata(Array(UnsafeRawBufferPointer(rebasing: buffer[0..<writer.count])), type: record.type.rawValue)
            var out = record.name.lowercasedWire
            Canonical.append16(record.type.rawValue, to: &out)
            Canonical.append16(Canonical.classIN, to: &out)
            Canonical.append32(record.ttl, to: &out)
            Canonical.append16(UInt16(rdata.count), to: &out)
            out += rdata
            encoded.append(out)
        }
        encoded.sort { $0.lexicographicallyPrecedes($1) }
        var all: [UInt8] = []
        var previous: [UInt8]?
        for record in encoded where record != previous {
            all += record
            previous = record
        }
        return try CryptoCall.digest(bits: 256, all + extra)
    }

    /// Lower-case hexadecimal of `digest`, as the cluster view shows it.
    public static func hex(_ digest: [UInt8]) -> String {
        Presentation.hex(digest).lowercased()
    }
}
