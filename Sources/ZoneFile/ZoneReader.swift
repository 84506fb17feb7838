import DNSWire

/// Where a record was read and what came with it, parallel to `ZoneReader.records` and
/// kept compact for million-record zones: its position and endpoint tag are indexes into
/// the reader's side tables. Apart from the records, so that a zone whose records all pass
/// validation unchanged is served from the reader's array without a copy.
struct RecordSource {
    /// The record's type, stored so that comparing types does not copy the RDATA.
    var type: RRType
    var line: Int32
    var column: Int32
    /// Index into `ZoneReader.files`.
    var file: Int32
    /// The endpoint id interned to a number (equal ids, equal numbers), or -1.
    var endpointID: Int32
    /// Index into `ZoneReader.tags`, or -1.
    var tag: Int32
    /// The entry number, for sorting diagnostics into source order.
    var order: Int32
}

/// A problem in one entry; the reader turns it into a `Diagnostic` and moves on to the next
/// entry, so every error in a file is reported.
struct ParseFailure: Error {
    let line: Int
    let column: Int
    let message: String
}

/// Reads the entries of a master file and its `$INCLUDE`s into records, collecting
/// diagnostics. Zone-level rules are checked afterwards by `ZoneValidator`.
///
/// TTL of a record without one (the NSD rule): the last `$TTL`, else the last explicit TTL
/// in the file, else 3600 seconds (`defaultTTL`).
final class ZoneReader {
    /// The TTL of records when neither `$TTL` nor an earlier explicit TTL gives one (NSD's).
    static let defaultTTL: UInt32 = 3600
    /// Deepest `$INCLUDE` nesting accepted (the top-level file is depth 1).
    static let maxIncludeDepth = 10

    /// Records in the order they were read.
    private(set) var records: [ResourceRecord] = []
    /// Where each record comes from, parallel to `records`.
    private(set) var sources: [RecordSource] = []
    /// Every file read (the top-level one first), for `RecordSource.file`.
    private(set) var files: [String] = []
    /// Endpoint tags, for `RecordSource.tag`.
    private(set) var tags: [EndpointTag] = []
    private var endpointIDs: [String: Int32] = [:]
    /// `$HEALTH` declarations in declaration order, and their index by name.
    var healthChecks: [HealthCheck] = []
    var healthIndex: [String: Int] = [:]
    /// Every `health=` tag with where it was written, checked against the declarations once
    /// the whole zone (with its includes) is read, since a check may be declared after use.
    var healthReferences: [(name: String, position: SourcePosition, order: Int)] = []
    /// `$ANALYSIS` declarations in declaration order, and their index by name.
    var analyses: [AnalysisCheck] = []
    var analysisIndex: [String: Int] = [:]
    /// Every name in an `analysis=` tag with where it was written, checked once the whole
    /// zone is read, as for `health=`.
    var analysisReferences: [(name: String, position: SourcePosition, order: Int)] = []
    private var fileIndex: Int32 = 0
    /// Diagnostics with the entry number they belong to, for sorting into source order.
    private(set) var diagnostics: [(order: Int, diagnostic: Diagnostic)] = []
    /// True when any entry failed to parse: a missing SOA or NS may then be a broken line.
    private(set) var hadEntryErrors = false
    /// The zone's name: the origin in force when the first record was read.
    private(set) var zoneOrigin: DomainName?

    /// Entries read so far, across includes: the sort key for diagnostics.
    private(set) var order = 0
    private var ttlDirective: UInt32?
    private var lastExplicitTTL: UInt32?
    private var includeStack: [(canonical: String, display: String)] = []
    /// The answer size so far of each RRset whose RDATA can be long (see `checkAnswerFits`).
    var longRRsets: [LongRRset: Int] = [:]
    private let readFile: (String) throws -> [UInt8]
    private let canonicalPath: (String) -> String

    // State of the file being read; saved and restored around `$INCLUDE`.
    var file: String
    var origin: DomainName?
    private var lastOwner: DomainName?
    var text: UnsafeBufferPointer<UInt8> = UnsafeBufferPointer(start: nil, count: 0)

    init(file: String, origin: DomainName?, readFile: @escaping (String) throws -> [UInt8],
         canonicalPath: @escaping (String) -> String) {
        self.file = file
        self.origin = origin
        self.readFile = readFile
        self.canonicalPath = canonicalPath
    }

    /// Reads the top-level file's text.
    func read(_ bytes: [UInt8]) {
        includeStack.append((canonicalPath(file), file))
        // Room for a record per 16 bytes of text, about the shortest record line: regrowing
        // copies (and faults in) the arrays again, while room never written costs nothing.
        records.reserveCapacity(bytes.count / 16)
        sources.reserveCapacity(bytes.count / 16)
        files.append(file)
        readEntries(bytes)
        includeStack.removeLast()
        if zoneOrigin == nil { zoneOrigin = origin }
        checkHealthReferences()
        checkAnalysisReferences()
    }

