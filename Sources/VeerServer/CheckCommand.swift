import Posix
import ZoneFile

/// `veer check [DIR]`: loads every zone like `serve` would and prints every error
/// (`file:line:column: error: …`), exit 1 if there is one (as nsd-checkzone and kzonecheck).
enum CheckCommand {
    static func run(_ arguments: ArraySlice<String>) throws(UsageError) -> Int32 {
        let options = try OptionReader(arguments, valued: ["zones"])
        guard options.positional.count <= 1 else { throw UsageError("check takes at most one directory") }
        let directory = options.positional.first ?? options.last("zones") ?? "zones"
        let (zones, errors) = ZoneParser.loadDirectory(directory, files: .system)
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
        return 0
    }
}

extension ZoneParser.Files {
    /// The zones directory on disk, through Posix.
    static let system = ZoneParser.Files(list: { try? FileIO.contentsOfDirectory($0) }, read: { try? FileIO.read($0) },
                                         canonicalPath: FileIO.canonicalPath)
}
