// `veer check --keys DIR`: the key directory against the zones that are served.
import DNSWire

/// What `veer check` says about one key or zone.
public struct KeyFinding: Hashable, Sendable, CustomStringConvertible {
    /// How serious: errors stop `veer serve --keys`, warnings do not.
    public enum Severity: String, Sendable { case error, warning, info }
    /// How serious.
    public let severity: Severity
    /// The message, naming the file or the zone.
    public let message: String

    /// A finding from its parts.
    public init(_ severity: Severity, _ message: String) {
        self.severity = severity
        self.message = message
    }

    public var description: String { "\(severity.rawValue): \(message)" }
}

/// Checks a key directory: every error, not only the first.
public enum KeyCheck {
    /// Findings for `dir` against `served` zones: unreadable, loose or unsupported keys and
    /// bad state files are errors; keys for a zone not served are a warning; each signed zone
    /// gets a line saying which keys sign it. A served zone without keys is fine (unsigned).
    public static func run(_ dir: String, served: [DomainName]) -> [KeyFinding] {
        let files: [KeyFile]
        var findings: [KeyFinding] = []
        do {
            let scanned = try KeyDirectory.scan(dir)
            files = scanned.files
            findings += scanned.errors.map { KeyFinding(.error, $0) }
        } catch {
            return [KeyFinding(.error, "\(error)")]
        }
        let servedSet = Set(served)
        var byZone: [DomainName: [KeyFile]] = [:]
        for file in files where file.record.state != .removed {
            byZone[file.record.zone, default: []].append(file)
        }
        for zone in byZone.keys.sorted() {
            let keys = byZone[zone]!.sorted { $0.record.tag < $1.record.tag }
            var loaded = 0
            for file in keys {
                do {
                    _ = try KeyDirectory.privateKey(file)
                    loaded += 1
                } catch {
                    findings.append(KeyFinding(.error, "\(error)"))
                }
            }
            let summary = keys.map { "\($0.record.tag) \($0.record.algorithm.name) \($0.record.state.rawValue)" }.joined(separator: ", ")
            if !keys.contains(where: { $0.record.state == .active }) {
                findings.append(KeyFinding(.error, "\(dir): zone \(zone) has keys but none is active (\(summary))"))
            } else if !servedSet.contains(zone) {
                findings.append(KeyFinding(.warning, "\(dir): keys for \(zone), which no zone file serves (\(summary))"))
            } else if loaded == keys.count {
                findings.append(KeyFinding(.info, "zone \(zone) signed: \(summary)"))
            }
        }
        return findings
    }
}
