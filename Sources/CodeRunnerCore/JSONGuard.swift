/// A check to run on outside JSON before Foundation's `JSONDecoder` sees it.
///
/// Swift 6.3's FoundationEssentials traps (the process dies) when a document is cut off inside 512 or more nested
/// arrays or objects: a 520-byte WebSocket message could take `serve` down. Refusing anything nested deeper than
/// `maximumDepth` first keeps the decoder away from that path; no message of ours nests more than a few levels.
public enum JSONGuard {
    public static let maximumDepth = 64

    /// Whether `bytes` nest arrays and objects deeper than `limit` (brackets inside strings do not count).
    public static func nestsTooDeeply(_ bytes: some Sequence<UInt8>, limit: Int = maximumDepth) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
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
