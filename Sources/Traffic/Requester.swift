/// Who asked for a change, as audit lines and logs name it: the admin socket's peer by its
/// uid (from the kernel), or a client of the admin protocol over TLS by its certificate's
/// subject (issue 26). Veer's own actions (health, the rollout clock, a reload) have none.
public enum Requester: Hashable, Sendable, CustomStringConvertible {
    /// A peer of the admin socket.
    case uid(UInt32)
    /// A client certificate: its subject (the CN, or the SAN an `--control-allow` rule named).
    case certificate(String)

    /// The audit line's field: `uid=1000`, `cert=deploy-bot`.
    public var description: String {
        switch self {
        case .uid(let uid): "uid=\(uid)"
        case .certificate(let subject): "cert=\(Self.quotedSubject(subject))"
        }
    }

    /// A log line's `by=` value: `uid:1000`, `cert:deploy-bot`.
    public var logName: String {
        switch self {
        case .uid(let uid): "uid:\(uid)"
        case .certificate(let subject): "cert:\(Self.quotedSubject(subject))"
        }
    }

    /// In a sentence: `uid 1000`, `cert deploy-bot`.
    public var spoken: String {
        switch self {
        case .uid(let uid): "uid \(uid)"
        case .certificate(let subject): "cert \(Self.quotedSubject(subject))"
        }
    }

    /// `subject` as one word of a space-separated line: bytes other than letters, digits and
    /// `-._@:` become `%XX`, so a CN like `ops team "a"` cannot forge fields of an audit line.
    public static func quotedSubject(_ subject: String) -> String {
        var text = ""
        for byte in subject.utf8 {
            let plain = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "-._@:".utf8.contains(byte)
            if plain {
                text.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                text += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return text.isEmpty ? "%" : text
    }
}
