/// Whole numbers in saved states, read so that a wrong one names its field: Foundation's
/// JSON decoder reports `-1` or `1e12` for a `UInt32` as "not valid JSON" with no path, so
/// the number is read as a `Double` and converted here.
enum WholeNumber {
    /// The number at `key` as a `T`, or a `dataCorrupted` error at that key's path.
    static func decode<T: FixedWidthInteger, K: CodingKey>(_ type: T.Type, _ c: KeyedDecodingContainer<K>, _ key: K) throws -> T {
        let value = try c.decode(Double.self, forKey: key)
        guard let whole = exactly(T.self, value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: reason(T.self, value))
        }
        return whole
    }

    /// The next number of `c` as a `T`, or a `dataCorrupted` error at its index.
    static func decode<T: FixedWidthInteger>(_ type: T.Type, _ c: inout UnkeyedDecodingContainer) throws -> T {
        let value = try c.decode(Double.self)
        guard let whole = exactly(T.self, value) else {
            // The index of the number just read.
            let path = c.codingPath + [Index(intValue: c.currentIndex - 1)]
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: reason(T.self, value)))
        }
        return whole
    }

    private static func exactly<T: FixedWidthInteger>(_ type: T.Type, _ value: Double) -> T? {
        // Doubles are exact to 2^53: beyond it a saved number cannot be trusted to be whole.
        guard value.isFinite, abs(value) <= 9_007_199_254_740_992 else { return nil }
        return T(exactly: value)
    }

    private static func reason<T: FixedWidthInteger>(_ type: T.Type, _ value: Double) -> String {
        "expected a whole number from \(T.min) to \(T.max), found \(value)"
    }

    private struct Index: CodingKey {
        var intValue: Int?
        var stringValue: String { "Index \(intValue ?? 0)" }
        init(intValue: Int) { self.intValue = intValue }
        init?(stringValue: String) { nil }
    }
}
