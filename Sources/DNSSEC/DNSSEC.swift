// DNSSEC keys and signatures (RFC 4033-4035): key files, DNSKEY and DS records, and RRSIGs over
// canonical RRsets, made with the system's libcrypto through COpenSSL. Nothing here runs per
// query: signatures are made when a zone is loaded or a signature nears its expiry.
import COpenSSL

/// The OpenSSL this binary signs with, as OpenSSL names itself.
public enum CryptoLibrary {
    /// For example "OpenSSL 3.0.17 1 Jul 2025".
    public static var version: String { String(cString: copenssl_version()) }
}
