import Testing
import DNSSEC
import DNSWire
import Glibc
import Posix
import TestSupport

/// Reading `--keys DIR`: keys by zone and role, and every refusal names the file.
@Suite struct KeyDirectoryTests {
    /// Writes a key and its state file as `veer keys generate` does.
    @discardableResult
    static func write(_ dir: String, zone: String, state: KeyState, algorithm: DNSSECAlgorithm = .ecdsaP256SHA256) throws -> (KeyRecord, SigningKey) {
        let key = try SigningKey.generate(algorithm)
        let record = KeyRecord(zone: name(zone), algorithm: algorithm, tag: key.keyTag, state: state, created: 10, activated: state == .active ? 10 : nil)
        try FileIO.createExclusively(try key.pem(), at: "\(dir)/\(record.baseName).private", mode: 0o600)
        try FileIO.createExclusively(Array(record.text.utf8), at: "\(dir)/\(record.baseName).state", mode: 0o644)
        return (record, key)
    }

    @Test func keysSortIntoRoles() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        let (_, active) = try Self.write(dir, zone: "example.com.", state: .active)
        let (_, published) = try Self.write(dir, zone: "example.com.", state: .published)
        let (_, retiring) = try Self.write(dir, zone: "example.com.", state: .retiring)
        try Self.write(dir, zone: "example.com.", state: .removed)
        let (_, other) = try Self.write(dir, zone: "other.test.", state: .active, algorithm: .ed25519)
        let zones = try KeyDirectory.load(dir, now: 20)
        #expect(Set(zones.keys) == [name("example.com."), name("other.test.")])
        let keys = try #require(zones[name("example.com.")])
        #expect(Set(keys.published.map(\.keyTag)) == [active.keyTag, published.keyTag, retiring.keyTag])
        #expect(keys.signing.map(\.keyTag) == [active.keyTag])
        #expect(keys.signingDNSKEYOnly.map(\.keyTag) == [retiring.keyTag])
        #expect(zones[name("other.test.")]?.signing.map(\.keyTag) == [other.keyTag])
    }

    @Test func privateKeyOthersCanReadIsRefused() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        let (record, _) = try Self.write(dir, zone: "example.com.", state: .active)
        chmod("\(dir)/\(record.baseName).private", 0o640)
        #expect(throws: DNSSECError("\(dir)/\(record.baseName).private: readable by group or others (mode 0640); chmod 600 it")) {
            try KeyDirectory.load(dir, now: 20)
        }
    }

    @Test func missingPrivateKeyNamesTheFileAndErrno() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        let (record, _) = try Self.write(dir, zone: "example.com.", state: .active)
        try FileIO.remove("\(dir)/\(record.baseName).private")
        let error = #expect(throws: SystemError.self) { try KeyDirectory.load(dir, now: 20) }
        #expect(error?.description.contains("\(record.baseName).private: ENOENT") == true)
    }

    @Test func keyOfAnotherAlgorithmThanItsFileIsRefused() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        let ed = try SigningKey.generate(.ed25519)
        let record = KeyRecord(zone: name("example.com."), algorithm: .ecdsaP256SHA256, tag: ed.keyTag, state: .active, created: 1, activated: 1)
        try FileIO.createExclusively(try ed.pem(), at: "\(dir)/\(record.baseName).private", mode: 0o600)
        try FileIO.createExclusively(Array(record.text.utf8), at: "\(dir)/\(record.baseName).state", mode: 0o644)
        let error = #expect(throws: DNSSECError.self) { try KeyDirectory.load(dir, now: 20) }
        #expect(error?.message.contains("not an ECDSA P-256 key") == true)
    }

    @Test func zoneWithoutActiveKeyIsRefused() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        try Self.write(dir, zone: "example.com.", state: .published)
        #expect(throws: DNSSECError.self) { try KeyDirectory.load(dir, now: 20) }
    }

    @Test func privateKeyIsNeverOverwritten() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        try FileIO.createExclusively([1, 2, 3], at: dir + "/k", mode: 0o600)
        let error = #expect(throws: SystemError.self) { try FileIO.createExclusively([4], at: dir + "/k", mode: 0o600) }
        #expect(error?.errno == .EEXIST)
        #expect(try FileIO.read(dir + "/k", limit: 10) == [1, 2, 3])
        #expect(try FileIO.permissionBits(dir + "/k") == 0o600)
    }
}
