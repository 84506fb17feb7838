import Testing
import DNSSEC
import DNSWire

/// The rollover steps as pure functions of the key records (RFC 6781 §4.1.1 for a CSK).
@Suite struct RolloverTests {
    static let zone = name("example.com.")
    static let ttl: UInt32 = 3600

    static func key(_ tag: UInt16, _ state: KeyState, created: UInt32 = 0, activated: UInt32? = nil, retiring: UInt32? = nil) -> KeyRecord {
        KeyRecord(zone: zone, algorithm: .ecdsaP256SHA256, tag: tag, state: state, created: created,
                  activated: activated, retiring: retiring)
    }

    @Test func firstKeyIsActiveLaterOnesArePublished() throws {
        #expect(try Rollover.stateForNewKey(.ecdsaP256SHA256, in: []) == .active)
        #expect(try Rollover.stateForNewKey(.ecdsaP256SHA256, in: [Self.key(1, .active)]) == .published)
        // A zone whose keys all left starts over with an active key.
        #expect(try Rollover.stateForNewKey(.ecdsaP256SHA256, in: [Self.key(1, .removed)]) == .active)
    }

    @Test func secondAlgorithmIsRefused() {
        #expect(throws: DNSSECError.self) { try Rollover.stateForNewKey(.ed25519, in: [Self.key(1, .active)]) }
    }

    @Test func wholeRolloverInThreeSteps() throws {
        let start = [Self.key(1, .active, created: 0, activated: 0), Self.key(2, .published, created: 1000)]
        let activated = try Rollover.activate(start, tag: 2, now: 1000 + Self.ttl, dnskeyTTL: Self.ttl, force: false)
        #expect(activated.map(\.state) == [.retiring, .active])
        #expect(activated[0].retiring == 1000 + Self.ttl)
        #expect(activated[1].activated == 1000 + Self.ttl)
        let retired = try Rollover.retire(activated, tag: 1, now: 1000 + 2 * Self.ttl, dnskeyTTL: Self.ttl, force: false)
        #expect(retired.map(\.state) == [.removed, .active])
        #expect(retired[0].removed == 1000 + 2 * Self.ttl)
    }

    /// Caches may hold the DNSKEY RRset without the new key for one DNSKEY TTL: signatures by
    /// it before then would be bogus to them.
    @Test func activateBeforeTheDNSKEYTTLIsRefused() throws {
        let keys = [Self.key(1, .active), Self.key(2, .published, created: 1000)]
        #expect(throws: DNSSECError.self) {
            try Rollover.activate(keys, tag: 2, now: 1000 + Self.ttl - 1, dnskeyTTL: Self.ttl, force: false)
        }
        #expect(try Rollover.activate(keys, tag: 2, now: 1001, dnskeyTTL: Self.ttl, force: true)[1].state == .active)
    }

    @Test func retireBeforeTheDNSKEYTTLIsRefused() throws {
        let keys = [Self.key(1, .retiring, retiring: 5000), Self.key(2, .active, activated: 5000)]
        #expect(throws: DNSSECError.self) {
            try Rollover.retire(keys, tag: 1, now: 5000 + Self.ttl - 1, dnskeyTTL: Self.ttl, force: false)
        }
        #expect(try Rollover.retire(keys, tag: 1, now: 5001, dnskeyTTL: Self.ttl, force: true)[0].state == .removed)
    }

    @Test func stepsOnTheWrongKeyAreRefused() {
        let keys = [Self.key(1, .active), Self.key(2, .published)]
        // The active key cannot be retired: the zone would have no signer.
        #expect(throws: DNSSECError("key 1 is active; only a retiring key can be retired (activate its successor first)")) {
            try Rollover.retire(keys, tag: 1, now: 99_999, dnskeyTTL: Self.ttl, force: true)
        }
        #expect(throws: DNSSECError.self) { try Rollover.activate(keys, tag: 1, now: 99_999, dnskeyTTL: Self.ttl, force: true) }
        #expect(throws: DNSSECError("no key with tag 3")) { try Rollover.activate(keys, tag: 3, now: 99_999, dnskeyTTL: Self.ttl, force: true) }
        // A second rollover must wait until the first one's old key has left.
        let midway = [Self.key(1, .retiring), Self.key(2, .active), Self.key(3, .published)]
        #expect(throws: DNSSECError.self) { try Rollover.activate(midway, tag: 3, now: 99_999, dnskeyTTL: Self.ttl, force: true) }
    }

    @Test func stateFileRoundTrips() throws {
        let record = KeyRecord(zone: Self.zone, algorithm: .ed25519, tag: 7, state: .retiring, created: 1, activated: 2, retiring: 3)
        #expect(try KeyRecord(text: record.text) == record)
        #expect(record.baseName == "Kexample.com.+015+00007")
    }

    @Test(arguments: [
        ("zone=example.com.\nalgorithm=8\ntag=1\nstate=active\ncreated=1\n", "algorithm=8 is not one Veer signs with (13, 15)"),
        ("zone=example.com.\nalgorithm=13\ntag=1\nstate=gone\ncreated=1\n", "state=gone is not published, active, retiring or removed"),
        ("zone=example.com.\nalgorithm=13\ntag=1\nstate=active\n", "missing created="),
        ("zone=example.com.\ncolour=blue\n", "line 2: unknown key colour"),
        ("zone example.com.\n", "line 1: expected key=value"),
    ])
    func badStateFilesSayWhy(_ text: String, _ message: String) {
        #expect(throws: DNSSECError(message)) { try KeyRecord(text: text) }
    }
}
