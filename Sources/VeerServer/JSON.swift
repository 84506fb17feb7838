import Foundation

/// Where Veer writes JSON, the one way it does: an `Encodable` value through Foundation's
/// `JSONEncoder`, keys sorted. `status json` and `rollout status json`, `weights.json` and the
/// shared state, the etcd gateway's requests and the `servers/` and `health/` keys all go
/// through here. Only the control side writes JSON; the query path imports no Foundation.
enum JSON {
    /// `value` as JSON bytes; `pretty` for files people read (`weights.json`).
    static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    /// `value` as JSON text, for replies; `{}` if it cannot be encoded (the status types always can).
    static func text<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? encode(value)) ?? Array("{}".utf8), as: UTF8.self)
    }
}
