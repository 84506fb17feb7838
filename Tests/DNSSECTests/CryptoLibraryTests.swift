import Testing
import DNSSEC

/// The linked libcrypto is OpenSSL 3, the version every algorithm here was checked against.
@Suite struct CryptoLibraryTests {
    @Test func linksOpenSSL3() {
        #expect(CryptoLibrary.version.hasPrefix("OpenSSL 3."))
    }
}
