/// What one Prometheus instant query gave: a number, nothing, or a reason for people.
public enum PrometheusResult: Sendable, Equatable {
    /// One sample's value (the only series of a vector, or a scalar); may be NaN or ±Inf, as
    /// Prometheus writes them (`"NaN"`, `"+Inf"`, `"-Inf"`).
    case value(Double)
    /// An empty vector: no series matched (no traffic yet, or a wrong label).
    case noData
    /// The query could not be answered: unreachable server, HTTP error, Prometheus's own error
    /// (`bad_data: parse error …`), a reply that is not the API's JSON, or a vector of several
    /// series. The text starts with `prometheus ADDRESS:` and is fit for a log line.
    case failed(String)
}

/// A client of Prometheus's HTTP API (`GET /api/v1/query`), one instant query per call on a
/// new connection, through `HTTPClient`.
///
/// Every reply byte is treated as hostile: the reply is read up to `maxReply` bytes, parsed by
/// `JSONValue` (bounded depth, every index checked), its shape checked field by field, and
/// Prometheus's error text is cut to `maxErrorText` printable characters before it reaches a
/// log line.
public enum PrometheusClient {
    /// Largest reply read: an instant query judged here returns one sample, a few hundred bytes;
    /// a reply this large is a query returning thousands of series, or not Prometheus.
    public static let maxReply = 1 << 20
    /// Longest part of Prometheus's error text kept for messages.
    static let maxErrorText = 300

    /// Runs `promql` as an instant query against the server at `address`, under `pathPrefix`
    /// (`""` or `/prometheus`), within `timeout` for the connect and for each wait for bytes.
    public static func query(_ address: SocketAddress, pathPrefix: String, promql: String, timeout: Duration) -> PrometheusResult {
        let path = queryPath(pathPrefix: pathPrefix, promql: promql)
        let response: HTTPResponse
        do {
            response = try HTTPClient.get(address, path: path, timeout: timeout, maxResponse: maxReply)
        } catch {
            return .failed("prometheus \(address): \(error)")
        }
        return parse(status: response.status, body: response.body, server: "\(address)")
    }

    /// `PREFIX/api/v1/query?query=ENCODED`.
    public static func queryPath(pathPrefix: String, promql: String) -> String {
        var prefix = pathPrefix
        while prefix.hasSuffix("/") { prefix.removeLast() }
        return prefix + "/api/v1/query?query=" + percentEncoded(promql)
    }

    /// RFC 3986 §2.3 unreserved characters (letters, digits, `-`, `.`, `_`, `~`) as they are,
    /// every other UTF-8 byte as `%XX` (§2.1, uppercase hex): safe in a query component.
    public static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3)
        for b in text.utf8 {
            let unreserved = (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z"))
                || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
            if unreserved {
                out.append(b)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reads a reply of the query API (`server` names it in messages). Never traps, whatever
    /// the bytes: the corruption test feeds it mutated replies.
    ///
    /// Success: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{…},
    /// "value":[1712345678.123,"0.0123"]}]}}`, or `"resultType":"scalar","result":[ts,"1.5"]`.
    /// Error: `{"status":"error","errorType":"bad_data","error":"…"}`, with HTTP 400, 422 or 503.
    public static func parse(status: Int, body: [UInt8], server: String) -> PrometheusResult {
        let prefix = "prometheus \(server): "
        guard let json = JSONValue.parse(body) else {
            return .failed(prefix + (status == 200 ? "not JSON" : "HTTP \(status)"))
        }
        if json["status"]?.string == "error" || status != 200 {
            guard let text = json["error"]?.string else { return .failed(prefix + "HTTP \(status)") }
            let kind = json["errorType"]?.string.map { printable($0) + ": " } ?? ""
            return .failed(prefix + kind + printable(text))
        }
        guard json["status"]?.string == "success", let data = json["data"],
              let resultType = data["resultType"]?.string, let result = data["result"] else {
            return .failed(prefix + "not a query reply: expected status success with data.resultType and data.result")
        }
        switch resultType {
        case "scalar":
            return sample(result, prefix)
        case "vector":
            guard let series = result.array else { return .failed(prefix + "not a query reply: a vector that is not an array") }
            if series.isEmpty { return .noData }
            guard series.count == 1 else {
                return .failed(prefix + "the query returned \(series.count) series; aggregate it with sum() or similar")
            }
            guard let value = series[0]["value"] else { return .failed(prefix + "not a query reply: a sample without value") }
            return sample(value, prefix)
        default:
            return .failed(prefix + "expected an instant vector or a scalar, found \(printable(resultType)); drop the range selector or aggregate it")
        }
    }

    /// `[1712345678.123, "0.0123"]` → the value.
    private static func sample(_ json: JSONValue, _ prefix: String) -> PrometheusResult {
        guard let pair = json.array, pair.count == 2, case .number = pair[0], let text = pair[1].string,
              let value = number(text) else {
            return .failed(prefix + "not a query reply: expected a sample [time, \"value\"]")
        }
        return .value(value)
    }

    /// A sample value as Prometheus writes it: Go's shortest float form, `NaN`, `+Inf`, `-Inf`.
    static func number(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            guard text.utf8.count <= 64, text.utf8.allSatisfy({ JSONValue.isNumberByte($0) }) else { return nil }
            return Double(text)
        }
    }

    /// At most `maxErrorText` characters, control characters as spaces: one log line.
    static func printable(_ text: String) -> String {
        var out = String(text.unicodeScalars.prefix(maxErrorText).map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        if text.unicodeScalars.count > maxErrorText { out += "…" }
        return out
    }
}
