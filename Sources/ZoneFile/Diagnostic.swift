/// A place in a zone file: 1-based line and column, where the column counts bytes (not
/// characters), as NSD, Knot and most editors' "go to byte column" do.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    /// The path as it was given to the loader (or joined from an `$INCLUDE`).
    public let file: String
    public let line: Int
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`.
    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a zone file, at the position where it was found.
///
/// The message says what was expected (`expected an IPv4 address, found "192.0.2.300"`).
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public let position: SourcePosition
    public let message: String

    public init(position: SourcePosition, message: String) {
        self.position = position
        self.message = message
    }

    /// `FILE:LINE:COLUMN: error: MESSAGE`, the form compilers and `nsd-checkzone` print.
    public var description: String { "\(position): error: \(message)" }
}

/// Every problem found while loading a zone, in source order.
public struct ZoneErrors: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
