/// A response status line plus headers.
struct HTTPResponseHead: Sendable, Equatable {
    var status: Int
    var reason: String
    var headers: [(String, String)]

    static func == (lhs: HTTPResponseHead, rhs: HTTPResponseHead) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason && lhs.headers.elementsEqual(rhs.headers, by: ==)
    }

    /// First value of a header, case-insensitively.
    func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.0.lowercased() == lower }?.1
    }
}

/// Incremental HTTP/1.1 response parser: feed bytes as they arrive, pull events. Handles content-length, chunked and
/// read-until-close bodies. For hijacked streams (`stopAfterHead`) it stops after the head and hands back the bytes that
/// arrived with it, which already belong to the raw stream.
struct HTTPResponseParser: Sendable {
    enum Event: Sendable, Equatable {
        case head(HTTPResponseHead)
        case body([UInt8])
        case end
    }

    private enum State: Sendable, Equatable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    static let maxHeadBytes = 64 * 1024

    private var buffer: [UInt8] = []
    private var index = 0
    private var state: State = .head
    /// Stop after the head (hijack): the rest of the bytes are not HTTP any more.
    let stopAfterHead: Bool
    /// The request was a HEAD request: no body follows whatever the headers say.
    let isHeadRequest: Bool

    init(stopAfterHead: Bool = false, isHeadRequest: Bool = false) {
        self.stopAfterHead = stopAfterHead
        self.isHeadRequest = isHeadRequest
    }

    var isComplete: Bool { state == .done }

    mutating func append(_ bytes: some Sequence<UInt8>) {
        if index > 0 && index >= buffer.count / 2 {
            buffer.removeFirst(index)
            index = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not consumed by the parser (after a hijack: the start of the raw stream).
    mutating func takeRemainingBytes() -> [UInt8] {
        let rest = Array(buffer[index...])
        buffer = []
        index = 0
        return rest
    }

    /// Next event, or nil when more bytes are needed.
    mutating func next() throws(DockerError) -> Event? {
        while true {
            switch state {
            case .done:
                return nil
            case .head:
                guard let end = find(crlfcrlf, from: index) else {
                    if buffer.count - index > Self.maxHeadBytes { throw .protocolError("HTTP response head larger than 64 KiB") }
                    return nil
                }
                let head = try parseHead(buffer[index..<end])
                index = end + 4
                if head.status == 100 { continue }  // 100 Continue: the real head follows
                state = bodyState(for: head)
                return .head(head)
            case .fixed(let remaining):
                let available = buffer.count - index
                if remaining == 0 {
                    state = .done
                    return .end
                }
                guard available > 0 else { return nil }
                let take = min(available, remaining)
                let slice = Array(buffer[index..<index + take])
                index += take
                state = .fixed(remaining: remaining - take)
                return .body(slice)
            case .untilClose:
                guard buffer.count > index else { return nil }
                let slice = Array(buffer[index...])
                index = buffer.count
                return .body(slice)
            case .chunkSize:
                guard let lineEnd = find(crlf, from: index) else {
                    if buffer.count - index > 1024 { throw .protocolError("chunk size line too long") }
                    return nil
                }
                var line = buffer[index..<lineEnd]
                if let semicolon = line.firstIndex(of: UInt8(ascii: ";")) { line = line[..<semicolon] }
                let text = String(decoding: line, as: UTF8.self).trimmedSpaces
                guard let size = Int(text, radix: 16), size >= 0 else {
                    throw .protocolError("invalid chunk size '\(text)'")
                }
                index = lineEnd + 2
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let available = buffer.count - index
                guard available > 0 else { return nil }
                let take = min(available, remaining)
                let slice = Array(buffer[index..<index + take])
                index += take
                state = remaining - take == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - take)
                return .body(slice)
            case .chunkDataEnd:
                guard buffer.count - index >= 2 else { return nil }
                guard buffer[index] == 13, buffer[index + 1] == 10 else { throw .protocolError("missing CRLF after chunk") }
                index += 2
                state = .chunkSize
            case .trailers:
                guard let lineEnd = find(crlf, from: index) else { return nil }
                let empty = lineEnd == index
                index = lineEnd + 2
                if empty {
                    state = .done
                    return .end
                }
            }
        }
    }

    /// The connection closed. Returns `.end` when that legitimately ends the body, nil if already complete.
    mutating func finish() throws(DockerError) -> Event? {
        switch state {
        case .done: return nil
        case .untilClose:
            state = .done
            return .end
        case .head where stopAfterHead == false && buffer.count == index:
            throw .protocolError("the engine closed the connection without answering")
        default:
            throw .protocolError("the engine closed the connection in the middle of a response")
        }
    }

    private func bodyState(for head: HTTPResponseHead) -> State {
        if stopAfterHead && (head.status == 101 || (200..<300).contains(head.status)) { return .done }
        if isHeadRequest || head.status == 204 || head.status == 304 || (100..<200).contains(head.status) { return .fixed(remaining: 0) }
        if let te = head.header("Transfer-Encoding"), te.lowercased().contains("chunked") { return .chunkSize }
        if let cl = head.header("Content-Length"), let length = Int(cl.trimmedSpaces) {
            return .fixed(remaining: length)
        }
        return .untilClose
    }

    private func parseHead(_ bytes: ArraySlice<UInt8>) throws(DockerError) -> HTTPResponseHead {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { throw .protocolError("empty HTTP response head") }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw .protocolError("not an HTTP/1.x response: '\(statusLine.prefix(80))'")
        }
        var headers: [(String, String)] = []
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw .protocolError("malformed header line '\(line.prefix(80))'") }
            headers.append(
                (
                    String(line[..<colon]).trimmedSpaces,
                    String(line[line.index(after: colon)...]).trimmedSpaces
                ))
        }
        return HTTPResponseHead(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers)
    }

    private let crlf: [UInt8] = [13, 10]
    private let crlfcrlf: [UInt8] = [13, 10, 13, 10]

    private func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        var i = start
        let last = buffer.count - needle.count
        while i <= last {
            if buffer[i] == needle[0] {
                var match = true
                for j in 1..<needle.count where buffer[i + j] != needle[j] {
                    match = false
                    break
                }
                if match { return i }
            }
            i += 1
        }
        return nil
    }
}

extension StringProtocol {
    /// Trims ASCII spaces and tabs (all HTTP needs; avoids pulling in CharacterSet).
    var trimmedSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
