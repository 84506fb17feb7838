import DNSWire

extension ZoneReader {
    /// Parses a domain name in presentation form (RFC 1035 §5.1): `@` is the origin, a name
    /// without a trailing dot is relative to the origin, `\X` and `\DDD` are escapes.
    func name(_ token: Token) throws(ParseFailure) -> DomainName {
        guard !token.quoted else { throw failure(token, "expected a domain name, found a quoted string \(quoted(token))") }
        let start = token.start, end = token.end
        if end - start == 1 {
            if text[start] == .at {
                guard let origin else { throw failure(token, "expected an origin for \"@\": add $ORIGIN") }
                return origin
            }
            if text[start] == .dot { return .root }
        }
        var wire: [UInt8] = []
        wire.reserveCapacity(end - start + 2 + (origin?.wire.count ?? 0))
        wire.append(0)
        var lengthIndex = 0
        var labelLength = 0
        var labelStart = start
        var absolute = false
        var i = start
        while i < end {
            var byte = text[i]
            if byte == .dot {
                guard labelLength > 0 else {
                    throw failure(token, "expected a label before \".\" in \(quoted(token)); empty labels are not allowed", offset: i - start)
                }
                wire[lengthIndex] = UInt8(labelLength)
                i += 1
                if i == end { absolute = true; break }
                lengthIndex = wire.count
                wire.append(0)
                labelLength = 0
                labelStart = i
                continue
            }
            if byte == .backslash {
                byte = try escape(token, at: i)
                i += text[i + 1].isDigit ? 4 : 2
            } else {
                i += 1
            }
            labelLength += 1
            if labelLength > DomainName.maxLabelLength {
                var length = labelLength
                var j = i
                while j < end, text[j] != .dot { j += text[j] == .backslash ? (j + 1 < end && text[j + 1].isDigit ? 4 : 2) : 1; length += 1 }
                throw failure(token, "expected a label of at most \(DomainName.maxLabelLength) octets, found one of \(length) octets", offset: labelStart - start)
            }
            wire.append(byte)
        }
        if absolute {
            wire.append(0)
        } else {
            wire[lengthIndex] = UInt8(labelLength)
            guard let origin else {
                throw failure(token, "expected an absolute name (ending in \".\") or an origin for the relative name \(quoted(token))")
            }
            wire.append(contentsOf: origin.wire)
        }
        guard wire.count <= DomainName.maxWireLength else {
            throw failure(token, "expected a name of at most \(DomainName.maxWireLength) octets, found \(wire.count) octets")
        }
        do throws(WireError) {
            return try DomainName(wire: wire)
        } catch {
            throw failure(token, "expected a domain name, found \(quoted(token)) (\(error))")
        }
    }

    /// Decodes the escape whose backslash is at `index`: `\X` is X, `\DDD` is the octet DDD
    /// (three decimal digits, at most 255).
    func escape(_ token: Token, at index: Int) throws(ParseFailure) -> UInt8 {
        let end = token.end
        guard index + 1 < end else {
            throw failure(token, "bad escape \"\\\": expected \\X or \\DDD (DDD at most 255)", offset: index - token.start)
        }
        let next = text[index + 1]
        guard next.isDigit else { return next }
        var value = 0
        var k = 1
        while k <= 3, index + k < end, text[index + k].isDigit {
            value = value * 10 + Int(text[index + k] - .zero)
            k += 1
        }
        guard k == 4, value <= 255 else {
            let shown = String(decoding: UnsafeBufferPointer(rebasing: text[index..<min(index + 4, end)]), as: UTF8.self)
            throw failure(token, "bad escape \"\(shown)\": expected \\X or \\DDD (DDD at most 255)", offset: index - token.start)
        }
        return UInt8(value)
    }

    /// Decodes a quoted or unquoted token with escapes into octets (no length limit).
    func characterString(_ token: Token) throws(ParseFailure) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.end - token.start)
        var i = token.start
        while i < token.end {
            if text[i] == .backslash {
                out.append(try escape(token, at: i))
                i += text[i + 1].isDigit ? 4 : 2
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }
}
