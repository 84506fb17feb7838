import DNSWire
import Synchronization
import Traffic

/// Response rate limiting (RRL) as BIND, NSD and Knot do it: a server on a public address
/// must not become a cannon that floods a victim whose address the "queries" forge.
///
/// Responses are counted per account: the client's network (a /24 for IPv4, a /56 for IPv6,
/// as one customer usually holds) and what the response is (an answer or NODATA for one name,
/// an NXDOMAIN from one zone, a referral to one cut, an error). Each account is a token
/// bucket: `rate` responses per second, holding at most `rate × window`. A response with no
/// token left is limited: dropped, except every `slip`-th, which is sent truncated (TC, no
/// records) so a real client behind a forged flood retries over TCP, which cannot be forged.
///
/// One limiter for all UDP threads: a fixed table of atomics, no lock, no allocation per
/// query. An account that finds no place in its probe window takes the one unused the
/// longest, so a flood of forged sources can only make the limiter forget, never grow.
public final class RateLimiter: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        /// Responses per second per account; 0 turns limiting off.
        public var rate: Int
        /// How many seconds of `rate` a quiet account may spend at once.
        public var window: Int
        /// Every `slip`-th limited response is sent truncated; 0 never, 1 always.
        public var slip: Int
        /// Count what would be limited, limit nothing (to size `rate` on live traffic).
        public var logOnly: Bool
        public var ipv4PrefixLength: Int
        public var ipv6PrefixLength: Int

        /// NSD's defaults for rate and slip, BIND's /56 for IPv6.
        public init(rate: Int = 200, window: Int = 1, slip: Int = 2, logOnly: Bool = false,
                    ipv4PrefixLength: Int = 24, ipv6PrefixLength: Int = 56) {
            self.rate = rate
            self.window = window
            self.slip = slip
            self.logOnly = logOnly
            self.ipv4PrefixLength = ipv4PrefixLength
            self.ipv6PrefixLength = ipv6PrefixLength
        }
    }

    /// What a response is, for its account (BIND's response kinds).
    public enum Kind: Int, Sendable, CaseIterable {
        case answer = 0, nxdomain, referral, error

        public var label: String {
            switch self {
            case .answer: "answer"
            case .nxdomain: "nxdomain"
            case .referral: "referral"
            case .error: "error"
            }
        }

        /// The kind of a response with `rcode` (extended RCODEs such as BADVERS included) and
        /// header `flags`.
        @inline(__always)
        public static func of(rcode: RCode, flags: UInt16) -> Kind {
            switch rcode {
            case .noError: flags & Header.aaBit != 0 ? .answer : .referral
            case .nxDomain: .nxdomain
            default: .error
            }
        }
    }

    public enum Decision: Equatable, Sendable {
        case send
        case drop
        /// Send the response truncated (`RateLimiter.truncate`).
        case slip
        /// Limited, but sent because the limiter only counts (`logOnly`).
        case countOnly
    }

    /// Accounts: 32,768 × 32 bytes = 1 MiB, room for every network a busy server hears from
    /// in a second or so; more are forgotten, the longest unused first.
    public static let tableSize = 1 << 15
    /// Places an account may take, from its hash on.
    static let probes = 4
    /// Words per account: key (a hash of network and subject, 0 for free), state (tokens in
    /// thousandths of a response in the high 32 bits, the last refill's time in ms in the
    /// low 32), limited responses (for slip), padding.
    private static let words = 4

    public let settings: Settings
    private let table: UnsafeMutablePointer<Atomic<UInt64>>
    private let ipv4Mask: UInt64
    private let ipv6Mask: UInt64
    private let capacity: Int64
    private let salt = UInt64.random(in: 0...UInt64.max)

    public init(_ settings: Settings) {
        self.settings = settings
        table = .allocate(capacity: Self.tableSize * Self.words)
        for index in 0..<(Self.tableSize * Self.words) { (table + index).initialize(to: Atomic(0)) }
        ipv4Mask = Self.mask(settings.ipv4PrefixLength) & 0xFFFF_FFFF_0000_0000
        ipv6Mask = Self.mask(settings.ipv6PrefixLength)
        // Tokens live in 31 bits: at most about two million responses.
        capacity = min(Int64(settings.rate) * Int64(max(1, settings.window)) * 1000, Int64(Int32.max))
    }

    deinit {
        table.deinitialize(count: Self.tableSize * Self.words)
        table.deallocate()
    }

    private static func mask(_ length: Int) -> UInt64 {
        length <= 0 ? 0 : (length >= 64 ? ~0 : ~0 << UInt64(64 - length))
    }

    /// Whether to send a `kind` response about `token` to `client` at `nowMs` (a monotonic
    /// clock in milliseconds). Counts the response against its account when it is sent.
    ///
    /// Every UDP thread shares the table, so the rate is the rate whatever the thread count
    /// and however the kernel spreads a client's packets. Updates are compare-and-swap on
    /// the account's state word: no lock; two threads racing on one account may let a
    /// response or two more through, never fewer.
    @inline(__always)
    public func decide(client: ClientAddress, kind: Kind, token: Int32, nowMs: Int64) -> Decision {
        guard settings.rate > 0 else { return .send }
        let address = client.unmapped
        let network = address.ipv6 ? address.high & ipv6Mask | 6 : address.high & ipv4Mask | 4
        let subject = UInt64(kind.rawValue) << 32 | UInt64(UInt32(bitPattern: token))
        let now = UInt32(truncatingIfNeeded: nowMs)
        let account = find(key: key(network, subject), now: now)
        let state = account + 1
        var old = state.pointee.load(ordering: .relaxed)
        while true {
            // Refill for the time since the last refill, up to the bucket's size. Another
            // thread may have refilled at a later tick than this one read: nothing to add.
            // More than a second "ahead" can only be an account idle for over 24.8 days (the
            // 32-bit millisecond stamp wrapped): it has long been full.
            let stamp = UInt32(truncatingIfNeeded: old)
            var elapsed = Int64(Int32(bitPattern: now &- stamp))
            if elapsed < -1000 { elapsed = Int64(Int32.max) }
            let tokens = min(capacity, Int64(old >> 32) + max(0, elapsed) * Int64(settings.rate))
            let send = tokens >= 1000
            let new = UInt64(UInt32(truncatingIfNeeded: send ? tokens - 1000 : tokens)) << 32 | UInt64(elapsed > 0 ? now : stamp)
            let (exchanged, current) = state.pointee.compareExchange(expected: old, desired: new, ordering: .relaxed)
            if exchanged {
                if send { return .send }
                break
            }
            old = current
        }
        let limited = (account + 2).pointee.wrappingAdd(1, ordering: .relaxed).newValue
        if settings.logOnly { return .countOnly }
        if settings.slip > 0 && limited % UInt64(settings.slip) == 0 { return .slip }
        return .drop
    }

    /// A well-mixed, nonzero key for (network, subject), keyed by this process's random
    /// `salt`: a flood cannot aim forged sources at a victim's place in the table to have
    /// its account evicted (and come back full).
    @inline(__always)
    private func key(_ network: UInt64, _ subject: UInt64) -> UInt64 {
        var hash = (network ^ salt ^ subject &* 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
        hash ^= hash >> 31
        hash = hash &* 0x94D0_49BB_1331_11EB
        hash ^= hash >> 29
        return hash | 1
    }

    /// The account for `key`: found in its probe window, else made in a free place there or
    /// in the one refilled longest ago, with a full bucket.
    @inline(__always)
    private func find(key: UInt64, now: UInt32) -> UnsafeMutablePointer<Atomic<UInt64>> {
        let mask = Self.tableSize - 1
        let start = Int(truncatingIfNeeded: key >> 17) & mask
        var victim = table + start * Self.words
        var victimAge: Int32 = 0
        for probe in 0..<Self.probes {
            let account = table + ((start + probe) & mask) * Self.words
            let held = account.pointee.load(ordering: .relaxed)
            if held == key { return account }
            var age = held == 0 ? Int32.max : Int32(bitPattern: now &- UInt32(truncatingIfNeeded: (account + 1).pointee.load(ordering: .relaxed)))
            if age < -1000 { age = Int32.max - 1 }
            if age > victimAge || probe == 0 {
                victim = account
                victimAge = age
            }
        }
        // A racing thread may claim the same place for another key: then both share it
        // until one is evicted, which only loosens the limit for a moment.
        (victim + 1).pointee.store(UInt64(UInt32(truncatingIfNeeded: capacity)) << 32 | UInt64(now), ordering: .relaxed)
        (victim + 2).pointee.store(0, ordering: .relaxed)
        victim.pointee.store(key, ordering: .relaxed)
        return victim
    }

    /// Rewrites the response of `length` bytes in `message` as a slip: header and question
    /// with TC set and no records but the OPT (whose cookie lets the client come back
    /// trusted). Returns the new length, or 0 when the message does not parse.
    public static func truncate(_ message: UnsafeMutableRawBufferPointer, length: Int) -> Int {
        guard length >= Header.size, length <= message.count else { return 0 }
        let bytes = UnsafeRawBufferPointer(rebasing: message[0..<length])
        var reader = WireReader(bytes, offset: Header.size)
        let counts = (read16(bytes, 4), Int(read16(bytes, 6)) + Int(read16(bytes, 8)), Int(read16(bytes, 10)))
        do throws(WireError) {
            for _ in 0..<counts.0 {
                try reader.skipName("question name")
                try reader.skip(4, "question type and class")
            }
            let questionEnd = reader.offset
            var optStart = -1, optEnd = -1
            for index in 0..<(counts.1 + counts.2) {
                let start = reader.offset
                try reader.skipName("owner")
                let type = try reader.u16("type")
                try reader.skip(6, "class and ttl")
                try reader.skip(Int(try reader.u16("rdlength")), "rdata")
                if index >= counts.1 && type == RRType.opt.rawValue { optStart = start; optEnd = reader.offset }
            }
            var end = questionEnd
            if optStart >= 0 {
                // The OPT's owner is the root, never a pointer: it moves as it is.
                message.baseAddress!.advanced(by: end).copyMemory(from: bytes.baseAddress! + optStart, byteCount: optEnd - optStart)
                end += optEnd - optStart
            }
            message[2] |= UInt8(Header.tcBit >> 8)
            for (offset, value) in [(6, 0), (8, 0), (10, optStart >= 0 ? 1 : 0)] {
                message[offset] = 0
                message[offset + 1] = UInt8(value)
            }
            return end
        } catch {
            return 0
        }
    }
}

