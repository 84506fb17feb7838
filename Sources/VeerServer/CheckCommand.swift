import DNSSEC
import Posix
import ZoneFile

/// `veer check [DIR] [--keys DIR]`: loads every zone like `serve` would and prints every error
/// (`file:line:column: error: …`), exit 1 if there is one (as nsd-checkzone and kzonecheck).
/// With `--keys`, the DNSSEC keys too (KeyCheck).
enum CheckCommand {
    static func run(_ arguments: ArraySlice<String>) throws(UsageError) -> Int32 {
        let options = try OptionReader(arguments, valued: ["zones", "max-zone-bytes", "keys"])
        guard options.positional.count <= 1 else { throw UsageError("check takes at most one directory") }
        let directory = options.positional.first ?? options.last("zones") ?? "zones"
        let (zones, errors) = ZoneParser.loadDirectory(directory, files: .system(maxBytes: try ZoneParser.Files.maxBytes(options)))
        for error in errors { print(error.description) }
        if !errors.isEmpty {
            print("\(errors.count) error\(errors.count == 1 ? "" : "s") in \(directory)")
            return 1
        }
        if zones.isEmpty {
            print("\(directory): no *.zone files")
            return 1
        }
        for zone in zones {
            print("\(zone.file): zone \(zone.origin) ok: \(zone.records.count) records, \(zone.weighted.count) weighted names")
        }
        guard let keys = options.last("keys") else { return 0 }
        let findings = KeyCheck.run(keys, served: zones.map(\.origin))
        for finding in findings { print(finding.description) }
        return findings.contains { $0.severity == .error } ? 1 : 0
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
