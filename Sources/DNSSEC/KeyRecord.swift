// What Veer knows about one key besides its private half: zone, algorithm, tag, state and when
// each state began. Kept in `K<zone>+<alg>+<tag>.state` beside the `.private` PEM file.
import DNSWire

/// Where a key is in its life (RFC 6781 §4.1.1, pre-publication, for a combined signing key).
public enum KeyState: String, Sendable, CaseIterable {
    /// In the DNSKEY RRset, signs nothing yet: caches learn it before it signs.
    case published
    /// In the DNSKEY RRset, signs every RRset.
    case active
    /// In the DNSKEY RRset, signs only the DNSKEY RRset, so a parent still holding its DS keeps
    /// validating while the new DS replaces it.
    case retiring
    /// Gone from the zone; the files stay for the record and are ignored when serving.
    case removed
}

/// One key's metadata, the content of its `.state` file.
public struct KeyRecord: Hashable, Sendable {
    /// The zone apex the key signs.
    public var zone: DomainName
    /// The key's algorithm.
    public var algorithm: DNSSECAlgorithm
    /// The key tag (RFC 4034 appendix B), as in the file names.
    public var tag: UInt16
    /// The current state.
    public var state: KeyState
    /// Seconds since 1970 when the key was made (and published).
    public var created: UInt32
    /// When it became active, if it did.
    public var activated: UInt32?
    /// When it became retiring, if it did.
    public var retiring: UInt32?
    /// When it left the zone, if it did.
    public var removed: UInt32?

    /// A record from its fields.
    public init(zone: DomainName, algorithm: DNSSECAlgorithm, tag: UInt16, state: KeyState, created: UInt32,
                activated: UInt32? = nil, retiring: UInt32? = nil, removed: UInt32? = nil) {
        self.zone = zone
        self.algorithm = algorithm
        self.tag = tag
        self.state = state
        self.created = created
        self.activated = activated
        self.retiring = retiring
        self.removed = removed
    }

    /// When the current state began.
    public var since: UInt32 {
        switch state {
        case .published: created
        case .active: activated ?? created
        case .retiring: retiring ?? created
        case .removed: removed ?? created
        }
    }

    /// `35214 13 ecdsap256sha256 active`: tag, algorithm and state, for `status`.
    public var statusText: String { "\(tag) \(algorithm.rawValue) \(algorithm.name) \(state.rawValue)" }

    /// `K<zone>+<alg>+<tag>` as BIND names key files (`Kexample.com.+013+12345`), zone lower-cased.
    public var baseName: String {
        let algorithm = String(self.algorithm.rawValue)
        let tag = String(self.tag)
        return "K\(zone.lowercased())+\(String(repeating: "0", count: 3 - algorithm.count))\(algorithm)"
            + "+\(String(repeating: "0", count: 5 - tag.count))\(tag)"
    }

    /// The `.state` file's text: `key=value` lines.
    public var text: String {
        var lines = ["; Veer DNSSEC key state (see README, \"Keys and rollover\")",
                     "zone=\(zone.lowercased())", "algorithm=\(algorithm.rawValue)", "tag=\(tag)",
                     "state=\(state.rawValue)", "created=\(created)"]
        if let activated { lines.append("activated=\(activated)") }
        if let retiring { lines.append("retiring=\(retiring)") }
        if let removed { lines.append("removed=\(removed)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses a `.state` file's text; the error names the line.
    public init(text: String) throws(DNSSECError) {
        var fields: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = trim(line)
            if trimmed.isEmpty || trimmed.hasPrefix(";") { continue }
            guard let equals = trimmed.firstIndex(of: "=") else { throw DNSSECError("line \(number + 1): expected key=value") }
            let key = String(trimmed[..<equals])
            guard ["zone", "algorithm", "tag", "state", "created", "activated", "retiring", "removed"].contains(key) else {
                throw DNSSECError("line \(number + 1): unknown key \(key)")
            }
            fields[key] = String(trimmed[trimmed.index(after: equals)...])
        }
        func required(_ key: String) throws(DNSSECError) -> String {
            guard let value = fields[key] else { throw DNSSECError("missing \(key)=") }
            return value
        }
        func time(_ key: String) throws(DNSSECError) -> UInt32? {
            guard let value = fields[key] else { return nil }
            guard let number = UInt32(value) else { throw DNSSECError("\(key)=\(value) is not seconds since 1970") }
            return number
        }
        let zoneText = try required("zone")
        guard let zone = try? DomainName(zoneText) else { throw DNSSECError("zone=\(zoneText) is not a domain name") }
        let algorithmText = try required("algorithm")
        guard let algorithm = DNSSECAlgorithm(name: algorithmText) else {
            throw DNSSECError("algorithm=\(algorithmText) is not one Veer signs with (13, 15)")
        }
        let tagText = try required("tag")
        guard let tag = UInt16(tagText) else { throw DNSSECError("tag=\(tagText) is not a key tag") }
        let stateText = try required("state")
        guard let state = KeyState(rawValue: stateText) else {
            throw DNSSECError("state=\(stateText) is not published, active, retiring or removed")
        }
        guard let created = try time("created") else { throw DNSSECError("missing created=") }
        self.init(zone: zone, algorithm: algorithm, tag: tag, state: state, created: created,
                  activated: try time("activated"), retiring: try time("retiring"), removed: try time("removed"))
    }
}

/// `text` without leading and trailing blanks (spaces, tabs, carriage returns).
func trim(_ text: Substring) -> Substring {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = text.firstIndex(where: { !blank($0) }), let last = text.lastIndex(where: { !blank($0) }) else {
        return text[text.endIndex...]
    }
    return text[first...last]
}
