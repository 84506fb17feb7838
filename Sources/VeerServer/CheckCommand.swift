import DNSSEC
import DNSWire
import Posix
import ZoneFile

/// `veer check [DIR]`: loads every zone like `serve` would and prints every error
/// (`file:line:column: error: …`), exit 1 if there is one (as nsd-checkzone and kzonecheck).
/// `veer check FILE`: one zone file, as `named-checkzone` does; its origin is `--origin`,
/// else its `$ORIGIN`, else its file name (`example.com.zone`).
/// With `--keys DIR`, the DNSSEC keys too (KeyCheck), against the zones that loaded.
enum CheckCommand {
    /// The options `check` takes a value for.
    static let valued: Set<String> = ["zones", "max-zone-bytes", "origin", "keys"]

    static func run(_ arguments: ArraySlice<String>) throws(UsageError) -> Int32 {
        let options = try OptionReader(arguments, valued: valued)
        guard options.positional.count <= 1 else { throw UsageError("check takes at most one directory or zone file") }
        let target = options.positional.first ?? options.last("zones") ?? "zones"
        let files = ZoneParser.Files.system(maxBytes: try ZoneParser.Files.maxBytes(options))
        let (status, zones): (Int32, [Zone])
        if files.list(target) == nil, FileIO.exists(target) {
            (status, zones) = try checkFile(target, origin: options.last("origin"), files: files)
        } else {
            guard options.last("origin") == nil else { throw UsageError("--origin goes with a zone file, and \(target) is a directory") }
            (status, zones) = checkDirectory(target, files: files)
        }
        guard let keys = options.last("keys"), status == 0 else { return status }
        let findings = KeyCheck.run(keys, served: zones.map(\.origin))
        for finding in findings { print(finding.description) }
        return findings.contains { $0.severity == .error } ? 1 : 0
    }

    /// Every `*.zone` file of `directory`: each error, or one line per zone.
    static func checkDirectory(_ directory: String, files: ZoneParser.Files) -> (Int32, [Zone]) {
        let (zones, errors) = ZoneParser.loadDirectory(directory, files: files)
        for error in errors { print(error.description) }
        if !errors.isEmpty {
            print("\(errors.count) error\(errors.count == 1 ? "" : "s") in \(directory)")
            return (1, zones)
        }
        if zones.isEmpty {
            print("\(directory): no *.zone files")
            return (1, zones)
        }
        for zone in zones { print(summary(zone)) }
        return (0, zones)
    }

    /// One zone file: each error and their count, exit 1; or its summary, exit 0.
    static func checkFile(_ path: String, origin: String?, files: ZoneParser.Files) throws(UsageError) -> (Int32, [Zone]) {
        var name: DomainName?
        if let origin {
            do { name = try DomainName(origin.hasSuffix(".") ? origin : origin + ".") } catch {
                throw UsageError("--origin must be a domain name, got \"\(origin)\"")
            }
        }
        let result: Result<Zone, ZoneErrors>
        do {
            result = ZoneParser.parse(String(decoding: try files.read(path), as: UTF8.self), file: path, origin: name, files: files)
        } catch {
            print("\(path):1:1: error: cannot read the zone file: \(error)")
            return (1, [])
        }
        switch result {
        case .success(let zone):
            print(summary(zone))
            return (0, [zone])
        case .failure(let failure):
            for error in failure.diagnostics { print(error.description) }
            print("\(failure.diagnostics.count) error\(failure.diagnostics.count == 1 ? "" : "s") in \(path)")
            return (1, [])
        }
    }

    /// `FILE: zone NAME serial N ok: R records, W weighted names`.
    static func summary(_ zone: Zone) -> String {
        let serial = if case .soa(let soa) = zone.soa.data { " serial \(soa.serial)" } else { "" }
        return "\(zone.file): zone \(zone.origin)\(serial) ok: \(zone.records.count) records, \(zone.weighted.count) weighted names"
    }
}

extension ZoneParser.Files {
    /// The default of `--max-zone-bytes`, 1 GiB: the largest zone file or `$INCLUDE` read.
    /// A 1,000,000-record zone (bench/gen.py --big) is about 27 MB, so this leaves room for
    /// zones 40 times that, while `$INCLUDE /dev/zero` or a runaway generator stops at 1 GiB.
    static let defaultMaxBytes = 1 << 30

    /// The accepted values of `--max-zone-bytes`: 1 KiB to 64 GiB.
    static let maxBytesRange = 1024...(1 << 36)

    /// `--max-zone-bytes N` from `options`, or the default.
    static func maxBytes(_ options: OptionReader) throws(UsageError) -> Int {
        try options.integer("max-zone-bytes", default: defaultMaxBytes, range: maxBytesRange)
    }

    /// The zones directory on disk, through Posix: every zone file and `$INCLUDE` must be a
    /// regular file (or a symbolic link to one) of at most `maxBytes` bytes.
    static func system(maxBytes: Int) -> ZoneParser.Files {
        ZoneParser.Files(list: { try? FileIO.contentsOfDirectory($0) }, read: { try FileIO.read($0, limit: maxBytes) },
                         canonicalPath: FileIO.canonicalPath)
    }
}
