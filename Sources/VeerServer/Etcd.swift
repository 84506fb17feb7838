import Foundation
import Posix
import Synchronization
import Traffic

/// etcd v3 through its JSON gateway (`/v3/kv/range`, `/v3/kv/txn`, `/v3/kv/put`,
/// `/v3/watch`, `/v3/lease/*`) over HTTP/1.1, plain or TLS (`https://`, with a client
/// certificate if etcd asks), as an etcd v3 user when one is given (EtcdAuth.swift): keys and
/// values travel base64, 64-bit integers as JSON strings. Several endpoints are tried in turn,
/// starting with the last one that answered, so one member down costs one connection
/// attempt, not an error.
final class EtcdClient: Sendable {
    /// One key as etcd returns it.
    struct KeyValue: Sendable, Equatable {
        var key: String
        var value: [UInt8]
        var createRevision: UInt64
        var modRevision: UInt64
        var lease: Int64
    }

    /// One member's address as dialled, and its name in messages: the address for plain
    /// HTTP, as it always was (`127.0.0.1:2379`), the URL for TLS (`https://127.0.0.1:2379`).
    struct Member: Sendable, CustomStringConvertible {
        let endpoint: HTTPEndpoint
        let description: String
    }

    let endpoints: [Member]
    let urls: String
    let access: EtcdAccess
    /// The etcd v3 auth token; nil until the first authentication (EtcdAuth.swift).
    let token = Mutex<EtcdToken?>(nil)
    /// For one request, and for the connect of a watch.
    static let timeout = Duration.seconds(2)
    /// A watch that brings nothing this long is taken for a dead connection and made again.
    /// Live servers refresh their keys every half second, so a healthy watch is never idle.
    static let watchIdle = Duration.seconds(5)
    private let preferred = Atomic<Int>(0)

