// How long signatures are valid and when they are renewed (RFC 6781 §4.4.2 on validity periods).

/// Validity of signatures. Defaults: inception 1 h in the past, expiration 14 days ahead,
/// a signature is renewed once less than `refreshBefore` (default 7 days) is left, with a
/// jitter of up to `jitter` (default 1 day) spread over the RRsets so they do not all expire together.
public struct SignaturePolicy: Sendable, Hashable {
    /// Seconds the inception is put before the signing time, for validators with slow clocks.
    public var inceptionOffset: UInt32
    /// Seconds from the signing time to the expiration.
    public var validity: UInt32
    /// A signature with less than this many seconds left (plus its set's jitter) is renewed.
    public var refreshBefore: UInt32
    /// Up to this many seconds more, fixed per RRset (from its content), so renewals spread out.
    public var jitter: UInt32

    /// One hour: clocks of validators run behind by less.
    public static let defaultInceptionOffset: UInt32 = 3600
    /// Two weeks, as the issue asks.
    public static let defaultValidity: UInt32 = 14 * 86_400
    /// Renewed a week before expiry: a server down for days still serves valid signatures.
    public static let defaultRefreshBefore: UInt32 = 7 * 86_400
    /// A day of spread.
    public static let defaultJitter: UInt32 = 86_400

    /// A policy; the defaults are those above.
    public init(inceptionOffset: UInt32 = defaultInceptionOffset, validity: UInt32 = defaultValidity,
                refreshBefore: UInt32 = defaultRefreshBefore, jitter: UInt32 = defaultJitter) {
        self.inceptionOffset = inceptionOffset
        self.validity = validity
        self.refreshBefore = refreshBefore
        self.jitter = jitter
    }

    /// Why the policy cannot work, or nil: a fresh signature must not already need renewing.
    public var problem: String? {
        if UInt64(refreshBefore) + UInt64(jitter) >= UInt64(validity) {
            return "signature validity (\(validity) s) must exceed refresh-before (\(refreshBefore) s) plus jitter (\(jitter) s)"
        }
        if validity > UInt32(Int32.max) { return "signature validity (\(validity) s) is beyond serial arithmetic (68 years)" }
        return nil
    }

    /// The renewal margin of one RRset: `refreshBefore` plus its share of the jitter, taken
    /// from `seed` (a digest of the set) so it is the same on every run and every server.
    func margin(seed: UInt32) -> UInt32 {
        refreshBefore + (jitter == 0 ? 0 : seed % (jitter + 1))
    }
}
