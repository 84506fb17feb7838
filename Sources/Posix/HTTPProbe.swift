/// A parsed HTTP/1.x response (RFC 9112), as `HTTPProbe.parseResponse` returns it.
public struct HTTPResponse: Sendable, Equatable {
    /// One header field, exactly as received (names keep their case; values are trimmed).
    public struct Header: Sendable, Equatable {
        /// Field name, e.g. `"Content-Length"`.
        public var name: String
        /// Field value without surrounding spaces or tabs.
        public var value: String

        /// A header field.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The status code, 100...999 (RFC 9110 section 15), e.g. 200 or 503.
    public var status: Int
    /// The reason phrase, possibly empty (clients must ignore it, RFC 9112 section 4).
    public var reason: String
    /// Header fields in the order received.
    public var headers: [Header]
    /// The body after removing chunked framing.
    public var body: [UInt8]
    /// False only when `parseResponse(_:allowingTruncatedBody:)` was asked to accept a body
    /// cut short (by the prober's `maxResponse`, a timeout or a dropped connection).
    public var bodyIsComplete: Bool

    /// A response value (tests build expected values with it).
    public init(status: Int, reason: String, headers: [Header], body: [UInt8], bodyIsComplete: Bool = true) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.bodyIsComplete = bodyIsComplete
    }

    /// The value of the first header named `name` (compared case-insensitively), or nil.
    public func header(_ name: String) -> String? {
        let wanted = HTTPProbe.lowercased(name)
        return headers.first { HTTPProbe.lowercased($0.name) == wanted }?.value
    }
}

/// HTTP/1.1 for health checks: building the request and reading the reply. Pure functions,
/// no I/O; `Prober` does the sending and reading.
///
/// Body framing follows RFC 9112 section 6.3: no body for 1xx, 204 and 304; a final
/// `Transfer-Encoding` of `chunked` is decoded; otherwise `Content-Length` (several equal
/// values are accepted, different ones are an error); otherwise the body runs until the
/// server closes the connection. Interim 1xx responses (e.g. 103 Early Hints) are skipped.
/// Single-LF line ends are accepted, as RFC 9112 section 2.2 allows.
public enum HTTPProbe {
    /// The User-Agent sent with every probe, so operators can tell health checks apart in
    /// their access logs.
    public static let userAgent = "veer-health/1"

    /// Longest chunk-size line accepted, in hex digits: 15 digits stay below Int.max, and no
    /// health-check body comes near that.
    static let maxChunkSizeDigits = 15

