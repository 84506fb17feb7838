// The key directory (`--keys DIR`): `K<zone>+<alg>+<tag>.private` (PKCS#8 PEM, mode 0600) and
// `K<zone>+<alg>+<tag>.state` (KeyRecord) per key, read into each zone's signing keys.
import DNSWire
import Posix

/// The keys of one zone, read from `--keys DIR`.
public struct ZoneKeys: Sendable {
    /// The zone apex.
    public let apex: DomainName
    /// Every key in the DNSKEY RRset (pre-published, active, retiring).
    public let published: [SigningKey]
    /// Keys that sign every RRset (active).
    public let signing: [SigningKey]
    /// Keys that sign only the DNSKEY RRset (retiring CSK, so the old DS still validates).
    public let signingDNSKEYOnly: [SigningKey]
    /// The metadata of the published keys, in the same order as `published`: for `status`.
    public let records: [KeyRecord]

    /// Sorts `keys` (live ones only) into the three roles by state.
    public init(apex: DomainName, keys: [(record: KeyRecord, key: SigningKey)]) {
        let live = keys.filter { $0.record.state != .removed }.sorted { $0.record.tag < $1.record.tag }
        self.apex = apex
        self.published = live.map(\.key)
        self.records = live.map(\.record)
        self.signing = live.filter { $0.record.state == .active }.map(\.key)
        self.signingDNSKEYOnly = live.filter { $0.record.state == .retiring }.map(\.key)
    }
}

/// One key as found in the directory.
public struct KeyFile: Sendable {
    /// The `.state` file's content.
    public var record: KeyRecord
    /// Path of the `.state` file.
    public var statePath: String
    /// Path of the `.private` PEM file.
    public var privatePath: String
}

/// Reads and checks a key directory.
public enum KeyDirectory {
    /// Largest `.state` or `.private` file read; both are a few hundred octets.
    public static let maxFileBytes = 16 * 1024
    /// Permission bits a private key file must not have: any access for group or others.
    public static let groupOtherBits: UInt32 = 0o077

    /// Every key's `.state` file in `dir`, parsed, without touching the private keys (for
    /// `veer keys list` and the rollover steps). The first bad file throws, naming it.
    public static func files(_ dir: String) throws -> [KeyFile] {
        let (files, errors) = try scan(dir)
        if let first = errors.first { throw DNSSECError(first) }
        return files
    }

    /// The good `.state` files of `dir` and an error (naming the file) for each bad one; only
    /// a directory that cannot be listed throws.
    public static func scan(_ dir: String) throws -> (files: [KeyFile], errors: [String]) {
        var files: [KeyFile] = []
        var errors: [String] = []
        for name in try FileIO.contentsOfDirectory(dir) where name.hasPrefix("K") && name.hasSuffix(".state") {
            let statePath = dir + "/" + name
            do {
                let bytes = try FileIO.read(statePath, limit: maxFileBytes)
                let record: KeyRecord
                do { record = try KeyRecord(text: String(decoding: bytes, as: UTF8.self)) } catch {
                    throw DNSSECError("\(statePath): \(error.message)")
                }
                guard record.baseName + ".state" == name else {
                    throw DNSSECError("\(statePath): the file says key \(record.baseName), the name does not match")
                }
                files.append(KeyFile(record: record, statePath: statePath, privatePath: dir + "/" + record.baseName + ".private"))
            } catch {
                errors.append("\(error)")
            }
        }
        return (files, errors)
    }

    /// Reads the private key of `file`: refused when group or others may access it, when it
    /// cannot be read, when it is not of the file's algorithm or libcrypto lacks the
    /// algorithm, and when its key tag is not the one in the file name.
    public static func privateKey(_ file: KeyFile) throws -> SigningKey {
        let path = file.privatePath
        let mode = try FileIO.permissionBits(path)
        guard mode & groupOtherBits == 0 else {
            throw DNSSECError("\(path): readable by group or others (mode \(octal(mode))); chmod 600 it")
        }
        let pem = try FileIO.read(path, limit: maxFileBytes)
        if let missing = file.record.algorithm.availability() {
            throw DNSSECError("\(path): algorithm \(file.record.algorithm) is not available in this libcrypto: \(missing)")
        }
        let key: SigningKey
        do { key = try SigningKey.load(pem: pem, algorithm: file.record.algorithm) } catch {
            throw DNSSECError("\(path): \(error.message)")
        }
        guard key.keyTag == file.record.tag else {
            throw DNSSECError("\(path): the key's tag is \(key.keyTag), the file name says \(file.record.tag)")
        }
        return key
    }

    /// Every zone with live keys in `dir` and its keys by role. A zone whose live keys include
    /// no active one is refused (it could not be signed); removed keys are skipped without
    /// reading their private files. `now` is the time the keys are taken at (states change
    /// only through `veer keys`, so it is not read yet).
    public static func load(_ dir: String, now: UInt32) throws -> [DomainName: ZoneKeys] {
        var byZone: [DomainName: [(record: KeyRecord, key: SigningKey)]] = [:]
        for file in try files(dir) where file.record.state != .removed {
            byZone[file.record.zone, default: []].append((file.record, try privateKey(file)))
        }
        var result: [DomainName: ZoneKeys] = [:]
        for (zone, keys) in byZone {
            guard keys.contains(where: { $0.record.state == .active }) else {
                throw DNSSECError("\(dir): zone \(zone) has keys but none is active (\(keys.map { "\($0.record.tag) \($0.record.state.rawValue)" }.joined(separator: ", ")))")
            }
            result[zone] = ZoneKeys(apex: zone, keys: keys)
        }
        return result
    }

    /// `0640`-style text of permission bits.
    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
