import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// Clients for testing `serve` from the outside: a raw socket, a minimal HTTP/1.1 client and a WebSocket client that
// can also send what a browser never would. Shared by the Docker-free server tests and the integration tests.

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs blocking socket work on its own thread, off Swift's small cooperative pool (the server in this process needs it).
public func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}

/// A raw TCP connection to 127.0.0.1 with timeouts.
public final class RawSocket: @unchecked Sendable {
    public let fd: Int32

    public init(port: Int, timeoutSeconds: Int = 60) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw TestFailure("connect to port \(port) failed")
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // A server may answer (413) and stop reading before a large body is sent: give up sending, then read.
        var sendTimeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
    }

    public func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Reads what is there (blocking up to the timeout); empty on EOF or timeout.
    public func read() -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    public func closeSocket() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

/// Minimal HTTP/1.1 client (Connection: close).
public enum HTTP {
    public struct Reply: Sendable {
        public var status: Int
        public var headers: String
        public var body: String
    }

    public static func request(port: Int, _ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws
        -> Reply
    {
        let result: Result<Reply, TestFailure> = await offPool {
            do {
                let socket = try RawSocket(port: port, timeoutSeconds: 120)
                defer { socket.closeSocket() }
                let given = Set(headers.keys.map { $0.lowercased() })
                var head = "\(method) \(path) HTTP/1.1\r\n"
                if !given.contains("host") { head += "Host: 127.0.0.1:\(port)\r\n" }
                head += "Connection: close\r\n"
                for (key, value) in headers { head += "\(key): \(value)\r\n" }
                let payload = Array((body ?? "").utf8)
                if body != nil {
                    if !given.contains("content-type") { head += "Content-Type: application/json\r\n" }
                    head += "Content-Length: \(payload.count)\r\n"
                }
                socket.write(Array((head + "\r\n").utf8) + payload)
                var response: [UInt8] = []
                while true {
                    let chunk = socket.read()
                    if chunk.isEmpty { break }
                    response += chunk
                }
                let text = String(decoding: response, as: UTF8.self)
                guard let split = text.range(of: "\r\n\r\n") else { return .failure(TestFailure("no HTTP response: \(text)")) }
                let headText = String(text[..<split.lowerBound])
                let status = Int(headText.split(separator: " ").dropFirst().first ?? "") ?? 0
                var bodyText = String(text[split.upperBound...])
                if headText.lowercased().contains("transfer-encoding: chunked") { bodyText = dechunk(bodyText) }
                return .success(Reply(status: status, headers: headText, body: bodyText))
            } catch {
                return .failure(error as? TestFailure ?? TestFailure("\(error)"))
            }
        }
        return try result.get()
    }

    public static func dechunk(_ text: String) -> String {
        var rest = Substring(text)
        var out = ""
        while let line = rest.range(of: "\r\n") {
            guard let size = Int(rest[..<line.lowerBound], radix: 16), size > 0 else { break }
            let start = line.upperBound
            let end = rest.utf8.index(start, offsetBy: size)
            out += rest[start..<end]
            // "\r\n" is one Character: step over it in UTF-8, or the next chunk's size line loses its first digit.
            let next = rest.utf8.index(end, offsetBy: 2, limitedBy: rest.utf8.endIndex) ?? rest.endIndex
            rest = rest[next...]
        }
        return out
    }
}

/// A WebSocket client over a raw socket: enough of RFC 6455 to test the server, including messages a browser would
/// never send (oversized, malformed). A reader thread collects text messages.
public final class TestWebSocket: @unchecked Sendable {
    public let socket: RawSocket
    private let lock = NSLock()
    private var messages: [String] = []
    public private(set) var closed = false
    private var closeCode: Int?

    public struct UpgradeRefused: Error, CustomStringConvertible {
        public var status: Int
        public var response: String
        public var description: String { "upgrade refused with \(status): \(response)" }
    }

    private init(socket: RawSocket) { self.socket = socket }