/// Sources whose responses are never limited (`--rrl-exempt`): checked on the UDP path, so
/// kept as masked words, no allocation per check.
public struct ExemptNetworks: Sendable {
    @usableFromInline struct Network: Sendable {
        @usableFromInline let ipv6: Bool
        @usableFromInline let high: UInt64, low: UInt64
        @usableFromInline let maskHigh: UInt64, maskLow: UInt64
    }

    @usableFromInline let networks: [Network]

    /// Each prefix as (IPv6?, address words big-endian, length in bits).
    public init(_ prefixes: [(ipv6: Bool, high: UInt64, low: UInt64, length: Int)]) {
        networks = prefixes.map { prefix in
            let length = prefix.length
            let maskHigh: UInt64 = length <= 0 ? 0 : (length >= 64 ? ~0 : ~0 << UInt64(64 - length))
            let maskLow: UInt64 = length <= 64 ? 0 : (length >= 128 ? ~0 : ~0 << UInt64(128 - length))
            return Network(ipv6: prefix.ipv6, high: prefix.high & maskHigh, low: prefix.low & maskLow,
                           maskHigh: maskHigh, maskLow: maskLow)
        }
    }

    public var isEmpty: Bool { networks.isEmpty }

    /// True when `client` is inside one of the networks; an IPv4-mapped IPv6 address counts
    /// as the IPv4 address it carries. Inlinable: every UDP query asks.
    @inlinable @inline(__always)
    public func contains(_ client: ClientAddress) -> Bool {
        let address = client.unmapped
        for network in networks where network.ipv6 == address.ipv6 {
            if address.high & network.maskHigh == network.high && address.low & network.maskLow == network.low { return true }
        }
        return false
    }
}