    /// `http://HOST:PORT[,https://HOST:PORT…]` (host names are resolved once, here); `access`
    /// gives the TLS files for `https://` endpoints and the etcd user.
    init(urls: String, access: EtcdAccess = EtcdAccess()) throws(UsageError) {
        var endpoints: [Member] = []
        var context: TLSContext?
        for url in urls.split(separator: ",") {
            let secure = url.hasPrefix("https://")
            guard secure || url.hasPrefix("http://") else {
                throw UsageError("--store etcd=\(url): expected http://HOST:PORT or https://HOST:PORT (etcd's JSON gateway)")
            }
            var rest = url.dropFirst(secure ? "https://".count : "http://".count)
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else {
                throw UsageError("--store etcd=\(url): expected \(secure ? "https" : "http")://HOST:PORT")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            if secure && context == nil { context = try access.tlsContext() }
            do {
                endpoints += try Prober.resolve(host: host, port: port).map { address in
                    secure ? Member(endpoint: HTTPEndpoint(address, tls: .init(context: context!, host: host)),
                                    description: "https://\(rest[..<colon]):\(port)")
                        : Member(endpoint: HTTPEndpoint(address), description: "\(address)")
                }
            } catch {
                throw UsageError("--store etcd=\(url): \(error)")
            }
        }
        guard !endpoints.isEmpty else { throw UsageError("--store etcd=: expected at least one http://HOST:PORT") }
        if context == nil && access.usesTLSFiles {
            throw UsageError("--store-ca, --store-cert and --store-key are for https:// endpoints; --store etcd=\(urls) has none")
        }
        if let user = access.user, endpoints.contains(where: { $0.endpoint.tls == nil }) {
            Log.warning("etcd: --store-user \(user) over http:// sends its password and token in clear: use https://")
        }
        self.endpoints = endpoints
        self.urls = urls
        self.access = access
    }

    // MARK: - Calls

    /// POSTs `body` to `path` on the first endpoint that answers; throws the last error
    /// when none does.
    func call(_ path: String, _ body: some Encodable) throws(StoreError) -> [String: Any] {
        do {
            return try call(path, body, timeout: Self.timeout)
        } catch {
            throw error.error
        }
    }

    /// A call that failed, and whether its request may have reached etcd first.
    struct CallError: Error {
        let error: StoreError
        /// Some endpoint failed after the connection was made (a timeout, a broken
        /// connection, an error status such as etcd's 503 "request timed out"): a write may
        /// have been applied. False when no endpoint could be connected to.
        let mayHaveArrived: Bool
        /// etcd refused this client (its certificate, its password, its token, its
        /// permissions) rather than failed: nil for an outage.
        var refusal: EtcdRefusal? = nil
    }

    /// `call`, with `timeout` for each endpoint, saying whether a failed request may have
    /// arrived (a write's outcome is then unknown).
    func call(_ path: String, _ body: some Encodable, timeout: Duration) throws(CallError) -> [String: Any] {
        let data: [UInt8]
        do { data = try JSON.encode(body) } catch {
            throw CallError(error: StoreError(.io, "etcd \(path): \(error)"), mayHaveArrived: false)
        }
        return try authenticated(path, data, timeout: timeout)
    }

    /// One try of `path` on each member in turn until one serves it, with `token` when there
    /// is one. A refusal (a wrong password, an invalid token, no permission) ends it at once:
    /// every member would say the same.
    func attempt(_ path: String, _ data: [UInt8], token: String?, timeout: Duration) throws(CallError) -> [String: Any] {
        let headers = token.map { [(name: "Authorization", value: $0)] } ?? []
        let start = preferred.load(ordering: .relaxed)
        var lastError = ""
        var mayHaveArrived = false
        // Members that took the connection but did not serve the request (no leader, a
        // timeout), and those that could not be reached: together they tell a lost quorum.
        var unserved: [String] = [], unreached: [String] = []
        var certificateRefusal: EtcdRefusal?
        for offset in 0..<endpoints.count {
            let index = (start + offset) % endpoints.count
            let endpoint = endpoints[index]
            do {
                let response = try HTTPClient.post(endpoint.endpoint, path: path, body: data, headers: headers, timeout: timeout)
                guard response.status == 200 else {
                    let message = Self.errorMessage(response.body)
                    if let refusal = EtcdRefusal(status: response.status, message: message ?? "") {
                        // An earlier member that timed out may still have applied it.
                        throw CallError(error: StoreError(.io, refused(refusal, by: endpoint, path, message ?? "")), mayHaveArrived: mayHaveArrived,
                                        refusal: refusal)
                    }
                    lastError = "etcd \(endpoint)\(path): HTTP \(response.status)\(message.map { ": \($0)" } ?? "")"
                    unserved.append("\(endpoint): HTTP \(response.status)\(message.map { " \($0)" } ?? "")")
                    mayHaveArrived = true
                    // A member without a leader answers 503: another may have one.
                    continue
                }
                guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
                    throw CallError(error: StoreError(.io, "etcd \(endpoint)\(path): the reply is not a JSON object"), mayHaveArrived: true)
                }
                preferred.store(index, ordering: .relaxed)
                return object
            } catch let error as CallError {
                throw error
            } catch {
                if let refusal = EtcdRefusal(transport: error) {
                    // Another member may have a certificate this client trusts: go on.
                    certificateRefusal = refusal
                    let text = refusalText(refusal, Self.detail(error))
                    unreached.append("\(endpoint): \(text)")
                    lastError = "etcd \(endpoint)\(path): \(text)"
                    continue
                } else if error is HTTPClient.Unanswered {
                    mayHaveArrived = true
                    unserved.append("\(endpoint): \(error)")
                } else {
                    unreached.append("\(endpoint): \(error)")
                }
                lastError = "etcd \(endpoint)\(path): \(error)"
            }
        }
        throw CallError(error: StoreError(.io, Self.failure(path, lastError: lastError, unserved: unserved, unreached: unreached)),
                        mayHaveArrived: mayHaveArrived, refusal: unserved.isEmpty ? certificateRefusal : nil)
    }

    /// Why no member served a request: with several members, a lost quorum (some take
    /// connections, none serves) or every member out of reach, each named; with one, its error.
    static func failure(_ path: String, lastError: String, unserved: [String], unreached: [String]) -> String {
        let total = unserved.count + unreached.count
        guard total > 1 else { return lastError }
        if unreached.isEmpty {
            return "etcd \(path): no member served it (no quorum or no leader): " + unserved.joined(separator: "; ")
        }
        if unserved.isEmpty {
            return "etcd \(path): none of the \(total) members could be reached: " + unreached.joined(separator: "; ")
        }
        return "etcd \(path): no quorum: \(unreached.count) of \(total) members cannot be reached (" + unreached.joined(separator: "; ")
            + ") and \(unserved.count == 1 ? "the one left does" : "the \(unserved.count) left do") not serve requests ("
            + unserved.joined(separator: "; ") + ")"
    }

    /// The key, or nil when it is absent.
    func get(_ key: String) throws(StoreError) -> KeyValue? {
        Self.keyValues(try call("/v3/kv/range", ["key": Self.base64(key)])).first
    }

