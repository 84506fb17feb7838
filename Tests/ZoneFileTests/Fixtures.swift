import DNSWire
import Foundation
import ZoneFile

/// Where the zone fixtures live: `Tests/Fixtures/zones`, found from this file's path.
enum Fixtures {
    static let zones: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/zones").path

    /// The absolute path of a fixture given relative to `zones` (`ok/weighted.zone`).
    static func path(_ relative: String) -> String { zones + "/" + relative }

    /// Diagnostics as printed, with the fixtures directory removed so the text is stable.
    static func text(_ diagnostics: [Diagnostic]) -> [String] {
        diagnostics.map { $0.description.replacingOccurrences(of: zones + "/", with: "") }
    }

    /// Loads a fixture that must be valid.
    static func zone(_ relative: String) throws -> Zone {
        try ZoneParser.load(file: path(relative), files: .disk).get()
    }
}

/// Parses inline text that must be a valid zone.
func parseZone(_ text: String, file: String = "test.example.zone") throws -> Zone {
    try ZoneParser.parse(text, file: file, origin: nil).get()
}

/// Parses inline text that must fail, returning the diagnostics as printed.
func parseErrors(_ text: String, file: String = "test.example.zone") -> [String] {
    switch ZoneParser.parse(text, file: file, origin: nil) {
    case .success: return []
    case .failure(let errors): return errors.diagnostics.map(\.description)
    }
}

/// The lines every inline test zone starts with: SOA and NS at `test.example.`.
let apex = """
$TTL 300
@ SOA ns hostmaster 1 3600 600 604800 60
@ NS ns
ns A 192.0.2.1

"""

let apexRecords = [
    "test.example. 300 IN SOA ns.test.example. hostmaster.test.example. 1 3600 600 604800 60",
    "test.example. 300 IN NS ns.test.example.",
    "ns.test.example. 300 IN A 192.0.2.1",
]

/// What the test side's reader says of a file it cannot read.
struct Unreadable: Error, CustomStringConvertible {
    var description: String { "expected a readable file" }
}

extension ZoneParser.Files {
    /// Files on disk, read the test side's own way (Foundation), so the parser's file
    /// handling is checked against an independent reader.
    static let disk = ZoneParser.Files(
        list: { try? FileManager.default.contentsOfDirectory(atPath: $0) },
        read: { path in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { throw Unreadable() }
            return [UInt8](data)
        },
        canonicalPath: { URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath().path })
}
