// Signatures kept between runs, so a restart or a reload re-signs only what changed or nears
// expiry. One file, replaced atomically; a corrupt file is a warning and is rebuilt.
import Posix
import Synchronization

/// Identifies one signature: SHA-256 over the key's DNSKEY RDATA, the signer and the RRset in
/// canonical form (owner, type, TTL, RDATA), so any change there misses the cache.
struct SignatureKey: Hashable, Sendable {
    var a: UInt64, b: UInt64, c: UInt64, d: UInt64

    init(_ digest: [UInt8]) {
        func word(_ at: Int) -> UInt64 { digest[at..<(at + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        a = word(0); b = word(8); c = word(16); d = word(24)
    }

    var bytes: [UInt8] {
        [a, b, c, d].flatMap { word in (0..<8).map { UInt8(truncatingIfNeeded: word >> (56 - 8 * $0)) } }
    }

    /// Seed for the set's jitter.
    var seed: UInt32 { UInt32(truncatingIfNeeded: a >> 32) }
}

/// The on-disk cache under the state directory (`<state-dir>/signatures/<zone>.cache` or one file):
/// load at start, save after signing (atomic rename). A corrupt cache is a warning and is rebuilt.
///
/// File: the magic line `veer-signatures 1\n`, then per entry 32 octets of `SignatureKey`,
/// a 2-octet length and the RRSIG RDATA.
public final class SignatureCache: Sendable {
    static let magic = Array("veer-signatures 1\n".utf8)
    /// Largest cache file read: a million-record zone with two keys needs about 400 MB.
    public static let maxFileBytes = 2 << 30

    struct Storage {
        var entries: [SignatureKey: [UInt8]] = [:]
        /// The latest `now` a signer passed: entries expired by then are not saved.
        var latest: UInt32 = 0
    }

    /// Where the cache is saved, nil for memory only.
    public let file: String?
    /// Why the file was not used (unreadable or corrupt), or nil. Print it as a warning.
    public let warning: String?
    let storage: Mutex<Storage>

    /// Loads `file` when given and present; starts empty (with `warning` set) when it cannot.
    public init(file: String?) {
        self.file = file
        var loaded = Storage()
        var warning: String? = nil
        if let file, FileIO.exists(file) {
            do {
                loaded.entries = try Self.decode(try FileIO.read(file, limit: Self.maxFileBytes), file: file)
            } catch {
                warning = "signature cache \(file) not used, every signature is made again: \(error)"
            }
        }
        self.warning = warning
        self.storage = Mutex(loaded)
    }

    /// How many signatures the cache holds.
    public var count: Int { storage.withLock { $0.entries.count } }

    func lookup(_ key: SignatureKey) -> [UInt8]? { storage.withLock { $0.entries[key] } }

    func store(_ key: SignatureKey, _ rdata: [UInt8], now: UInt32) {
        storage.withLock {
            $0.entries[key] = rdata
            if Int32(bitPattern: now &- $0.latest) > 0 || $0.latest == 0 { $0.latest = now }
        }
    }

    func note(now: UInt32) {
        storage.withLock { if Int32(bitPattern: now &- $0.latest) > 0 || $0.latest == 0 { $0.latest = now } }
    }

    /// Writes the cache (write, fsync, rename), leaving out signatures expired at the latest
    /// signing time, so sets that changed or left do not pile up past their expiry. Does nothing
    /// for a memory-only cache.
    public func save() throws {
        guard let file else { return }
        let bytes = storage.withLock { storage in
            var out = Self.magic
            for (key, rdata) in storage.entries {
                // The expiration sits at octets 8-11 of RRSIG RDATA (RFC 4034 §3.1).
                if storage.latest != 0, Int32(bitPattern: Canonical.read32(rdata, 8) &- storage.latest) <= 0 { continue }
                out += key.bytes
                Canonical.append16(UInt16(rdata.count), to: &out)
                out += rdata
            }
            return out
        }
        try FileIO.writeAtomically(bytes, to: file)
    }

    static func decode(_ bytes: [UInt8], file: String) throws(DNSSECError) -> [SignatureKey: [UInt8]] {
        guard bytes.starts(with: magic) else { throw DNSSECError("not a Veer signature cache (no magic line)") }
        var entries: [SignatureKey: [UInt8]] = [:]
        var offset = magic.count
        while offset < bytes.count {
            guard offset + 34 <= bytes.count else { throw DNSSECError("truncated entry at offset \(offset)") }
            let key = SignatureKey(Array(bytes[offset..<(offset + 32)]))
            let length = Int(Canonical.read16(bytes, offset + 32))
            offset += 34
            guard length > RRSIG.fixedLength, offset + length <= bytes.count else {
                throw DNSSECError("bad entry length \(length) at offset \(offset - 2)")
            }
            entries[key] = Array(bytes[offset..<(offset + length)])
            offset += length
        }
        return entries
    }
}