    /// Keys under `prefix`, in key order (or reversed), at most `limit` (0: all).
    func list(prefix: String, limit: Int = 0, descending: Bool = false) throws(StoreError) -> [KeyValue] {
        try snapshot(prefix: prefix, limit: limit, descending: descending).keys
    }

    /// `list`, with the store's revision the keys were read at.
    func snapshot(prefix: String, limit: Int = 0, descending: Bool = false) throws(StoreError) -> (keys: [KeyValue], revision: UInt64) {
        var body = ["key": Self.base64(prefix), "range_end": Self.base64(Self.prefixEnd(prefix)),
                    "sort_target": "KEY", "sort_order": descending ? "DESCEND" : "ASCEND"]
        if limit > 0 { body["limit"] = String(limit) }
        let reply = try call("/v3/kv/range", body)
        return (Self.keyValues(reply), Self.revision(reply) ?? 0)
    }

    /// Puts `puts` if `key`'s mod revision is still `modRevision` (0: the key is absent), in
    /// one transaction. Returns the new revision, or the key as it is now when the compare
    /// failed.
    func put(_ puts: [(key: String, value: [UInt8])], ifModRevisionOf key: String, is modRevision: UInt64)
        throws(StoreError) -> (revision: UInt64?, current: KeyValue?) {
        let reply = try call("/v3/kv/txn", Transaction(
            compare: [["key": Self.base64(key), "target": "MOD", "result": "EQUAL", "mod_revision": String(modRevision)]],
            success: puts.map { ["request_put": ["key": Self.base64($0.key), "value": Data($0.value).base64EncodedString()]] },
            failure: [["request_range": ["key": Self.base64(key)]]]))
        if reply["succeeded"] as? Bool == true { return (Self.revision(reply), nil) }
        let range = ((reply["responses"] as? [[String: Any]])?.first?["response_range"] as? [String: Any]) ?? [:]
        return (nil, Self.keyValues(range).first)
    }

    /// What a compare-and-put transaction came to.
    enum TransactionResult {
        /// Applied: the store is at `revision`.
        case applied(revision: UInt64)
        /// Not applied, the compare failed: the keys asked for as they are now (nil: absent).
        case compareFailed([KeyValue?])
    }

    /// Puts `puts` if `key`'s mod revision is still `modRevision`, in one transaction,
    /// within `timeout` per endpoint; when the compare fails, reads `key` and each of
    /// `reading` in its place.
    func transaction(_ puts: [(key: String, value: [UInt8])], ifModRevisionOf key: String, is modRevision: UInt64,
                     reading: [String], timeout: Duration) throws(CallError) -> TransactionResult {
        let reads = [key] + reading
        let reply = try call("/v3/kv/txn", Transaction(
            compare: [["key": Self.base64(key), "target": "MOD", "result": "EQUAL", "mod_revision": String(modRevision)]],
            success: puts.map { ["request_put": ["key": Self.base64($0.key), "value": Data($0.value).base64EncodedString()]] },
            failure: reads.map { ["request_range": ["key": Self.base64($0)]] }), timeout: timeout)
        if reply["succeeded"] as? Bool == true {
            guard let revision = Self.revision(reply) else {
                throw CallError(error: StoreError(.io, "etcd /v3/kv/txn: applied, but the reply has no revision"), mayHaveArrived: true)
            }
            return .applied(revision: revision)
        }
        let ranges = (reply["responses"] as? [[String: Any]]) ?? []
        return .compareFailed(reads.indices.map { i in
            i < ranges.count ? Self.keyValues((ranges[i]["response_range"] as? [String: Any]) ?? [:]).first : nil
        })
    }

    /// Creates `key` with `value` attached to `lease` if it is absent; true when it did.
    func create(_ key: String, value: [UInt8], lease: Int64) throws(StoreError) -> Bool {
        let reply = try call("/v3/kv/txn", Transaction(
            compare: [["key": Self.base64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]],
            success: [["request_put": ["key": Self.base64(key), "value": Data(value).base64EncodedString(), "lease": String(lease)]]]))
        return reply["succeeded"] as? Bool == true
    }

    func put(_ key: String, value: [UInt8], lease: Int64 = 0) throws(StoreError) {
        var body = ["key": Self.base64(key), "value": Data(value).base64EncodedString()]
        if lease != 0 { body["lease"] = String(lease) }
        _ = try call("/v3/kv/put", body)
    }

    /// A new lease of `ttl` seconds.
    func grant(ttl: Int) throws(StoreError) -> Int64 {
        let reply = try call("/v3/lease/grant", ["TTL": String(ttl)])
        guard let id = Self.int(reply["ID"]), id != 0 else { throw StoreError(.io, "etcd lease grant: no lease id in the reply") }
        return id
    }

