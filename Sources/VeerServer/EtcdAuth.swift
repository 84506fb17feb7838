import Foundation
import Posix
import Traffic

/// The etcd v3 auth token this client sends in the `Authorization` header.
enum EtcdToken: Sendable, Equatable {
    /// From `/v3/auth/authenticate`.
    case token(String)
    /// etcd has authentication off: nothing is sent until it says a user is needed.
    case notEnabled

    /// The header value; nil: no header.
    var header: String? {
        if case .token(let value) = self { return value }
        return nil
    }
}

/// etcd refused this client rather than failed: no other member would serve it either, and
/// the operator must change something (a file, a password, a role). Read from etcd's gateway
/// errors (etcd 3.4: `{"error":"etcdserver: permission denied","code":7}` with HTTP 403) or
/// from the TLS handshake.
enum EtcdRefusal: Sendable, Equatable {
    /// `etcdserver: invalid auth token` (HTTP 401, gRPC code 16: expired or unknown, as after
    /// `--auth-token-ttl` seconds unused or an etcd restart) or `revision of auth store is
    /// old`: authenticating again mends it.
    case invalidToken
    /// `etcdserver: user name is empty`: authentication is on and no token was sent.
    case noUser
    /// `etcdserver: authentication failed, invalid user ID or password`.
    case wrongPassword
    /// `etcdserver: permission denied` (HTTP 403, gRPC code 7): the user's roles do not cover the keys.
    case permissionDenied
    /// `etcdserver: authentication is not enabled`, the answer to an authenticate.
    case authNotEnabled
    /// `CommonName of client sending a request against gateway will be ignored…` (HTTP
    /// 400): with auth enabled, etcd 3.4's JSON gateway refuses a client certificate that
    /// has a CN, as it cannot pass the name on to etcd's CN-based auth.
    case commonNameThroughGateway
    /// etcd refused this client's certificate, or its lack of one, at the TLS handshake.
    case clientCertificateRefused
    /// This client refused etcd's certificate (not signed by the trusted CA, not naming the host).
    case serverCertificateRefused

    /// The refusal an error reply says, if it is one.
    init?(status: Int, message: String) {
        if message.contains("invalid auth token") || message.contains("revision of auth store is old") {
            self = .invalidToken
        } else if message.contains("user name is empty") {
            self = .noUser
        } else if message.contains("authentication failed") || message.contains("invalid user ID or password") {
            self = .wrongPassword
        } else if message.contains("permission denied") {
            self = .permissionDenied
        } else if message.contains("authentication is not enabled") {
            self = .authNotEnabled
        } else if message.contains("CommonName of client sending a request against gateway") {
            self = .commonNameThroughGateway
        } else if status == 401 {
            self = .invalidToken
        } else if status == 403 {
            self = .permissionDenied
        } else {
            return nil
        }
    }

    /// The refusal a connection's failure says, if it is one.
    init?(transport error: any Error) {
        if error is HTTPCertificateRefused {
            self = .clientCertificateRefused
        } else if let error = error as? TLSError, error.description.contains("certificate verify failed") {
            self = .serverCertificateRefused
        } else {
            return nil
        }
    }
}

extension EtcdClient {
    /// `attempt` with the auth token when a user is configured. When etcd says the token is
    /// invalid or old, authenticates again and tries once more: an expired token never
    /// reaches the operator.
    func authenticated(_ path: String, _ data: [UInt8], timeout: Duration) throws(CallError) -> [String: Any] {
        guard access.user != nil else { return try attempt(path, data, token: nil, timeout: timeout) }
        let token = try currentToken(timeout: timeout)
        do {
            return try attempt(path, data, token: token, timeout: timeout)
        } catch where error.refusal == .invalidToken || error.refusal == .noUser {
            // A member that timed out before the refusal may have applied the first try: a
            // failure from here on keeps the outcome unknown, so a save is checked, not lost.
            let first = error.mayHaveArrived
            do {
                let fresh = try authenticate(replacing: token, timeout: timeout, because: error.error.text)
                return try attempt(path, data, token: fresh, timeout: timeout)
            } catch {
                throw CallError(error: error.error, mayHaveArrived: first || error.mayHaveArrived, refusal: error.refusal)
            }
        }
    }

    /// The token to send: nil without a user; authenticates the first time.
    func currentToken(timeout: Duration) throws(CallError) -> String? {
        guard access.user != nil else { return nil }
        if let known = token.withLock({ $0 }) { return known.header }
        return try authenticate(replacing: nil, timeout: timeout, because: nil)
    }

