import Testing
import Units

/// Durations and percentages, read and printed one way everywhere: zone files
/// (`interval=2s`), admin commands (`--bake 1h30m`, `2.5%`) and status lines.
struct UnitsTests {
    @Test(arguments: [("10m", Int64(600_000)), ("90s", 90_000), ("1h30m", 5_400_000), ("1500ms", 1_500), ("2d", 172_800_000),
                      ("500ms", 500), ("2s", 2_000), ("1m", 60_000), ("1M30S", 90_000), ("7d", 604_800_000)])
    func durationsParseAndPrintBack(text: String, ms: Int64) {
        #expect(Units.parseDuration(text) == ms)
        #expect(Units.parseDuration(Units.durationText(ms)) == ms)
    }

    @Test(arguments: [(Int64(0), "0s"), (1_500, "1500ms"), (60_000, "1m"), (3_600_000, "1h"), (5_400_000, "1h30m"),
                      (90_061_000, "1d1h1m1s")])
    func durationsPrintInTheirLargestUnits(ms: Int64, text: String) {
        #expect(Units.durationText(ms) == text)
    }

    /// Malformed text and anything past a week (which also keeps the sum from overflowing).
    @Test(arguments: ["", "10", "m", "10x", "1.5s", "-3s", "2 s", "s5", "99999999999s", "7d1ms",
                      String(repeating: "999999999d", count: 107), "999999999d1s"])
    func badDurationsAreNil(text: String) {
        #expect(Units.parseDuration(text) == nil)
    }

    @Test(arguments: [(100, "1%"), (50, "0.5%"), (225, "2.25%"), (10_000, "100%"), (5, "0.05%"), (0, "0%")])
    func basisPointsPrintLikeTheyAreTyped(basisPoints: Int, text: String) {
        #expect(Units.percentText(basisPoints: basisPoints) == text)
    }

    @Test(arguments: [(25.0, "25.0%"), (33.333, "33.3%"), (0.04, "0.0%"), (0.05, "0.1%"), (100, "100.0%")])
    func sharesPrintWithOneDecimal(value: Double, text: String) {
        #expect(Units.percentText(value) == text)
    }
}
