/// Durations and percentages as operators write and read them, shared by the zone parser
/// (`$HEALTH interval=2s`), the admin commands (`--bake 1h30m`, `shift … 2.5%`) and every
/// status line, so each is parsed and printed one way. Stdlib only.
public enum Units {
    /// The longest duration accepted anywhere (a rollout's bake: 7 days), in milliseconds;
    /// the bound keeps every sum far from overflow.
    public static let maxDurationMs: Int64 = 7 * 86_400_000

    /// `500ms`, `90s`, `10m`, `1h30m`, `2d` → milliseconds: one or more terms of digits and a
    /// unit (`ms`, `s`, `m`, `h`, `d`); nil for anything else or above `maxDurationMs`.
    public static func parseDuration(_ text: String) -> Int64? {
        var total: Int64 = 0
        var number: Int64? = nil
        let chars = Array(text.lowercased())
        guard !chars.isEmpty else { return nil }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if let digit = c.wholeNumberValue, c.isASCII {
                let value = (number ?? 0) * 10 + Int64(digit)
                guard value < 1_000_000_000 else { return nil }
                number = value
                i += 1
                continue
            }
            guard let n = number else { return nil }
            let unit: Int64
            if c == "m" && i + 1 < chars.count && chars[i + 1] == "s" {
                unit = 1
                i += 1
            } else {
                switch c {
                case "s": unit = 1_000
                case "m": unit = 60_000
                case "h": unit = 3_600_000
                case "d": unit = 86_400_000
                default: return nil
                }
            }
            // Each term is below 10^9 days, so the sum stays far from overflow before the cap.
            total += n * unit
            guard total <= maxDurationMs else { return nil }
            number = nil
            i += 1
        }
        if number != nil { return nil }
        return total
    }

    /// `10m`, `1h30m`, `1500ms`, `0s`: the form `parseDuration` reads back.
    public static func durationText(_ ms: Int64) -> String {
        if ms <= 0 { return "0s" }
        if ms % 1000 != 0 { return "\(ms)ms" }
        var seconds = ms / 1000
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60)] where seconds >= size {
            text += "\(seconds / size)\(unit)"
            seconds %= size
        }
        if seconds > 0 || text.isEmpty { text += "\(seconds)s" }
        return text
    }

    /// Basis points (25% = 2500) as `25%`, `0.5%`, `2.25%`.
    public static func percentText(basisPoints: Int) -> String {
        let whole = basisPoints / 100, fraction = basisPoints % 100
        if fraction == 0 { return "\(whole)%" }
        return fraction % 10 == 0 ? "\(whole).\(fraction / 10)%" : "\(whole).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    /// A share in percent with one decimal: `25.0%`.
    public static func percentText(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }
}
