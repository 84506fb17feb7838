/// One token of an entry: a byte range of the file text. Escapes are left in place; the
/// parser decodes them in the context that knows what the token is (name, string, number).
struct Token {
    /// First content byte (after the opening quote of a quoted string).
    var start: Int
    /// One past the last content byte (before the closing quote).
    var end: Int
    var line: Int
    /// Column of the token's first byte (the opening quote of a quoted string).
    var column: Int
    var quoted: Bool

    /// Column of the first content byte.
    var contentColumn: Int { quoted ? column + 1 : column }
}

/// One logical entry of a master file (RFC 1035 §5.1): the tokens of one line, or of several
/// lines joined by parentheses, without comments.
struct Entry {
    var tokens: [Token] = []
    /// The entry's first line started with blank space: the owner is the previous one.
    var blankOwner = false
    /// Where the entry starts.
    var line = 1
    var column = 1
    /// Just after the last token: where "found end of line" points.
    var endLine = 1
    var endColumn = 1
    /// The first lexical error (the rest of the entry was skipped).
    var error: (line: Int, column: Int, message: String)?

    mutating func reset() {
        tokens.removeAll(keepingCapacity: true)
        blankOwner = false
        error = nil
    }
}

/// Splits master-file bytes into entries. Works on raw bytes and records byte ranges, so a
/// million-record zone does not allocate a String per token.
struct Lexer {
    let text: UnsafeBufferPointer<UInt8>
    private(set) var offset = 0
    private(set) var line = 1
    private var lineStart = 0

    init(_ text: UnsafeBufferPointer<UInt8>) { self.text = text }

    /// Reads the next entry that has any tokens (or a lexical error). Returns false at the end
    /// of the text. After a lexical error the lexer resumes at the next line, or after the
    /// closing parenthesis when the error was inside parentheses.
    mutating func nextEntry(_ entry: inout Entry) -> Bool {
        entry.reset()
        let n = text.count
        while true {
            // Skip lines that are blank or hold only a comment.
            let begin = offset
            var j = offset
            while j < n, text[j] == .space || text[j] == .tab || text[j] == .cr { j += 1 }
            if j >= n { offset = n; return false }
            if text[j] == .newline { newline(after: j); continue }
            if text[j] == .semicolon {
                while j < n, text[j] != .newline { j += 1 }
                offset = j
                continue
            }
            entry.blankOwner = j > begin
            entry.line = line
            entry.column = j - lineStart + 1
            entry.endLine = line
            entry.endColumn = entry.column
            offset = j
            break
        }

        var depth = 0
        var parenLine = 0, parenColumn = 0
        func fail(_ entry: inout Entry, _ line: Int, _ column: Int, _ message: String) {
            if entry.error == nil { entry.error = (line, column, message) }
        }
        while offset < n {
            let c = text[offset]
            switch c {
            case .space, .tab, .cr:
                offset += 1
            case .semicolon:
                while offset < n, text[offset] != .newline { offset += 1 }
            case .newline:
                newline(after: offset)
                if depth == 0 { return true }
            case .openParen:
                if depth > 0 {
                    fail(&entry, line, column, "unexpected \"(\" inside parentheses opened at line \(parenLine)")
                } else {
                    depth = 1
                    parenLine = line
                    parenColumn = column
                }
                offset += 1
            case .closeParen:
                if depth == 0 {
                    fail(&entry, line, column, "unbalanced parenthesis: \")\" without a matching \"(\"")
                }
                depth = 0
                offset += 1
            case .quote:
                let tokenLine = line, tokenColumn = column
                offset += 1
                let start = offset
                while offset < n, text[offset] != .quote, text[offset] != .newline {
                    offset += text[offset] == .backslash && offset + 1 < n && text[offset + 1] != .newline ? 2 : 1
                }
                if offset >= n || text[offset] != .quote {
                    fail(&entry, tokenLine, tokenColumn, "unterminated quoted string: expected a closing \" on the same line")
                } else {
                    if entry.error == nil {
                        entry.tokens.append(Token(start: start, end: offset, line: tokenLine, column: tokenColumn, quoted: true))
                    }
                    offset += 1
                    entry.endLine = line
                    entry.endColumn = column
                }
            default:
                let tokenColumn = column
                let start = offset
                while offset < n {
                    let b = text[offset]
                    if b == .space || b == .tab || b == .cr || b == .newline || b == .semicolon
                        || b == .openParen || b == .closeParen || b == .quote { break }
                    offset += b == .backslash && offset + 1 < n && text[offset + 1] != .newline ? 2 : 1
                }
                if entry.error == nil {
                    entry.tokens.append(Token(start: start, end: offset, line: line, column: tokenColumn, quoted: false))
                }
                entry.endLine = line
                entry.endColumn = column
            }
        }
        if depth > 0 {
            fail(&entry, parenLine, parenColumn, "unbalanced parenthesis: \"(\" is never closed")
        }
        return true
    }

    private var column: Int { offset - lineStart + 1 }

    private mutating func newline(after index: Int) {
        offset = index + 1
        line += 1
        lineStart = offset
    }
}

extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let cr = UInt8(ascii: "\r")
    static let newline = UInt8(ascii: "\n")
    static let semicolon = UInt8(ascii: ";")
    static let openParen = UInt8(ascii: "(")
    static let closeParen = UInt8(ascii: ")")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let equals = UInt8(ascii: "=")
    static let dollar = UInt8(ascii: "$")
    static let at = UInt8(ascii: "@")
    static let colon = UInt8(ascii: ":")

    var isDigit: Bool { self &- .zero < 10 }
}