    func report(_ position: SourcePosition, _ message: String, order: Int) {
        diagnostics.append((order, Diagnostic(position: position, message: message)))
    }

    private func readEntries(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            text = buffer
            var lexer = Lexer(buffer)
            var entry = Entry()
            while lexer.nextEntry(&entry) {
                order += 1
                if let error = entry.error {
                    fail(ParseFailure(line: error.line, column: error.column, message: error.message))
                    continue
                }
                if entry.tokens.isEmpty { continue }
                do throws(ParseFailure) {
                    try readEntry(entry)
                } catch {
                    fail(error)
                }
            }
        }
    }

    private func fail(_ failure: ParseFailure) {
        hadEntryErrors = true
        report(SourcePosition(file: file, line: failure.line, column: failure.column), failure.message, order: order)
    }

    private func readEntry(_ entry: Entry) throws(ParseFailure) {
        let first = entry.tokens[0]
        if !first.quoted, text[first.start] == .dollar {
            try readDirective(entry)
        } else {
            try readRecord(entry)
        }
    }

    // MARK: Directives (RFC 1035 §5.1, RFC 2308 §4 for $TTL; $HEALTH and $ANALYSIS are Veer's)

    private func readDirective(_ entry: Entry) throws(ParseFailure) {
        let tokens = entry.tokens
        let directive = tokens[0]
        if matches(directive, "$ORIGIN") {
            let value = try need(entry, 1, "a domain name after $ORIGIN")
            try noMore(entry, 2, after: "the $ORIGIN name")
            origin = try name(value)
        } else if matches(directive, "$TTL") {
            let value = try need(entry, 1, "a TTL after $TTL")
            try noMore(entry, 2, after: "the $TTL value")
            ttlDirective = try ttl(value)
        } else if matches(directive, "$INCLUDE") {
            let pathToken = try need(entry, 1, "a file name after $INCLUDE")
            var includeOrigin = origin
            if tokens.count > 2 { includeOrigin = try name(tokens[2]) }
            try noMore(entry, 3, after: "the $INCLUDE origin")
            try include(pathToken, origin: includeOrigin)
        } else if matches(directive, "$HEALTH") {
            try readHealth(entry)
        } else if matches(directive, "$ANALYSIS") {
            try readAnalysis(entry)
        } else {
            throw failure(directive, "unknown directive \(quoted(directive)); expected $ORIGIN, $TTL, $INCLUDE, $HEALTH or $ANALYSIS")
        }
    }

    private func include(_ pathToken: Token, origin includeOrigin: DomainName?) throws(ParseFailure) {
        let relative = String(decoding: try characterString(pathToken), as: UTF8.self)
        let path: String
        if relative.hasPrefix("/") {
            path = relative
        } else if let slash = file.lastIndex(of: "/") {
            path = String(file[...slash]) + relative
        } else {
            path = relative
        }
        let canonical = canonicalPath(path)
        let chain = (includeStack.map(\.display) + [path]).joined(separator: " -> ")
        if includeStack.contains(where: { $0.canonical == canonical }) {
            throw failure(pathToken, "$INCLUDE loop: \(chain)")
        }
        guard includeStack.count < Self.maxIncludeDepth else {
            throw failure(pathToken, "$INCLUDE nested deeper than \(Self.maxIncludeDepth) files: \(chain)")
        }
        let bytes: [UInt8]
        do { bytes = try readFile(path) } catch {
            throw failure(pathToken, "cannot read $INCLUDE file \"\(path)\": \(error)")
        }
        // RFC 1035 §5.1: the include does not change the origin (nor, here, the previous
        // owner) of the including file. $TTL and the last explicit TTL carry on.
        let saved = (file, origin, lastOwner, text, fileIndex)
        file = path
        files.append(path)
        fileIndex = Int32(files.count - 1)
        origin = includeOrigin
        includeStack.append((canonical, path))
        readEntries(bytes)
        includeStack.removeLast()
        (file, origin, lastOwner, text, fileIndex) = saved
    }

    // MARK: Records (RFC 1035 §5.1: owner, [TTL] [class] or [class] [TTL], type, RDATA)

    private func readRecord(_ entry: Entry) throws(ParseFailure) {
        let tokens = entry.tokens
        var k = 0
        let owner: DomainName
        if entry.blankOwner {
            guard let previous = lastOwner else {
                throw ParseFailure(line: entry.line, column: entry.column,
                                   message: "expected an owner name: a line that starts with blank space reuses the previous owner, and there is none yet")
            }
            owner = previous
        } else {
            owner = try name(tokens[0])
            k = 1
        }
        lastOwner = owner
        if zoneOrigin == nil {
            guard let origin else {
                throw ParseFailure(line: entry.line, column: entry.column,
                                   message: "expected $ORIGIN before the first record: the zone name is unknown")
            }
            zoneOrigin = origin
        }
        if let zoneOrigin, !owner.isSubdomain(of: zoneOrigin) {
            throw ParseFailure(line: entry.line, column: entry.column,
                               message: "owner \(owner) is outside the zone \(zoneOrigin); expected a name at or below the origin")
        }

        var explicitTTL: UInt32?
        var sawClass = false
        while true {
            let token = try need(entry, k, "a record type")
            if !token.quoted, text[token.start].isDigit {
                guard explicitTTL == nil else { throw failure(token, "expected a record type, found a second TTL \(quoted(token))") }
                explicitTTL = try ttl(token)
                k += 1
            } else if let rrclass = recordClass(token) {
                guard !sawClass else { throw failure(token, "expected a record type, found a second class \(quoted(token))") }
                guard rrclass == .in else {
                    throw failure(token, "class \(string(token).uppercased()) is not supported; expected IN")
                }
                sawClass = true
                k += 1
            } else {
                break
            }
        }
        let typeToken = tokens[k]
        guard let type = recordType(typeToken) else {
            throw failure(typeToken, "expected a record type (A, AAAA, CAA, CNAME, MX, NS, PTR, SOA, SRV, TXT or TYPEnnn), found \(quoted(typeToken))")
        }
        k += 1

        let ttl: UInt32
        if let explicitTTL {
            ttl = explicitTTL
            lastExplicitTTL = explicitTTL
        } else {
            ttl = ttlDirective ?? lastExplicitTTL ?? Self.defaultTTL
        }

        let data = try rdata(type, typeToken, entry, &k)
        var endpoint: EndpointTag?
        if k < tokens.count {
            if type == .a || type == .aaaa || type == .cname {
                endpoint = try endpointTag(entry, from: k)
            } else {
                throw failure(tokens[k], "expected end of line after the \(type) RDATA, found \(quoted(tokens[k]))")
            }
        }
        var endpointID: Int32 = -1
        var tag: Int32 = -1
        if let endpoint {
            if let known = endpointIDs[endpoint.id] {
                endpointID = known
            } else {
                endpointID = Int32(endpointIDs.count)
                endpointIDs[endpoint.id] = endpointID
            }
            tag = Int32(tags.count)
            tags.append(endpoint)
        }
        if let length = Self.longRDataLength(data) { try checkAnswerFits(owner, data.type, length, typeToken) }
        records.append(ResourceRecord(name: owner, rrclass: .in, ttl: ttl, data: data))
        sources.append(RecordSource(type: data.type, line: Int32(entry.line), column: Int32(entry.column), file: fileIndex,
                                    endpointID: endpointID, tag: tag, order: Int32(order)))
    }

    // MARK: Token helpers

    /// The token at `index`, or a failure at the end of the entry saying what was expected.
    func need(_ entry: Entry, _ index: Int, _ what: String) throws(ParseFailure) -> Token {
        guard index < entry.tokens.count else {
            throw ParseFailure(line: entry.endLine, column: entry.endColumn, message: "expected \(what), found end of line")
        }
        return entry.tokens[index]
    }

    func noMore(_ entry: Entry, _ index: Int, after what: String) throws(ParseFailure) {
        guard index >= entry.tokens.count else {
            throw failure(entry.tokens[index], "expected end of line after \(what), found \(quoted(entry.tokens[index]))")
        }
    }

    /// A failure at the token (its opening quote, for a quoted string), or at byte `offset`
    /// of its content.
    func failure(_ token: Token, _ message: String, offset: Int? = nil) -> ParseFailure {
        ParseFailure(line: token.line, column: offset.map { token.contentColumn + $0 } ?? token.column, message: message)
    }

    /// The token's raw text (escapes not decoded), for messages.
    func string(_ token: Token) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: text[token.start..<token.end]), as: UTF8.self)
    }

    /// The token's raw text in double quotes, for messages.
    func quoted(_ token: Token) -> String { "\"" + string(token) + "\"" }

    /// Case-insensitive comparison of an unquoted token with an ASCII word.
    func matches(_ token: Token, _ word: StaticString) -> Bool {
        guard !token.quoted, token.end - token.start == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for i in 0..<word.utf8CodeUnitCount where asciiLower(text[token.start + i]) != asciiLower(w[i]) {
            return false
        }
        return true
    }
}
