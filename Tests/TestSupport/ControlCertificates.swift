import Foundation
import Posix

/// Certificates for the admin protocol over TLS, made with the real `openssl` in a temporary
/// directory, as the README tells operators to make them: a CA (`ca.pem`), a server
/// certificate for `localhost`, 127.0.0.1 and ::1 (`server.pem`/`server.key`), client
/// certificates by CN (`NAME.pem`/`NAME.key`), a client certificate from another CA
/// (`stranger.pem`), and a CRL (`crl.pem`) revoking what `revoke` was given. Removed when
/// deinitialised. A missing `openssl` is a failure, never a skip.
public final class ControlCertificates: @unchecked Sendable {
    public let directory: String
    private let openssl: String

    /// The CA, its empty CRL and the server certificate.
    public init() throws {
        openssl = try TLSGateway.openssl()
        directory = try FileIO.makeTemporaryDirectory(prefix: "veer-control-certs-")
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-subj", "/CN=veer test control CA", "-keyout", "ca.key", "-out", "ca.pem"])
        try write("ca.cnf", """
            [ ca ]
            default_ca = control_ca
            [ control_ca ]
            database = index.txt
            crlnumber = crlnumber
            default_md = sha256
            default_crl_days = 1

            """)
        try write("index.txt", "")
        try write("crlnumber", "1000\n")
        try makeCRL()
        try issue("server", subject: "/CN=localhost", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth")
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                 "-subj", "/CN=another CA", "-keyout", "other-ca.key", "-out", "other-ca.pem"])
        try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=ops",
                 "-keyout", "stranger.key", "-out", "stranger.csr"])
        try run(["x509", "-req", "-in", "stranger.csr", "-CA", "other-ca.pem", "-CAkey", "other-ca.key", "-CAcreateserial",
                 "-days", "2", "-out", "stranger.pem"])
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The path of `name` in the directory.
    public func path(_ name: String) -> String { directory + "/" + name }

    /// A client certificate `NAME.pem`/`NAME.key` with subject CN `commonName` and, if given,
    /// DNS subjectAltNames.
    public func client(_ name: String, commonName: String? = nil, dnsNames: [String] = []) throws {
        var extensions = "extendedKeyUsage=clientAuth"
        if !dnsNames.isEmpty { extensions += "\nsubjectAltName=" + dnsNames.map { "DNS:\($0)" }.joined(separator: ",") }
        try issue(name, subject: "/CN=\(commonName ?? name)", extensions: extensions)
    }

    /// A client certificate `NAME.pem`/`NAME.key` without a CN (subject O=NAME): what etcd
    /// 3.4's JSON gateway takes while etcd's auth is on (README, "A shared store over TLS").
    public func clientWithoutCommonName(_ name: String) throws {
        try issue(name, subject: "/O=\(name)", extensions: "extendedKeyUsage=clientAuth")
    }

    /// A certificate `NAME.pem`/`NAME.key` for an etcd member on 127.0.0.1: for serving and,
    /// as etcd 3.4's JSON gateway presents it to its own gRPC side under `--client-cert-auth`,
    /// for clients too (with serverAuth alone that gateway answers 503).
    public func etcdMember(_ name: String) throws {
        try issue(name, subject: "/CN=\(name)", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth")
    }

    /// Revokes `NAME.pem` and writes a new `crl.pem`.
    public func revoke(_ name: String) throws {
        try run(["ca", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-revoke", name + ".pem"])
        try makeCRL()
    }

    private func makeCRL() throws {
        try run(["ca", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-gencrl", "-out", "crl.pem"])
    }

    private func issue(_ name: String, subject: String, extensions: String) throws {
        try write(name + ".ext", extensions + "\n")
        try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
                 "-keyout", name + ".key", "-out", name + ".csr"])
        try run(["x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem"])
    }

    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    private func run(_ arguments: [String]) throws {
        let (process, output) = try TLSGateway.start(openssl, arguments, in: directory, log: path("openssl.log"))
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TLSGateway.Failure(description: "openssl \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \(output())")
        }
    }
}