    /// Renews `lease`; false when it has expired (etcd answers TTL 0 or none).
    func keepAlive(_ lease: Int64) throws(StoreError) -> Bool {
        let reply = try call("/v3/lease/keepalive", ["ID": String(lease)])
        return ((reply["result"] as? [String: Any]).flatMap { Self.int($0["TTL"]) } ?? 0) > 0
    }

    /// Watches keys under `prefix` from `revision` on one endpoint after another, calling
    /// `events` with each batch and the revision it brings the store to, until `events`
    /// returns false. Throws when the stream breaks (the caller resyncs and watches again).
    func watch(prefix: String, from revision: UInt64, events: ([KeyValue], UInt64) -> Bool) throws(StoreError) {
        let body = ["create_request": ["key": Self.base64(prefix), "range_end": Self.base64(Self.prefixEnd(prefix)),
                                       "start_revision": String(revision)]]
        let data = (try? JSON.encode(body)) ?? []
        let index = preferred.load(ordering: .relaxed) % endpoints.count
        let endpoint = endpoints[index]
        let token: String?
        do { token = try currentToken(timeout: Self.timeout) } catch { throw error.error }
        var canceled: String?
        do {
            try HTTPClient.stream(endpoint.endpoint, path: "/v3/watch", body: data, headers: token.map { [(name: "Authorization", value: $0)] } ?? [],
                                  connectTimeout: Self.timeout, idleTimeout: Self.watchIdle) { line in
                guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let result = object["result"] as? [String: Any] else { return true }
                // A watch etcd would not make (no permission, an invalid token) is created canceled.
                if result["canceled"] as? Bool == true {
                    canceled = (result["cancel_reason"] as? String) ?? "canceled by etcd"
                    return false
                }
                let batch = ((result["events"] as? [[String: Any]]) ?? []).compactMap { event -> KeyValue? in
                    guard var kv = (event["kv"] as? [String: Any]).flatMap({ Self.keyValue($0) }) else { return nil }
                    if event["type"] as? String == "DELETE" { kv.value = [] }
                    return kv
                }
                return events(batch, Self.revision(result) ?? revision)
            }
        } catch {
            preferred.store(index + 1, ordering: .relaxed)
            if let refusal = EtcdRefusal(transport: error) {
                throw StoreError(.io, refused(refusal, by: endpoint, "/v3/watch", Self.detail(error)))
            }
            throw StoreError(.io, "etcd \(endpoint) watch: \(error)")
        }
        if let canceled { throw watchCanceled(canceled, by: endpoint, token: token) }
    }

    // MARK: - JSON

    /// What an error reply says: etcd's JSON `error`, or the text of a reply that is not
    /// JSON (the gateway's own refusals are plain text), at most `maxErrorText` characters.
    static func errorMessage(_ body: [UInt8]) -> String? {
        if let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] { return object["error"] as? String }
        let text = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : String(text.prefix(maxErrorText))
    }

    /// The longest error text taken from a reply that is not JSON.
    static let maxErrorText = 200

    /// A `/v3/kv/txn` request: if every `compare` holds, the `success` operations, else the
    /// `failure` ones (each operation one `request_put` or `request_range` object).
    struct Transaction: Encodable {
        var compare: [[String: String]]
        var success: [[String: [String: String]]]
        var failure: [[String: [String: String]]]?
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// The smallest key after every key that starts with `prefix`.
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }

    static func int(_ value: Any?) -> Int64? {
        if let text = value as? String { return Int64(text) }
        if let number = value as? NSNumber { return number.int64Value }
        return nil
    }

    static func revision(_ reply: [String: Any]) -> UInt64? {
        (reply["header"] as? [String: Any]).flatMap { int($0["revision"]) }.map { UInt64($0) }
    }

    static func keyValue(_ object: [String: Any]) -> KeyValue? {
        guard let key = (object["key"] as? String).flatMap({ Data(base64Encoded: $0) }) else { return nil }
        let value = (object["value"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
        return KeyValue(key: String(decoding: key, as: UTF8.self), value: Array(value),
                        createRevision: UInt64(int(object["create_revision"]) ?? 0), modRevision: UInt64(int(object["mod_revision"]) ?? 0),
                        lease: int(object["lease"]) ?? 0)
    }

    static func keyValues(_ reply: [String: Any]) -> [KeyValue] {
        ((reply["kvs"] as? [[String: Any]]) ?? []).compactMap(keyValue)
    }
}