    /// `GET <path> HTTP/1.1` with `Host`, `User-Agent: veer-health/1`, `Accept: */*` and
    /// `Connection: close` (so the server closes after the reply, RFC 9112 section 9.6).
    ///
    /// - Parameters:
    ///   - host: the Host header value; a final dot (`gw.example.net.`) is dropped, since
    ///     servers match virtual hosts without it. Add `:port` yourself for a non-default port;
    ///     IPv6 literals need brackets.
    ///   - path: the request target; empty means `/`. Spaces and control characters are
    ///     percent-encoded so a path can never split the request line.
    public static func request(host: String, path: String) -> [UInt8] {
        var hostBytes = Array(host.utf8).filter { $0 > 0x20 && $0 != 0x7F }
        if hostBytes.count > 1 && hostBytes.last == UInt8(ascii: ".") { hostBytes.removeLast() }
        var target: [UInt8] = []
        for byte in path.utf8 {
            if byte <= 0x20 || byte == 0x7F {
                target += Array("%".utf8) + hexByte(byte)
            } else {
                target.append(byte)
            }
        }
        if target.isEmpty { target = [UInt8(ascii: "/")] }
        var request = Array("GET ".utf8) + target + Array(" HTTP/1.1\r\nHost: ".utf8) + hostBytes
        request += Array("\r\nUser-Agent: \(userAgent)\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
        return request
    }

    /// The response in `bytes`, or nil if it is malformed or not yet whole (head unfinished,
    /// fewer body bytes than `Content-Length`, chunked body without its last chunk).
    ///
    /// A close-delimited body (no length, not chunked) is whatever follows the head.
    /// With `allowingTruncatedBody`, a whole head with a cut-short body still gives a response,
    /// with the bytes received so far and `bodyIsComplete` false: for a health check that only
    /// looks at the status of a reply bigger than the prober's `maxResponse`.
    public static func parseResponse(_ bytes: [UInt8], allowingTruncatedBody: Bool = false) -> HTTPResponse? {
        switch parse(bytes) {
        case .complete(let response), .untilClose(let response):
            return response
        case .incomplete(let head?) where allowingTruncatedBody:
            return head
        case .incomplete, .invalid:
            return nil
        }
    }

    /// True when reading more cannot change what `parseResponse` says: the response is whole
    /// (head plus Content-Length body, or chunked body with its last chunk and trailers; or a
    /// status without a body), or the bytes are already malformed. False while the head or
    /// the body is unfinished, and for a close-delimited body, which only the server's close
    /// ends. The prober uses it to finish without waiting for the close.
    public static func isComplete(_ bytes: [UInt8]) -> Bool {
        switch parse(bytes) {
        case .complete, .invalid: return true
        case .incomplete, .untilClose: return false
        }
    }

    // MARK: - Parsing

    enum Parsed {
        /// Malformed: no more bytes can fix it.
        case invalid
        /// Needs more bytes; carries the response with the partial body once the head is whole.
        case incomplete(HTTPResponse?)
        /// Whole, with a framed body (or none).
        case complete(HTTPResponse)
        /// Head whole, body delimited by the connection's close: all bytes so far.
        case untilClose(HTTPResponse)
    }

    private enum Framing { case none, length(Int), chunked, untilClose }

    static func parse(_ bytes: [UInt8]) -> Parsed {
        var start = 0
        while true {
            // A prefix that cannot begin a status line is rejected at once, even if short.
            let prefix = Array("HTTP/".utf8)
            let available = min(prefix.count, bytes.count - start)
            if !bytes[start..<(start + available)].elementsEqual(prefix[0..<available]) { return .invalid }
            guard let (head, bodyStart) = splitHead(bytes, from: start) else { return .incomplete(nil) }
            guard var response = parseHead(head) else { return .invalid }
            // Interim responses (RFC 9110 section 15.2) precede the final one; 101 switches
            // protocols, which a health check never asks for, so it counts as final.
            if (100...199).contains(response.status) && response.status != 101 {
                start = bodyStart
                continue
            }
            guard let framing = framing(of: response) else { return .invalid }
            let rest = bytes[bodyStart...]
            switch framing {
            case .none:
                return .complete(response)
            case .untilClose:
                response.body = Array(rest)
                return .untilClose(response)
            case .length(let length):
                if rest.count >= length {
                    response.body = Array(rest.prefix(length))
                    return .complete(response)
                }
                response.body = Array(rest)
                response.bodyIsComplete = false
                return .incomplete(response)
            case .chunked:
                switch decodeChunked(rest) {
                case .invalid:
                    return .invalid
                case .incomplete(let partial):
                    response.body = partial
                    response.bodyIsComplete = false
                    return .incomplete(response)
                case .complete(let body):
                    response.body = body
                    return .complete(response)
                }
            }
        }
    }

    /// The head's lines (without line ends) and where the body starts, or nil if the empty
    /// line ending the head has not arrived. `MetricsServer` splits request heads with it.
    static func splitHead(_ bytes: [UInt8], from start: Int) -> ([ArraySlice<UInt8>], Int)? {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = start
        var index = start
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                var lineEnd = index
                if lineEnd > lineStart && bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                if lineEnd == lineStart { return (lines, index + 1) }
                lines.append(bytes[lineStart..<lineEnd])
                lineStart = index + 1
            }
            index += 1
        }
        return nil
    }

    /// Status line and header fields; nil if malformed.
    private static func parseHead(_ lines: [ArraySlice<UInt8>]) -> HTTPResponse? {
        guard let statusLine = lines.first else { return nil }
        // "HTTP/" DIGIT "." DIGIT SP 3DIGIT [SP reason] (RFC 9112 sections 2.3 and 4).
        let line = Array(statusLine)
        guard line.count >= 12, line[5].isDigit, line[6] == UInt8(ascii: "."), line[7].isDigit,
              line[8] == UInt8(ascii: " "), line[9].isDigit, line[10].isDigit, line[11].isDigit,
              line.count == 12 || line[12] == UInt8(ascii: " ")
        else { return nil }
        let status = line[9...11].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard status >= 100 else { return nil }
        let reason = line.count > 13 ? String(decoding: line[13...], as: UTF8.self) : ""

        var headers: [HTTPResponse.Header] = []
        for field in lines.dropFirst() {
            // Obsolete line folding (RFC 9112 section 5.2) is not accepted.
            guard let colon = field.firstIndex(of: UInt8(ascii: ":")), colon > field.startIndex,
                  field[field.startIndex..<colon].allSatisfy(\.isTokenCharacter)
            else { return nil }
            let value = field[(colon + 1)...].drop { $0.isBlank }.reversed().drop { $0.isBlank }.reversed()
            headers.append(HTTPResponse.Header(
                name: String(decoding: field[field.startIndex..<colon], as: UTF8.self),
                value: String(decoding: value, as: UTF8.self)))
        }
        return HTTPResponse(status: status, reason: reason, headers: headers, body: [])
    }

    /// How the body is delimited (RFC 9112 section 6.3); nil for a bad Content-Length.
    private static func framing(of response: HTTPResponse) -> Framing? {
        if response.status == 204 || response.status == 304 { return Framing.none }
        let codings = response.headers
            .filter { lowercased($0.name) == "transfer-encoding" }
            .flatMap { $0.value.split(separator: ",") }
            .map { lowercased(trimmed($0)) }
            .filter { !$0.isEmpty }
        if let last = codings.last {
            return last == "chunked" ? .chunked : .untilClose
        }
        let lengths = response.headers
            .filter { lowercased($0.name) == "content-length" }
            .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false) }
            .map { trimmed($0) }
        guard let first = lengths.first else { return .untilClose }
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.count <= 18,
              first.utf8.allSatisfy(\.isDigit), let length = Int(first)
        else { return nil }
        return .length(length)
    }

    private enum Chunked {
        case invalid
        case incomplete([UInt8])
        case complete([UInt8])
    }

    /// Decodes `chunk-size [; ext] CRLF data CRLF ... 0 CRLF trailers CRLF`
    /// (RFC 9112 section 7.1).
    private static func decodeChunked(_ bytes: ArraySlice<UInt8>) -> Chunked {
        var body: [UInt8] = []
        var index = bytes.startIndex
        /// The index after the next line end, or nil if there is none yet.
        func lineEnd(from start: Int) -> (content: Range<Int>, next: Int)? {
            guard let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            let end = newline > start && bytes[newline - 1] == UInt8(ascii: "\r") ? newline - 1 : newline
            return (start..<end, newline + 1)
        }
        while true {
            guard let (sizeLine, afterSize) = lineEnd(from: index) else {
                // An unfinished size line can already be wrong.
                let partial = bytes[index...]
                if partial.count > maxChunkSizeDigits + 1024 { return .invalid }
                return .incomplete(body)
            }
            var size = 0
            var digits = 0
            var cursor = sizeLine.lowerBound
            while cursor < sizeLine.upperBound, let digit = bytes[cursor].hexValue {
                digits += 1
                if digits > maxChunkSizeDigits { return .invalid }
                size = size * 16 + digit
                cursor += 1
            }
            guard digits > 0 else { return .invalid }
            // After the size: optional whitespace, then nothing or a chunk extension.
            while cursor < sizeLine.upperBound && bytes[cursor].isBlank { cursor += 1 }
            guard cursor == sizeLine.upperBound || bytes[cursor] == UInt8(ascii: ";") else { return .invalid }
            index = afterSize
            if size == 0 {
                // Trailer fields, then the empty line.
                while true {
                    guard let (trailer, next) = lineEnd(from: index) else { return .incomplete(body) }
                    index = next
                    if trailer.isEmpty { return .complete(body) }
                }
            }
            let available = bytes.endIndex - index
            if available < size {
                body += bytes[index...]
                return .incomplete(body)
            }
            body += bytes[index..<(index + size)]
            index += size
            // The data is followed by CRLF (or LF).
            let rest = bytes[index...]
            if rest.starts(with: [UInt8(ascii: "\r"), UInt8(ascii: "\n")]) {
                index += 2
            } else if rest.first == UInt8(ascii: "\n") {
                index += 1
            } else if rest.isEmpty || rest.elementsEqual([UInt8(ascii: "\r")]) {
                return .incomplete(body)
            } else {
                return .invalid
            }
        }
    }

    // MARK: - ASCII helpers (header names and codings are ASCII, RFC 9110 section 5.1)

    static func lowercased<S: StringProtocol>(_ text: S) -> String {
        String(decoding: text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    private static func trimmed(_ text: Substring) -> String {
        String(decoding: text.utf8.drop { $0.isBlank }.reversed().drop { $0.isBlank }.reversed(), as: UTF8.self)
    }

    private static func hexByte(_ byte: UInt8) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        return [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
    }
}

extension UInt8 {
    var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    var isBlank: Bool { self == 0x20 || self == 0x09 }

    fileprivate var hexValue: Int? {
        switch self {
        case 0x30...0x39: return Int(self - 0x30)
        case 0x41...0x46: return Int(self - 0x41 + 10)
        case 0x61...0x66: return Int(self - 0x61 + 10)
        default: return nil
        }
    }

    /// tchar of RFC 9110 section 5.6.2.
    var isTokenCharacter: Bool {
        switch self {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(self)
        }
    }
}