    /// A new token from `/v3/auth/authenticate`, with the password read from its file now,
    /// unless another thread has already replaced `stale`. `because`: why the old one went,
    /// logged.
    func authenticate(replacing stale: String?, timeout: Duration, because reason: String?) throws(CallError) -> String? {
        guard let user = access.user else { return nil }
        if let current = token.withLock({ $0 }), current.header != stale, current != .notEnabled { return current.header }
        let body: [UInt8]
        do {
            body = try JSON.encode(["name": user, "password": try access.password()])
        } catch {
            throw CallError(error: StoreError(.io, "etcd: authenticating as \(user): \(error)"), mayHaveArrived: false, refusal: .wrongPassword)
        }
        let reply: [String: Any]
        do {
            reply = try attempt("/v3/auth/authenticate", body, token: nil, timeout: timeout)
        } catch where error.refusal == .authNotEnabled {
            if token.withLock({ $0 }) != .notEnabled {
                Log.warning("etcd: authentication is not enabled in etcd; --store-user \(user) is not used until it is")
            }
            token.withLock { $0 = .notEnabled }
            return nil
        }
        guard let value = reply["token"] as? String, !value.isEmpty else {
            throw CallError(error: StoreError(.io, "etcd /v3/auth/authenticate: no token in the reply"), mayHaveArrived: false)
        }
        token.withLock { $0 = .token(value) }
        if let reason { Log.info("etcd: authenticated again as \(user): the token was refused (\(reason))") }
        return value
    }

    /// What a refusal means for the operator, naming the member and what to change.
    func refused(_ refusal: EtcdRefusal, by member: Member, _ path: String, _ detail: String) -> String {
        "etcd \(member)\(path): " + refusalText(refusal, detail)
    }

    /// `refused` without the member: what was refused, by whom, and what to change.
    func refusalText(_ refusal: EtcdRefusal, _ detail: String) -> String {
        let user = access.user.map { "user \"\($0)\"" } ?? "no user"
        switch refusal {
        case .invalidToken:
            return "the auth token of \(user) was refused (etcd: \(detail))"
        case .noUser:
            return "etcd has authentication enabled and no user was given: use --store-user and --store-password-file (etcd: \(detail))"
        case .wrongPassword:
            return "\(user) was refused: wrong password or no such user "
                + "(the password is read from --store-password-file \(access.passwordFile ?? "")) (etcd: \(detail))"
        case .permissionDenied where access.user == nil:
            return "permission denied and no user was given: use --store-user and --store-password-file, "
                + "with a role that may read and write the keys under the store prefix (etcd: \(detail))"
        case .permissionDenied:
            return "permission denied: \(user) may not read or write the keys under the store prefix; "
                + "grant its role readwrite on the prefix (etcd: \(detail))"
        case .authNotEnabled:
            return "authentication is not enabled (etcd: \(detail))"
        case .commonNameThroughGateway:
            return "etcd has authentication enabled and refuses a client certificate with a CommonName through its JSON gateway "
                + "(--store-cert \(access.certificate ?? "")): issue it without a CN (openssl -subj \"/O=veer\"); "
                + "the user comes from --store-user (etcd: \(detail))"
        case .clientCertificateRefused:
            let given = access.certificate.map { "this client's certificate (--store-cert \($0))" }
                ?? "this client: it asks for a client certificate and none was given (use --store-cert and --store-key)"
            return "etcd refused \(given) at the TLS handshake (\(detail))"
        case .serverCertificateRefused:
            let trust = access.ca.map { "it must chain to --store-ca \($0) and name the host of the URL" }
                ?? "it was checked against the system's CAs: give the CA that signed it with --store-ca"
            return "this client refused etcd's certificate (\(detail)); \(trust)"
        }
    }

    /// A connection error's own words, without the address the caller names anyway.
    static func detail(_ error: any Error) -> String {
        (error as? HTTPCertificateRefused)?.reason ?? "\(error)"
    }

    /// A watch etcd created canceled: the error to throw. An invalid token is dropped, so
    /// the next call authenticates again.
    func watchCanceled(_ reason: String, by member: Member, token stale: String?) -> StoreError {
        guard let refusal = EtcdRefusal(status: 200, message: reason) else {
            return StoreError(.io, "etcd \(member) watch: canceled by etcd: \(reason)")
        }
        if refusal == .invalidToken || refusal == .noUser {
            token.withLock { if $0?.header == stale { $0 = nil } }
        }
        return StoreError(.io, refused(refusal, by: member, "/v3/watch", reason))
    }

    /// At start: a refusal (a certificate, a password, no permission on `prefix`) is an
    /// error that stops the server; an outage is not (the local copy is served meanwhile).
    /// Checks writing without writing: a transaction whose compare never holds, as etcd
    /// checks the permissions of both branches before it compares.
    func checkAccess(prefix: String) throws(StoreError) {
        let probe = Self.base64(prefix + "access-check")
        let transaction = Transaction(
            compare: [["key": probe, "target": "VERSION", "result": "LESS", "version": "0"]],
            success: [["request_put": ["key": probe, "value": ""]]],
            failure: [["request_range": ["key": Self.base64(prefix), "range_end": Self.base64(Self.prefixEnd(prefix)), "limit": "1"]]])
        let data: [UInt8]
        do { data = try JSON.encode(transaction) } catch { throw StoreError(.io, "etcd: \(error)") }
        do {
            _ = try authenticated("/v3/kv/txn", data, timeout: Self.timeout)
        } catch {
            guard let refusal = error.refusal else { return }
            guard refusal == .permissionDenied else { throw error.error }
            throw StoreError(.io, error.error.text.replacingOccurrences(of: "the keys under the store prefix", with: "the keys under \(prefix)"))
        }
    }
}
