import DNSWire

/// Reads RFC 1035 master files as BIND, NSD and Knot accept them, plus Veer's weighted
/// endpoint tags, `$HEALTH` checks (see `HealthCheck`) and `$ANALYSIS` declarations
/// (see `AnalysisCheck`), into validated `Zone`s.
///
/// - The zone name is the `$ORIGIN` in force at the first record, else the file name
///   (`example.com.zone` or `example.com` → `example.com.`).
/// - A record without a TTL gets the last `$TTL`, else the last explicit TTL, else 3600
///   seconds (NSD's default).
/// - Only class IN is served; `$INCLUDE` paths are relative to the including file's
///   directory, nested at most 10 deep.
/// - Every problem is reported (the parser resumes at the next entry), in source order.
public enum ZoneParser {
    /// How the parser reaches files, injected so this target needs no Foundation and tests
    /// can serve files from memory: list a directory, read a file (throwing an error whose
    /// description says why it cannot be read: `not a regular file (character device)`,
    /// `larger than N bytes`), and resolve a path (for `$INCLUDE` loop detection).
    public struct Files: Sendable {
        public var list: @Sendable (String) -> [String]?
        public var read: @Sendable (String) throws -> [UInt8]
        public var canonicalPath: @Sendable (String) -> String

        /// Files reached through the three closures.
        public init(list: @escaping @Sendable (String) -> [String]?, read: @escaping @Sendable (String) throws -> [UInt8],
                    canonicalPath: @escaping @Sendable (String) -> String) {
            self.list = list
            self.read = read
            self.canonicalPath = canonicalPath
        }

        /// No files at all: for text parsed with `parse` that has no `$INCLUDE`.
        public static let none = Files(list: { _ in nil }, read: { _ in throw NoFiles() }, canonicalPath: { $0 })

        /// The reason `none` gives for every read.
        struct NoFiles: Error, CustomStringConvertible {
            var description: String { "no files are available to this parse" }
        }
    }

    /// Parses `text` as the content of `file`. `file` names the zone when there is no
    /// `$ORIGIN` (unless `origin` is given), appears in diagnostics, and its directory is the
    /// base for relative `$INCLUDE` paths.
    public static func parse(_ text: String, file: String, origin: DomainName?, files: Files = .none) -> Result<Zone, ZoneErrors> {
        read(Array(text.utf8), file: file, origin: origin, files: files)
    }

    /// Loads one zone file.
    public static func load(file path: String, files: Files) -> Result<Zone, ZoneErrors> {
        let bytes: [UInt8]
        do { bytes = try files.read(path) } catch {
            return .failure(ZoneErrors(diagnostics: [fileDiagnostic(path, "cannot read the zone file: \(error)")]))
        }
        return read(bytes, file: path, origin: nil, files: files)
    }

    /// Loads every `*.zone` file in `directory` (sorted by name; other files, such as
    /// `$INCLUDE` fragments, are skipped). A second file for a zone already loaded is an error.
    public static func loadDirectory(_ directory: String, files: Files) -> (zones: [Zone], errors: [Diagnostic]) {
        guard let names = files.list(directory) else {
            return ([], [fileDiagnostic(directory, "cannot read the zones directory: expected a readable directory")])
        }
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        var zones: [Zone] = []
        var errors: [Diagnostic] = []
        var loaded: [DomainName: String] = [:]
        for name in names.filter({ $0.hasSuffix(zoneExtension) }).sorted() {
            let path = base + name
            switch load(file: path, files: files) {
            case .success(let zone):
                if let other = loaded[zone.origin] {
                    errors.append(fileDiagnostic(path, "expected one file per zone, found a second file for \(zone.origin) (the first is \(other))"))
                } else {
                    loaded[zone.origin] = path
                    zones.append(zone)
                }
            case .failure(let failure):
                errors += failure.diagnostics
            }
        }
        return (zones, errors)
    }

    /// The extension of zone files in a zones directory.
    static let zoneExtension = ".zone"

    static func read(_ bytes: [UInt8], file: String, origin: DomainName?, files: Files) -> Result<Zone, ZoneErrors> {
        let reader = ZoneReader(file: file, origin: origin ?? zoneName(fromFile: file),
                                readFile: files.read, canonicalPath: files.canonicalPath)
        reader.read(bytes)
        var diagnostics = reader.diagnostics
        var zone: Zone?
        if let zoneOrigin = reader.zoneOrigin {
            var validator = ZoneValidator(origin: zoneOrigin, file: file, checkPresence: !reader.hadEntryErrors)
            zone = validator.validate(reader.records, sources: reader.sources, files: reader.files, tags: reader.tags,
                                      healthChecks: reader.healthChecks, analyses: reader.analyses)
            diagnostics += validator.diagnostics
        } else {
            diagnostics.append((Int.max, fileDiagnostic(file, "expected $ORIGIN or a zone file named after its zone, as in example.com.zone")))
        }
        if let zone, diagnostics.isEmpty { return .success(zone) }
        // Stable sort: source order, validation errors after the parse errors of the same entry.
        let sorted = diagnostics.enumerated().sorted { ($0.element.order, $0.offset) < ($1.element.order, $1.offset) }
        return .failure(ZoneErrors(diagnostics: sorted.map(\.element.diagnostic)))
    }

    /// `zones/example.com.zone` → `example.com.`; nil when the name is not a domain name.
    static func zoneName(fromFile path: String) -> DomainName? {
        var name = Substring(path)
        if let slash = name.lastIndex(of: "/") { name = name[name.index(after: slash)...] }
        if name.hasSuffix(zoneExtension) { name = name.dropLast(zoneExtension.count) }
        guard !name.isEmpty else { return nil }
        return try? DomainName(String(name))
    }

    static func fileDiagnostic(_ path: String, _ message: String) -> Diagnostic {
        Diagnostic(position: SourcePosition(file: path, line: 1, column: 1), message: message)
    }
}
