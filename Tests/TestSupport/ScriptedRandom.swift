import Traffic

/// A random source that returns prepared values in order (for exact tests); each value is
/// reduced modulo the bound it is asked for, so a script reads as "the n-th unit of weight".
public struct ScriptedRandom: RandomSource {
    public private(set) var values: [UInt64]
    private var index = 0

    public init(_ values: [UInt64]) { self.values = values }

    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(index < values.count, "ScriptedRandom ran out of values")
        defer { index += 1 }
        return values[index] % bound
    }
}
