import DNSWire

/// The NSEC chain of one signed zone (RFC 4034 §4, RFC 4035 §2.3), built at load: every
/// authoritative name that holds data, and every delegation point, in canonical order, each
/// pointing at the next and the last back at the apex. Empty non-terminals are not in it
/// (their existence shows as the NSEC that covers them, whose next name lies below them),
/// nor are names below a cut (glue): RFC 4035 §2.3.
///
/// NSEC rather than NSEC3: Veer's zones are the operator's own public names (an API's
/// hostnames, not a registry's list of customers), so walking the chain gives away nothing
/// a zone's users do not see; NSEC answers are smaller, every validator handles them, and
/// there is no hashing at load or per negative answer (README "DNSSEC").
struct NSECChain {
    /// Node indices in canonical order (RFC 4034 §6.1), the apex first.
    let nodes: [Int32]

    /// The chain of zone `zone` over `nodes`: the names that belong in it, sorted.
    init(zone: Int32, nodes tree: [Node]) {
        var members: [Int32] = []
        for index in tree.indices where tree[index].zone == zone && Self.belongs(tree[index], at: index) {
            members.append(Int32(index))
        }
        members.sort { a, b in
            tree[Int(a)].name.wire.withUnsafeBytes { x in
                tree[Int(b)].name.wire.withUnsafeBytes { y in canonicalCompare(x, y) < 0 }
            }
        }
        nodes = members
    }

    /// True for a name that has an NSEC: the apex, a name with data at or above every cut, a
    /// delegation point; not an empty non-terminal, not a name below a cut.
    static func belongs(_ node: Node, at index: Int) -> Bool {
        if node.isApex { return true }
        if node.cut >= 0 { return node.cut == Int32(index) }
        return node.rrsetCount > 0 || node.weighted >= 0
    }

    /// The types of `node`'s NSEC bitmap: its RRsets (at a cut, NS and DS only: the rest is
    /// glue), each endpoint's types for a weighted name, DNSKEY at the apex, and always RRSIG
    /// and NSEC (the NSEC itself is signed).
    static func types(of node: Node, at index: Int, rrsets: [RRSetData], weighted: [WeightedSet]) -> [RRType] {
        var types: Set<UInt16> = [RRType.rrsig.rawValue, RRType.nsec.rawValue]
        let isCut = node.cut == Int32(index) && !node.isApex
        for set in node.rrsetIndices where !isCut || rrsets[set].type == .ns || rrsets[set].type == .ds {
            types.insert(rrsets[set].type.rawValue)
        }
        if node.weighted >= 0 {
            for endpoint in weighted[Int(node.weighted)].endpoints {
                if endpoint.cname != nil { types.insert(RRType.cname.rawValue) }
                if endpoint.a != nil { types.insert(RRType.a.rawValue) }
                if endpoint.aaaa != nil { types.insert(RRType.aaaa.rawValue) }
            }
        }
        if node.isApex { types.insert(RRType.dnskey.rawValue) }
        return types.sorted().map { RRType(rawValue: $0) }
    }

    /// NSEC RDATA (RFC 4034 §4.1): the next owner name, lowercased and uncompressed, then the
    /// type bitmap. Lowercase whichever way a validator reads RFC 4034 §6.2 (RFC 6840 §5.1
    /// took NSEC out of its list): the bytes are the same canonical or not.
    static func rdata(next: DomainName, types: [RRType]) -> [UInt8] {
        next.lowercasedWire + typeBitmap(types)
    }

    /// The type bitmap (RFC 4034 §4.1.2): for each window of 256 types that has any, its
    /// number, the length of its bitmap up to the last byte with a bit set, and the bitmap.
    static func typeBitmap(_ types: [RRType]) -> [UInt8] {
        var windows: [UInt8: [UInt8]] = [:]
        for type in types {
            let window = UInt8(type.rawValue >> 8), low = Int(type.rawValue & 0xFF)
            var bits = windows[window] ?? []
            if bits.count <= low / 8 { bits += [UInt8](repeating: 0, count: low / 8 + 1 - bits.count) }
            bits[low / 8] |= 0x80 >> UInt8(low % 8)
            windows[window] = bits
        }
        var out: [UInt8] = []
        for window in windows.keys.sorted() {
            let bits = windows[window]!
            out += [window, UInt8(bits.count)] + bits
        }
        return out
    }
}

/// Canonical order of two uncompressed wire names (RFC 4034 §6.1): labels compared from the
/// right, as octet strings with ASCII case folded, a shorter label before a longer one it
/// begins, a name before its descendants. Negative, zero or positive. Allocates nothing: it
/// runs per negative answer to find the NSEC that covers a name.
@inline(__always)
func canonicalCompare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    // Where each label starts; a name has at most 127 labels and offsets below 255.
    var aStarts = InlineArray<128, UInt8>(repeating: 0)
    var bStarts = InlineArray<128, UInt8>(repeating: 0)
    var aCount = 0, bCount = 0, offset = 0
    while a[offset] != 0 { aStarts[aCount] = UInt8(offset); aCount += 1; offset += 1 + Int(a[offset]) }
    offset = 0
    while b[offset] != 0 { bStarts[bCount] = UInt8(offset); bCount += 1; offset += 1 + Int(b[offset]) }
    var i = aCount - 1, j = bCount - 1
    while i >= 0 && j >= 0 {
        let x = Int(aStarts[i]), y = Int(bStarts[j])
        let xLength = Int(a[x]), yLength = Int(b[y])
        for k in 1...max(1, min(xLength, yLength)) where k <= min(xLength, yLength) {
            let p = asciiLower(a[x + k]), q = asciiLower(b[y + k])
            if p != q { return Int(p) - Int(q) }
        }
        if xLength != yLength { return xLength - yLength }
        i -= 1
        j -= 1
    }
    return aCount - bCount
}
