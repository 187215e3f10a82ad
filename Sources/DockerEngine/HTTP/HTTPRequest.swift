/// One HTTP/1.1 request to the engine. Kept as plain bytes so the exact wire format is unit-testable without a socket.
struct DockerHTTPRequest: Sendable, Equatable {
    var method: String
    /// Unversioned path (e.g. `/containers/create`) so Docker and Podman answer with their current API version.
    var path: String
    var query: [(String, String)] = []
    var headers: [(String, String)] = []
    var body: [UInt8]? = nil

    static func == (lhs: DockerHTTPRequest, rhs: DockerHTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.body == rhs.body
            && lhs.query.elementsEqual(rhs.query, by: ==) && lhs.headers.elementsEqual(rhs.headers, by: ==)
    }

    /// Path plus percent-encoded query, as it goes on the request line (also used in error messages).
    var target: String {
        guard !query.isEmpty else { return path }
        return path + "?" + query.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// The complete request: head, then body (if any).
    func encoded(host: String, connection: String = "close") -> [UInt8] {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: coderunner\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !headers.contains(where: { $0.0.lowercased() == "connection" }) { head += "Connection: \(connection)\r\n" }
        if let body {
            head += "Content-Length: \(body.count)\r\n"
        } else if method == "POST" || method == "PUT" {
            head += "Content-Length: 0\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        return bytes
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters (query names and values).
func percentEncode(_ string: String, keeping extra: Set<UInt8> = []) -> String {
    var out = [UInt8]()
    out.reserveCapacity(string.utf8.count)
    let hex = Array("0123456789ABCDEF".utf8)
    for byte in string.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.append(byte)
        default:
            if extra.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// Encodes one path segment (container id, image reference). `/` and `:` stay, because image references such as
/// `coderunner/base:bookworm` are routed by Docker with them unescaped.
func pathSegment(_ string: String) -> String {
    percentEncode(string, keeping: [UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "@")])
}
