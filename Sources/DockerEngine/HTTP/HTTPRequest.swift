import NIOCore
import NIOHTTP1

/// One HTTP/1.1 request to the engine, encoded on the wire by NIO's `HTTPRequestEncoder`.
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

    /// The request as NIO parts for `HTTPRequestEncoder`: head, body (if any), end. `Content-Length` is always explicit
    /// for POST and PUT: the body is always in hand, so the encoder never needs to fall back to chunked encoding.
    func parts(host: String, connection: String = "close") -> [HTTPClientRequestPart] {
        var fields = HTTPHeaders([("Host", host), ("User-Agent", "coderunner")])
        fields.add(contentsOf: headers)
        if !headers.contains(where: { $0.0.lowercased() == "connection" }) { fields.add(name: "Connection", value: connection) }
        if let body {
            fields.add(name: "Content-Length", value: String(body.count))
        } else if method == "POST" || method == "PUT" {
            fields.add(name: "Content-Length", value: "0")
        }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: target, headers: fields)
        var parts: [HTTPClientRequestPart] = [.head(head)]
        if let body, !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        return parts
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
