import Traffic

/// `history [NAME] [N] [json]`: the audit lines read back and grouped into changes. One change
/// (one admin command, one rollout step, one health verdict) writes one line per weight it
/// changed, so a shift of two endpoints is two lines and one change.
struct HistoryReport {
    /// One audit line, split into its parts
    /// (`2026-11-23T19:20:00Z uid=1000 api.example.com. new 0 -> 25 reason="shift …"`).
    struct Line: Codable, Equatable {
        var name: String
        var text: String
    }

    /// Lines written together: the same time, author and reason.
    struct Change: Codable, Equatable {
        /// RFC 3339, to the second.
        var at: String
        /// `uid=1000`, or `uid=veer` when Veer acted (health, rollout clock, reload).
        var by: String
        var reason: String
        var lines: [Line]
    }

    let changes: [Change]
    /// The audit lines read, as written.
    let raw: [String]

    /// Groups `lines` (oldest first) into changes; a line that does not parse is a change of its own.
    init(_ lines: [String]) {
        raw = lines
        var changes: [Change] = []
        for text in lines {
            let change = Self.parse(text) ?? Change(at: "", by: "", reason: "", lines: [Line(name: "", text: text)])
            if let last = changes.last, !change.at.isEmpty, last.at == change.at, last.by == change.by, last.reason == change.reason {
                changes[changes.count - 1].lines += change.lines
            } else {
                changes.append(change)
            }
        }
        self.changes = changes
    }

    /// One audit line as a change of one line, or nil if it is not in the audit format.
    static func parse(_ text: String) -> Change? {
        let parts = text.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[1].hasPrefix("uid="), let quote = parts[3].range(of: " reason=\""),
              parts[3].hasSuffix("\"") else { return nil }
        let body = parts[3][..<quote.lowerBound]
        var reason = ""
        var escaped = false
        for character in parts[3][quote.upperBound...].dropLast() {
            if escaped || character != "\\" {
                reason.append(character)
                escaped = false
            } else {
                escaped = true
            }
        }
        return Change(at: String(parts[0]), by: String(parts[1]), reason: reason,
                      lines: [Line(name: String(parts[2]), text: String(body))])
    }

    /// The reply: `ok N changes (M audit lines)` and the lines, or the JSON document.
    func reply(json: Bool) -> String {
        if json { return "ok\n" + JSON.text(Document(changes: changes)) }
        let count = "\(changes.count) change\(changes.count == 1 ? "" : "s")"
        let header = changes.count == raw.count ? count : "\(count) (\(raw.count) audit lines)"
        return (["ok " + header] + raw).joined(separator: "\n")
    }

    /// `history --json`: `{"changes": [{"at", "by", "reason", "lines": [{"name", "text"}]}]}`.
    private struct Document: Codable {
        var changes: [Change]
    }
}
