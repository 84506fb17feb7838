import Testing
import DNSSEC
import DNSWire
import Posix
import TestSupport

/// The signature cache on disk: a restart signs nothing new, a change re-signs only the set
/// that changed, a signature near expiry is renewed, and a corrupt file is rebuilt.
@Suite struct SignatureCacheTests {
    static let now: UInt32 = 1_800_000_000
    static let policy = SignaturePolicy()

    static func zoneSets(count: Int) -> [RRsetToSign] {
        (0..<count).map { index in
            RRsetToSign(owner: name("host\(index).example.com."), type: .a, originalTTL: 60, rdatas: [[192, 0, 2, UInt8(index)]])
        }
    }

    @Test func warmCacheSignsNothingAndAChangeSignsOneSet() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        let file = dir + "/example.com.cache"
        let (keys, key) = try SignerTests.keys()
        var sets = Self.zoneSets(count: 50)
        let first = ZoneSigner(keys: keys, policy: Self.policy, cache: SignatureCache(file: file))
        let cold = try first.sign(sets, now: Self.now)
        #expect(first.signaturesMade == 50)
        try first.cache.save()

        let cache = SignatureCache(file: file)
        #expect(cache.warning == nil)
        #expect(cache.count == 50)
        let second = ZoneSigner(keys: keys, policy: Self.policy, cache: cache)
        #expect(try second.sign(sets, now: Self.now + 600) == cold)
        #expect(second.signaturesMade == 0)

        sets[7].rdatas = [[198, 51, 100, 7]]
        let changed = try second.sign(sets, now: Self.now + 700)
        #expect(second.signaturesMade == 1)
        try RRSIG(rdata: changed[7][0]).verify(sets[7], dnskeyRDATA: key.dnskeyRDATA, now: Self.now + 700)
        // A TTL change is a change too: the RRSIG carries the original TTL.
        sets[8].originalTTL = 30
        _ = try second.sign(sets, now: Self.now + 800)
        #expect(second.signaturesMade == 2)
    }

    @Test func signaturesNearExpiryAreRenewed() throws {
        let (keys, _) = try SignerTests.keys()
        let sets = Self.zoneSets(count: 20)
        let signer = ZoneSigner(keys: keys, policy: Self.policy, cache: SignatureCache(file: nil))
        _ = try signer.sign(sets, now: Self.now)
        let refresh = signer.nextRefresh
        // Just before the earliest renewal, nothing is due; past the latest (no jitter left), all are.
        _ = try signer.sign(sets, now: refresh - 1)
        #expect(signer.signaturesMade == 20)
        let latest = Self.now + Self.policy.validity - Self.policy.refreshBefore
        let renewed = try signer.sign(sets, now: latest)
        #expect(signer.signaturesMade == 40)
        #expect(try RRSIG(rdata: renewed[0][0]).expiration == latest + Self.policy.validity)
        // The jitter spreads the renewals: not every set is due at the first one.
        #expect(signer.nextRefresh > latest)
    }

    @Test func aKeyChangeResigns() throws {
        let (keys, _) = try SignerTests.keys()
        let (otherKeys, _) = try SignerTests.keys()
        let cache = SignatureCache(file: nil)
        let sets = Self.zoneSets(count: 5)
        _ = try ZoneSigner(keys: keys, policy: Self.policy, cache: cache).sign(sets, now: Self.now)
        let other = ZoneSigner(keys: otherKeys, policy: Self.policy, cache: cache)
        _ = try other.sign(sets, now: Self.now)
        #expect(other.signaturesMade == 5)
    }

    @Test func corruptCacheIsAWarningAndRebuilt() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        let file = dir + "/bad.cache"
        try FileIO.writeAtomically(Array("veer-signatures 1\ngarbage".utf8), to: file)
        let cache = SignatureCache(file: file)
        #expect(cache.warning?.contains("truncated entry") == true)
        let (keys, _) = try SignerTests.keys()
        let signer = ZoneSigner(keys: keys, policy: Self.policy, cache: cache)
        _ = try signer.sign(Self.zoneSets(count: 3), now: Self.now)
        try cache.save()
        #expect(SignatureCache(file: file).count == 3)
    }

    @Test func expiredEntriesAreNotSaved() throws {
        let dir = try FileIO.makeTemporaryDirectory()
        let file = dir + "/x.cache"
        let (keys, _) = try SignerTests.keys()
        let cache = SignatureCache(file: file)
        let signer = ZoneSigner(keys: keys, policy: Self.policy, cache: cache)
        _ = try signer.sign(Self.zoneSets(count: 3), now: Self.now)
        // The zone changed entirely; three weeks later the old signatures have expired.
        var later = Self.zoneSets(count: 3)
        for index in later.indices { later[index].originalTTL = 10 }
        _ = try signer.sign(later, now: Self.now + 21 * 86_400)
        try cache.save()
        #expect(SignatureCache(file: file).count == 3)
    }

    @Test func impossiblePolicyIsRefused() throws {
        let (keys, _) = try SignerTests.keys()
        let policy = SignaturePolicy(inceptionOffset: 0, validity: 10, refreshBefore: 8, jitter: 2)
        #expect(policy.problem != nil)
        #expect(throws: DNSSECError.self) {
            try ZoneSigner(keys: keys, policy: policy, cache: SignatureCache(file: nil)).sign(Self.zoneSets(count: 1), now: Self.now)
        }
    }
}
