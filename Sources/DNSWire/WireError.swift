/// A decoding or encoding failure, naming the field and the byte offset where it happened.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The message ended before the field did.
        case truncated
        /// A label longer than 63 octets (RFC 1035 §2.3.4).
        case labelTooLong
        /// A name longer than 255 octets once decompressed (RFC 1035 §2.3.4).
        case nameTooLong
        /// A compression pointer that does not point strictly backwards (RFC 1035 §4.1.4).
        case forwardPointer
        /// More compression hops than a valid name can need.
        case pointerLoop
        /// Label type 0b01 or 0b10 (RFC 6891 §5 retired extended label types).
        case reservedLabelType
        /// An empty label inside a name (`a..b`).
        case emptyLabel
        /// Bytes left over where a field should have ended (RDATA longer than its content).
        case trailingBytes
        /// A `\` escape that is not `\X` or `\DDD` with DDD ≤ 255.
        case badEscape
        /// A value that does not fit its field (a TXT string over 255 octets, an RDATA over 65535).
        case valueTooLarge
        /// The output buffer is full.
        case noSpace
        /// A field whose value is not allowed (a second OPT record, OPT outside additional).
        case invalid
    }

    public let kind: Kind
    public let field: String
    public let offset: Int

    public init(_ kind: Kind, field: String, offset: Int) {
        self.kind = kind
        self.field = field
        self.offset = offset
    }

    public var description: String { "\(field) at offset \(offset): \(kind)" }
}
