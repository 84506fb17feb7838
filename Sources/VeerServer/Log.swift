import Posix
import Traffic

/// One line per event on stderr, stable and greppable:
/// `2026-11-22T10:00:00Z info weights: api.example.com old=75 new=25 by=uid:1000`.
/// Never called per query.
public enum Log {
    public enum Level: String, Sendable { case info, warning, error }

    public static func info(_ message: String) { write(.info, message) }
    public static func warning(_ message: String) { write(.warning, message) }
    public static func error(_ message: String) { write(.error, message) }

    static func write(_ level: Level, _ message: String) {
        writeStderr("\(timestamp()) \(level.rawValue) \(message)\n")
    }

    /// UTC time with seconds, RFC 3339.
    public static func timestamp(_ seconds: Int64 = Clock.wallSeconds()) -> String {
        Timestamp.text(seconds)
    }
}
