/// SplitMix64 (Steele, Lea, Flood 2014): small, seedable, good enough to drive the bounded
/// corruption tests reproducibly (the same seed mutates the same way every run).
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound (bound > 0). Plain modulo: the bias is irrelevant here, and it is
    /// much cheaper than `Int.random(in:using:)` in debug builds.
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// A random byte.
    public mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
