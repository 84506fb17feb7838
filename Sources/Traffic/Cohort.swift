/// Client-stable selection for `select=client` names (README "Client-stable cohorts").
///
/// Weighted rendezvous hashing: for a client key k and each endpoint i with draw weight
/// w_i > 0, a keyed hash gives u_i uniform in (0, 1); the client goes to the endpoint with the
/// smallest −ln(u_i) / w_i. Each −ln(u_i) / w_i is an exponential variable of rate w_i,
/// independent across endpoints, so endpoint i wins with probability w_i / Σw: shares match
/// the weights in expectation. Raising w_i lowers only endpoint i's score, so clients can
/// only move onto i; lowering it raises only i's score, so clients can only leave i; a client
/// whose endpoint and runner-up keep their weights stays where it is. A down endpoint drops
/// out (weight 0) and its clients go to their runner-up, and come back when it heals.
///
/// What no scheme can also do (README): keep a third endpoint's clients exactly in place
/// while weight moves between two others. That would need each endpoint's client set to
/// depend on its own share alone, and three such sets of half the clients each cannot be
/// pairwise disjoint. Here a transfer from A to B moves clients only off A and only onto B.
public enum Cohort {
    /// Index of the chosen endpoint, or nil when every weight is 0. `salt(i)` identifies
    /// endpoint i (`EndpointKey.cohortSalt`), so adding or removing an endpoint leaves the
    /// others' scores alone.
    @inlinable @inline(__always)
    public static func choose(count: Int, weight: (Int) -> UInt32, salt: (Int) -> UInt64,
                              key: CohortKey, seed: CohortSeed) -> Int? {
        let keyed = mix(key.raw ^ seed.k0)
        return choose(count: count, weight: weight, unit: { unit(mix((keyed &+ seed.k1) ^ salt($0))) })
    }

    /// The rendezvous rule over given uniforms `unit(i)` in (0, 1): for exact tests.
    @inlinable @inline(__always)
    public static func choose(count: Int, weight: (Int) -> UInt32, unit: (Int) -> Double) -> Int? {
        var best = -1
        var bestScore = 0.0
        var bestWeight = 0.0
        for i in 0..<count {
            let w = weight(i)
            guard w > 0 else { continue }
            let score = negativeLog(unit(i))
            // score / w < bestScore / bestWeight, without dividing.
            if best < 0 || score * bestWeight < bestScore * Double(w) {
                best = i
                bestScore = score
                bestWeight = Double(w)
            }
        }
        return best < 0 ? nil : best
    }

    /// A 64-bit finalizer (SplitMix64's): every input bit flips about half the output bits.
    @inlinable @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The top 53 bits of `bits` as a Double in (0, 1): never 0, so its logarithm is finite.
    @inlinable @inline(__always)
    public static func unit(_ bits: UInt64) -> Double {
        Double((bits >> 11) | 1) * 0x1p-53
    }

    /// −ln(u) for u in (0, 1], in plain IEEE arithmetic (the stdlib has no logarithm without
    /// Foundation, and every server must compute bit-identical scores): u = m·2^e with m in
    /// [√½, √2), ln m = 2·atanh(t) for t = (m−1)/(m+1), |t| < 0.172, whose series to t^17
    /// is exact to about 1e-16.
    @inlinable @inline(__always)
    public static func negativeLog(_ u: Double) -> Double {
        var exponent = Double(u.exponent)
        var m = u.significand
        if m > 1.4142135623730951 {
            m *= 0.5
            exponent += 1
        }
        let t = (m - 1) / (m + 1)
        let t2 = t * t
        var series = 1.0 / 17
        series = series * t2 + 1.0 / 15
        series = series * t2 + 1.0 / 13
        series = series * t2 + 1.0 / 11
        series = series * t2 + 1.0 / 9
        series = series * t2 + 1.0 / 7
        series = series * t2 + 1.0 / 5
        series = series * t2 + 1.0 / 3
        series = series * t2 + 1
        let lnM = 2 * t * series
        return -(exponent * 0.6931471805599453 + lnM)
    }
}

/// A client as `select=client` keys it, in one word: the EDNS Client Subnet source prefix
/// of the query (RFC 7871) or, without one, the resolver's address, each cut to at most /24
/// (IPv4) or /56 (IPv6).
///
/// Bits: 63 IPv6, 62 from ECS, 56–61 the prefix length, 0–55 the prefix, left-aligned
/// (an IPv4 /24 fills bits 32–55), zero past its length, so equal prefixes are equal keys.
public struct CohortKey: Hashable, Sendable, CustomStringConvertible {
    public let raw: UInt64

    /// Prefix bits used for an IPv4 key: a /24 is what large public resolvers send.
    public static var ipv4Bits: Int { 24 }
    /// For IPv6: /56, a typical customer site.
    public static var ipv6Bits: Int { 56 }
    @usableFromInline static var ipv6Flag: UInt64 { 1 << 63 }
    @usableFromInline static var ecsFlag: UInt64 { 1 << 62 }
    @usableFromInline static var lengthShift: UInt64 { 56 }
    @usableFromInline static var prefixMask: UInt64 { (1 << 56) - 1 }

