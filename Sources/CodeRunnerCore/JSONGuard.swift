import FoundationEssentials

/// How outside JSON is decoded: a nesting check, then Foundation's `JSONDecoder`.
///
/// Swift 6.3's FoundationEssentials traps (the process dies) when a document is cut off inside 512 or more nested
/// arrays or objects: a 520-byte WebSocket message could take `serve` down. Refusing anything nested deeper than
/// `maximumDepth` first keeps the decoder away from that path; no message of ours nests more than a few levels.
/// Every decode of bytes from outside the process goes through `decode`.
public enum JSONGuard {
    public static let maximumDepth = 64

    /// The refusal `decode` throws; its description says what was wrong.
    public struct TooDeep: Error, CustomStringConvertible {
        public var description: String { "it nests arrays or objects more than \(JSONGuard.maximumDepth) levels deep" }
    }

    /// `JSONDecoder().decode`, after refusing documents nested deeper than `maximumDepth` with `TooDeep`.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        guard !nestsTooDeeply(bytes) else { throw TooDeep() }
        return try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// Whether `bytes` nest arrays and objects deeper than `limit` (brackets inside strings do not count).
    public static func nestsTooDeeply(_ bytes: some Sequence<UInt8>, limit: Int = maximumDepth) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }
}