    public static func connect(port: Int, path: String = "/ws", headers: [String: String] = [:]) async throws -> TestWebSocket {
        let result: Result<TestWebSocket, any Error> = await offPool {
            do {
                let socket = try RawSocket(port: port)
                var head = "GET \(path) HTTP/1.1\r\n"
                if !headers.keys.contains(where: { $0.lowercased() == "host" }) { head += "Host: 127.0.0.1:\(port)\r\n" }
                head += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                for (key, value) in headers { head += "\(key): \(value)\r\n" }
                socket.write(Array((head + "\r\n").utf8))
                var received: [UInt8] = []
                while true {
                    let chunk = socket.read()
                    if chunk.isEmpty { break }
                    received += chunk
                    if let end = Self.headEnd(received) {
                        let headText = String(decoding: received[..<end], as: UTF8.self)
                        let status = Int(headText.split(separator: " ").dropFirst().first ?? "") ?? 0
                        guard status == 101 else {
                            let more = socket.read()
                            socket.closeSocket()
                            return .failure(
                                UpgradeRefused(status: status, response: headText + String(decoding: received[(end + 4)...] + more, as: UTF8.self)))
                        }
                        let client = TestWebSocket(socket: socket)
                        client.startReader(leftover: Array(received[(end + 4)...]))
                        return .success(client)
                    }
                }
                socket.closeSocket()
                return .failure(TestFailure("the server closed the connection during the upgrade"))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    private func startReader(leftover: [UInt8]) {
        let thread = Thread { [self] in
            var buffer = leftover
            var fragments: [UInt8] = []
            while true {
                // Parse whole frames from the buffer.
                while buffer.count >= 2 {
                    let opcode = buffer[0] & 0x0F
                    let fin = buffer[0] & 0x80 != 0
                    var length = Int(buffer[1] & 0x7F)
                    var offset = 2
                    if length == 126 {
                        guard buffer.count >= 4 else { break }
                        length = Int(buffer[2]) << 8 | Int(buffer[3])
                        offset = 4
                    } else if length == 127 {
                        guard buffer.count >= 10 else { break }
                        length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
                        offset = 10
                    }
                    guard buffer.count >= offset + length else { break }
                    let payload = Array(buffer[offset..<(offset + length)])
                    buffer.removeFirst(offset + length)
                    switch opcode {
                    case 0, 1:
                        fragments += payload
                        if fin {
                            let text = String(decoding: fragments, as: UTF8.self)
                            fragments = []
                            lock.withLock { messages.append(text) }
                        }
                    case 8:
                        lock.withLock {
                            closed = true
                            closeCode = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
                        }
                        socket.write(frame(opcode: 8, payload: Array(payload.prefix(2))))
                        return
                    case 9:
                        socket.write(frame(opcode: 10, payload: payload))
                    default:
                        break
                    }
                }
                let chunk = socket.read()
                if chunk.isEmpty {
                    lock.withLock { closed = true }
                    return
                }
                buffer += chunk
            }
        }
        thread.start()
    }

    public func frame(opcode: UInt8, payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            out.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            out += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return out
    }

    public func send(_ text: String) {
        socket.write(frame(opcode: 1, payload: Array(text.utf8)))
    }

    public func sendBinary(_ bytes: [UInt8]) {
        socket.write(frame(opcode: 2, payload: bytes))
    }

    public func send(json object: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: object)
        send(String(decoding: data, as: UTF8.self))
    }

    public func close() {
        socket.write(frame(opcode: 8, payload: [0x03, 0xE8]))
        Thread.sleep(forTimeInterval: 0.05)
        socket.closeSocket()
    }

    public var isClosed: Bool { lock.withLock { closed } }

    /// The code of the server's close frame, once one came.
    public var receivedCloseCode: Int? { lock.withLock { closeCode } }

    /// The next message, waiting up to `timeout`.
    public func next(timeout: Duration = .seconds(60)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (message, isClosed): (String?, Bool) = lock.withLock {
                if messages.isEmpty { return (nil, closed) }
                return (messages.removeFirst(), false)
            }
            if let message { return message }
            if isClosed { throw TestFailure("the server closed the WebSocket") }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestFailure("no message within \(timeout)")
    }

    public func nextJSON(timeout: Duration = .seconds(60)) async throws -> [String: Any] {
        let text = try await next(timeout: timeout)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(text)")
        }
        return object
    }

    /// Messages until one of `type` (for run `id` when given) arrives; returns it and everything before it.
    public func waitFor(_ type: String, id: String? = nil, timeout: Duration = .seconds(90)) async throws -> (
        match: [String: Any], before: [[String: Any]]
    ) {
        var before: [[String: Any]] = []
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TestFailure("no \(type) within \(timeout); got \(before)") }
            let message = try await nextJSON(timeout: remaining)
            if message["type"] as? String == type, id == nil || message["id"] as? String == id { return (message, before) }
            before.append(message)
        }
    }

    /// Runs a program and collects its output until its exit message.
    public func run(
        _ id: String, language: String?, files: [(String, String)], entry: String? = nil, stdin: String? = nil,
        extra: [String: Any] = [:], timeout: Duration = .seconds(120)
    ) async throws -> (exit: [String: Any], stdout: String, stderr: String) {
        var message: [String: Any] = ["type": "run", "id": id, "files": files.map { ["path": $0.0, "content": $0.1] }]
        if let language { message["language"] = language }
        if let entry { message["entry"] = entry }
        if let stdin { message["stdin"] = stdin }
        for (key, value) in extra { message[key] = value }
        send(json: message)
        let (exit, before) = try await waitFor("exit", id: id, timeout: timeout)
        var out = ""
        var err = ""
        for event in before where event["type"] as? String == "output" && event["id"] as? String == id {
            if event["stream"] as? String == "stdout" { out += event["data"] as? String ?? "" } else { err += event["data"] as? String ?? "" }
        }
        if let error = before.first(where: { $0["type"] as? String == "error" }) {
            throw TestFailure("unexpected error before exit: \(error)")
        }
        return (exit, out, err)
    }
}
