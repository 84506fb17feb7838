extension RData {
    /// The RDATA in zone-file presentation form (RFC 1035 §5.1; RFC 3597 §5 for unknown types).
    public var presentation: String {
        switch self {
        case .a(let address): return address.description
        case .aaaa(let address): return address.description
        case .ns(let name), .cname(let name), .ptr(let name): return name.description
        case .mx(let preference, let exchange): return "\(preference) \(exchange)"
        case .txt(let strings): return strings.map(quotedString).joined(separator: " ")
        case .srv(let priority, let weight, let port, let target): return "\(priority) \(weight) \(port) \(target)"
        case .soa(let s):
            return "\(s.mname) \(s.rname) \(s.serial) \(s.refresh) \(s.retry) \(s.expire) \(s.minimum)"
        case .caa(let flags, let tag, let value):
            return "\(flags) \(String(decoding: tag, as: UTF8.self)) \(quotedString(value))"
        case .unknown(_, let data):
            let hex = data.map { byte in
                let digits = String(byte, radix: 16, uppercase: true)
                return digits.count == 1 ? "0" + digits : digits
            }.joined()
            return data.isEmpty ? "\\# 0" : "\\# \(data.count) \(hex)"
        }
    }
}

let quotedSpecials: Set<UInt8> = Set("\"\\".utf8)

/// A character-string in quotes, with `\"`, `\\` and `\DDD` escapes.
func quotedString(_ bytes: [UInt8]) -> String {
    "\"" + bytes.map { escapedPresentation($0, special: quotedSpecials) }.joined() + "\""
}
