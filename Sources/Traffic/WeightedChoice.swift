/// Picks one endpoint in proportion to its weight (README "Weighted names").
///
/// The walk is cumulative: with weights w0, w1, … and a draw r in 0..<Σw, endpoint i is chosen
/// when w0+…+w(i-1) ≤ r < w0+…+wi. Zero weights are never chosen. Pure, allocation-free.
public enum WeightedChoice {
    /// Index of the chosen weight, or nil when every weight is 0. `weight(i)` is read twice
    /// per index at most; `count` endpoints.
    @inlinable @inline(__always)
    public static func pick<R: RandomSource>(count: Int, weight: (Int) -> UInt32, random: inout R) -> Int? {
        var total: UInt64 = 0
        for i in 0..<count { total += UInt64(weight(i)) }
        guard total > 0 else { return nil }
        var draw = random.next(below: total)
        for i in 0..<count {
            let w = UInt64(weight(i))
            if draw < w { return i }
            draw -= w
        }
        // Unreachable: draw < total = Σw.
        return nil
    }

    /// Convenience over an array.
    public static func pick<R: RandomSource>(_ weights: [UInt32], random: inout R) -> Int? {
        pick(count: weights.count, weight: { weights[$0] }, random: &random)
    }
}