    /// No key: the query needed none.
    @inlinable public static var none: CohortKey { CohortKey(raw: 0) }

    @inlinable public init(raw: UInt64) { self.raw = raw }

    /// `address` (host order) cut to `min(length, 24)` bits.
    @inlinable
    public init(ipv4 address: UInt32, length: Int, fromECS: Bool) {
        self.init(prefix: UInt64(address) << 24, length: min(max(length, 0), Self.ipv4Bits), ipv6: false, fromECS: fromECS)
    }

    /// `high`, an address's first eight bytes (host order), cut to `min(length, 56)` bits.
    @inlinable
    public init(ipv6High high: UInt64, length: Int, fromECS: Bool) {
        self.init(prefix: high >> 8, length: min(max(length, 0), Self.ipv6Bits), ipv6: true, fromECS: fromECS)
    }

    @usableFromInline
    init(prefix: UInt64, length: Int, ipv6: Bool, fromECS: Bool) {
        let keep: UInt64 = length == 0 ? 0 : Self.prefixMask & ~((1 << (56 - UInt64(length))) - 1)
        raw = (ipv6 ? Self.ipv6Flag : 0) | (fromECS ? Self.ecsFlag : 0) | UInt64(length) << Self.lengthShift | prefix & keep
    }

    public var isIPv6: Bool { raw & Self.ipv6Flag != 0 }
    /// From the query's ECS option (else from the resolver's address).
    public var isECS: Bool { raw & Self.ecsFlag != 0 }
    /// Prefix bits the key holds: the ECS SCOPE PREFIX-LENGTH of an answer that used it.
    public var length: Int { Int((raw >> Self.lengthShift) & 0x3F) }

    /// `192.0.2.0/24` or `2001:db8:0:100::/56`.
    public var description: String {
        let prefix = raw & Self.prefixMask
        if !isIPv6 {
            let address = UInt32(truncatingIfNeeded: prefix >> 24)
            return "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)/\(length)"
        }
        let high = prefix << 8
        let groups = (0..<4).map { String(UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64($0))), radix: 16) }
        var shown = groups
        while shown.last == "0" { shown.removeLast() }
        // The last 64 bits are always zero: `::` stands for them (and any zero groups before).
        return shown.joined(separator: ":") + "::/\(length)"
    }
}

/// A resolver's address as the query path has it, turned into a `CohortKey` only when a
/// `select=client` name needs one.
public struct ClientAddress: Sendable, Equatable {
    public let ipv6: Bool
    /// The address bytes, big-endian: IPv4 in the top 32 bits of `high`.
    public let high: UInt64
    public let low: UInt64

    @inlinable public init(ipv6: Bool, high: UInt64, low: UInt64) {
        self.ipv6 = ipv6
        self.high = high
        self.low = low
    }

    @inlinable public static var none: ClientAddress { ClientAddress(ipv6: false, high: 0, low: 0) }

    /// The IPv4 address an IPv4-mapped one (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) carries,
    /// as a dual-stack socket reports IPv4 clients; any other address as it is.
    @inlinable
    public var unmapped: ClientAddress {
        guard ipv6, high == 0, low >> 32 == 0xFFFF else { return self }
        return ClientAddress(ipv6: false, high: low << 32, low: 0)
    }

    /// Its /24 or /56 (of the `unmapped` address).
    @inlinable
    public var cohortKey: CohortKey {
        let address = unmapped
        if !address.ipv6 {
            return CohortKey(ipv4: UInt32(truncatingIfNeeded: address.high >> 32), length: CohortKey.ipv4Bits, fromECS: false)
        }
        return CohortKey(ipv6High: address.high, length: CohortKey.ipv6Bits, fromECS: false)
    }
}

/// The key the hash is keyed by, stored with the state, so every server and every restart
/// put a client in the same cohort; a new state gets a random one.
public struct CohortSeed: Hashable, Sendable, CustomStringConvertible {
    public let k0: UInt64
    public let k1: UInt64

    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    public static let zero = CohortSeed(k0: 0, k1: 0)

    /// From the system's generator.
    public static func random() -> CohortSeed {
        var system = SystemRandomNumberGenerator()
        return CohortSeed(k0: system.next(), k1: system.next())
    }

    /// 32 hex digits, as saved.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 32, digits.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }),
              let k0 = UInt64(String(hex.prefix(16)), radix: 16), let k1 = UInt64(String(hex.suffix(16)), radix: 16) else { return nil }
        self.init(k0: k0, k1: k1)
    }

    public var description: String {
        func hex(_ v: UInt64) -> String {
            let digits = String(v, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return hex(k0) + hex(k1)
    }
}

extension EndpointKey {
    /// What identifies this endpoint in the cohort hash: FNV-1a of `name id`, so it stays
    /// the same across reloads, restarts and servers, and differs between names.
    public var cohortSalt: UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in "\(name.text) \(id)".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Cohort.mix(hash)
    }
}
