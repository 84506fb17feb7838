import Posix
import Traffic

/// How Veer proves itself to etcd and checks etcd in turn (README "A shared store over
/// TLS"): the TLS files for `https://` endpoints and the etcd v3 user. `veer serve` and
/// `veer store import|export` take the same options.
struct EtcdAccess: Sendable {
    /// The options that set it.
    static let options: Set<String> = ["store-ca", "store-cert", "store-key", "store-user", "store-password-file"]
    /// The longest password file read: a password, not a document.
    static let maxPasswordBytes = 4096

    /// `--store-ca`: the CA etcd's certificate must chain to; nil: the system's CAs.
    var ca: String?
    /// `--store-cert` and `--store-key`: the client certificate etcd asks for with
    /// `--client-cert-auth`; nil: none is presented.
    var certificate: String?
    var key: String?
    /// `--store-user`: the etcd v3 user; nil: no authentication.
    var user: String?
    /// `--store-password-file`: the user's password, read again at each authentication (a
    /// changed password is taken without a restart); a final newline is not part of it.
    var passwordFile: String?

    /// Plain access: no TLS files, no user.
    init() {}

    /// From the command line: the certificate comes with its key and the user with the
    /// password file; none of them without `--store`.
    init(_ options: OptionReader) throws(UsageError) {
        ca = options.last("store-ca")
        certificate = options.last("store-cert")
        key = options.last("store-key")
        user = options.last("store-user")
        passwordFile = options.last("store-password-file")
        if options.last("store") == nil, let stray = Self.options.sorted().first(where: { options.last($0) != nil }) {
            throw UsageError("--\(stray) goes with --store etcd=https://HOST:PORT")
        }
        guard (certificate == nil) == (key == nil) else {
            throw UsageError("--store-cert and --store-key go together (the client certificate and its private key)")
        }
        guard (user == nil) == (passwordFile == nil) else {
            throw UsageError("--store-user and --store-password-file go together (the etcd user and the file holding its password)")
        }
        if let user, user.isEmpty || user.contains(where: { $0.isNewline }) {
            throw UsageError("--store-user must be a user name, got \"\(user)\"")
        }
        if passwordFile != nil {
            do { _ = try password() } catch { throw UsageError("\(error)") }
        }
    }

    /// Whether an `https://` endpoint needs what these options give.
    var usesTLSFiles: Bool { ca != nil || certificate != nil }

    /// The TLS context for `https://` endpoints, from the files (a usage error names the bad one).
    func tlsContext() throws(UsageError) -> TLSContext {
        do {
            return try TLSContext.client(ca: ca, certificate: certificate, key: key)
        } catch {
            throw UsageError("--store-ca, --store-cert, --store-key: \(error)")
        }
    }

    /// The password in `passwordFile`, without a final newline; an error that names the file.
    func password() throws(StoreError) -> String {
        guard let passwordFile else { return "" }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(passwordFile, limit: Self.maxPasswordBytes)
        } catch {
            throw StoreError(.io, "--store-password-file \(passwordFile): \(error)")
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        guard !text.isEmpty else { throw StoreError(.io, "--store-password-file \(passwordFile): empty") }
        return text
    }
}
