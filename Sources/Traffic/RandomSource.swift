/// Where weighted selection gets its randomness. Injected, so tests can script every draw.
public protocol RandomSource {
    /// A uniformly distributed value in `0..<bound`; `bound` is never 0.
    mutating func next(below bound: UInt64) -> UInt64
}

/// xoshiro256** (Blackman & Vigna): fast, small state, good enough for spreading answers.
/// Not for secrets. Each server thread owns one; seeded from the system generator.
public struct FastRandom: RandomSource {
    // Usable from inlinable code so that a draw inlines into the query path in other modules.
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// Seeds the state from `seed` through SplitMix64, as the xoshiro authors recommend.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// Seeded from the system's generator.
    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: system.next())
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Lemire's multiply-shift with rejection: unbiased for any bound.
    @inlinable @inline(__always)
    public mutating func next(below bound: UInt64) -> UInt64 {
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }
}
