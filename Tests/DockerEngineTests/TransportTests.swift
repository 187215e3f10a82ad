import DockerEngineTesting
import Foundation
import Testing

@testable import DockerEngine

/// A hang (a lost close, a stream that never ends) fails at the time limit instead of blocking the suite.
@Suite(.timeLimit(.minutes(1))) struct TransportTests {
    /// Runs `body` against a `CannedServer` answering with `pieces`; returns the requests it received.
    @discardableResult
    func withServer(
        _ pieces: [String], close: Bool = true, echo: Bool = false, timeout: Duration = .seconds(10),
        _ body: (DockerClient) async throws -> Void
    ) async throws -> [[UInt8]] {
        try await withServer(pieces.map { Array($0.utf8) }, close: close, echo: echo, timeout: timeout, body)
    }

    /// `timeout` is long by default: the suite runs beside builds on two cores, and only `requestsTimeOut` wants one.
    @discardableResult
    func withServer(
        _ pieces: [[UInt8]], close: Bool = true, echo: Bool = false, timeout: Duration = .seconds(10),
        _ body: (DockerClient) async throws -> Void
    ) async throws -> [[UInt8]] {
        let server = try await CannedServer(pieces: pieces, close: close, echo: echo)
        do {
            try await body(DockerClient(host: .unixSocket(server.path), requestTimeout: timeout))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        return server.requests.values
    }

    static let versionJSON = #"{"Version":"20.10.24","ApiVersion":"1.41","Os":"linux","Arch":"amd64","KernelVersion":"6.1"}"#

    static func chunk(_ text: String) -> String { "\(String(text.utf8.count, radix: 16))\r\n\(text)\r\n" }

    static let upgradedHead =
        "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"

    static func stdout(_ text: String) -> ExecChunk { ExecChunk(stream: .stdout, bytes: Array(text.utf8)) }

    @Test func chunkedBodySplitAcrossReads() async throws {
        let json = Self.versionJSON
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = Self.chunk(String(json.prefix(10))) + Self.chunk(String(json.dropFirst(10))) + "0\r\n\r\n"
        // Split inside the head, inside a chunk-size line and inside the final CRLF; the connection stays open, so only
        // the terminating chunk can end the response.
        let bytes = Array((head + body).utf8)
        let cuts = [0, 20, head.utf8.count + 1, bytes.count - 1, bytes.count]
        let pieces = (1..<cuts.count).map { Array(bytes[cuts[$0 - 1]..<cuts[$0]]) }
        try await withServer(pieces, close: false) { client in
            let version = try await client.version()
            #expect(version.version == "20.10.24" && version.apiVersion == "1.41")
        }
    }

    @Test func contentLengthAndReadUntilCloseBodies() async throws {
        let json = Self.versionJSON
        try await withServer(
            ["HTTP/1.1 200 OK\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json.prefix(5))", String(json.dropFirst(5))], close: false
        ) {
            let version = try await $0.version()
            #expect(version.kernelVersion == "6.1")
        }
        try await withServer(["HTTP/1.0 200 OK\r\n\r\n\(json.prefix(5))", String(json.dropFirst(5))]) {
            let version = try await $0.version()
            #expect(version.os == "linux")
        }
    }

    @Test func requestsGoOutAsEncoded() async throws {
        let tar = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let requests = try await withServer(["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"]) { client in
            try await client.putArchive("c1", path: "/work dir", tar: tar)
        }
        let request = try #require(requests.first)
        let head =
            "PUT /containers/c1/archive?path=%2Fwork%20dir HTTP/1.1\r\nHost: docker\r\nUser-Agent: coderunner\r\n"
            + "Content-Type: application/x-tar\r\nConnection: close\r\nContent-Length: 300000\r\n\r\n"
        #expect(request == Array(head.utf8) + tar)
    }

    @Test func progressLinesArriveAndErrorsAreReported() async throws {
        let lines = [
            #"{"stream":"Step 1/2 : FROM x\n"}"#, #"{"status":"Pulling","progress":"[=>  ]"}"#, #"{"errorDetail":{"message":"boom"},"error":"boom"}"#,
        ]
        let text = lines.joined(separator: "\r\n") + "\n"
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        let seen = Collected()
        try await withServer([head + Self.chunk(String(text.prefix(25))), Self.chunk(String(text.dropFirst(25))) + "0\r\n\r\n"]) { client in
            await #expect(throws: DockerError.buildFailed("boom")) {
                try await client.imageBuild(context: [], tag: "t:1") { seen.append($0) }
            }
        }
        #expect(seen.values == ["Step 1/2 : FROM x\n", "Pulling [=>  ]\n"])
    }

    @Test func errorBodiesBecomeAPIErrors() async throws {
        let body = #"{"message":"No such container: x"}"#
        try await withServer(["HTTP/1.1 404 Not Found\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"]) { client in
            let missing = try await client.containerInspect("x")
            #expect(missing == nil)
            await #expect(throws: DockerError.api(status: 404, message: "No such container: x", path: "/exec/x/json")) {
                _ = try await client.execInspect("x")
            }
        }
        try await withServer(["HTTP/1.1 500 Internal Server Error\r\nContent-Length: 9\r\n\r\nit broke\n"]) { client in
            await #expect(throws: DockerError.api(status: 500, message: "it broke", path: "/_ping")) { try await client.ping() }
        }
    }

    @Test func earlyClosesAndGarbageAreProtocolErrors() async throws {
        try await withServer([String]()) { client in
            await #expect(throws: DockerError.protocolError("the engine closed the connection without answering")) {
                try await client.ping()
            }
        }
        try await withServer(["HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Version\":"]) { client in
            await #expect(throws: DockerError.protocolError("the engine closed the connection in the middle of a response")) {
                _ = try await client.version()
            }
        }
        try await withServer(["SSH-2.0-OpenSSH_9.2\r\n\r\n"], close: false) { client in
            let error = await #expect(throws: DockerError.self) { try await client.ping() }
            guard case .protocolError(let message) = error else {
                Issue.record("not a protocol error: \(String(describing: error))")
                return
            }
            #expect(message.hasPrefix("malformed HTTP response"))
        }
    }

    @Test func missingSocketIsUnreachable() async throws {
        let client = DockerClient(host: .unixSocket("/tmp/cr-no-such-\(UUID().uuidString.prefix(8)).sock"))
        let error = await #expect(throws: DockerError.self) { try await client.ping() }
        guard case .unreachable(_, let reason) = error else {
            Issue.record("not unreachable: \(String(describing: error))")
            return
        }
        #expect(reason.contains("no such file or directory"))
    }

    /// The server never answers and never closes: only the client's own timeout can end the request. (No bound on how
    /// long that took: on a loaded 2-core machine the whole suite shares two threads; a hang ends at the time limit.)
    @Test func requestsTimeOut() async throws {
        try await withServer([String](), close: false, timeout: .milliseconds(500)) { client in
            await #expect(throws: DockerError.timeout(path: "/_ping")) { try await client.ping() }
            await #expect(throws: DockerError.timeout(path: "/exec/abc/start")) { _ = try await client.execStart("abc") }
        }
    }

    @Test func hijackKeepsBytesSentWithTheHead() async throws {
        // Head and the first frames in one write, then the connection closes: nothing may be lost.
        let frames =
            FrameDecoderTests.frame(1, Array("out\n".utf8)) + FrameDecoderTests.frame(2, Array("err\n".utf8))
            + FrameDecoderTests.frame(1, Array("more\n".utf8))
        let requests = try await withServer([Array(Self.upgradedHead.utf8) + frames]) { client in
            let stream = try await client.execStart("abc")
            var chunks: [ExecChunk] = []
            for try await chunk in stream.output { chunks.append(chunk) }
            #expect(chunks == [Self.stdout("out\n"), ExecChunk(stream: .stderr, bytes: Array("err\n".utf8)), Self.stdout("more\n")])
        }
        let request = String(decoding: try #require(requests.first), as: UTF8.self)
        #expect(request.hasPrefix("POST /exec/abc/start HTTP/1.1\r\n"))
        #expect(request.contains("\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n") && request.hasSuffix(#"{"Detach":false,"Tty":false}"#))
    }

    @Test func hijackedStreamCarriesStdinBothWays() async throws {
        // First frame with the head; afterwards the server echoes what it reads and closes once stdin is closed.
        try await withServer([Array(Self.upgradedHead.utf8) + FrameDecoderTests.frame(1, Array("ready\n".utf8))], close: false, echo: true) {
            client in
            let stream = try await client.containerAttach("abc")
            try await stream.write(Array("ping\n".utf8))
            try await stream.closeWrite()
            var chunks: [ExecChunk] = []
            for try await chunk in stream.output { chunks.append(chunk) }
            // Output of one stream that waits together is merged into one chunk, so compare the bytes only.
            #expect(chunks.allSatisfy { $0.stream == .stdout })
            #expect(String(decoding: chunks.flatMap(\.bytes), as: UTF8.self) == "ready\nping\n")
        }
    }

    @Test func hijackAnsweredWithPlainOK() async throws {
        // Without the 101 the stream comes as a body that only the close ends; it must come out as frames all the same.
        let head = Array("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n".utf8)
        try await withServer([head + FrameDecoderTests.frame(1, Array("a".utf8)), FrameDecoderTests.frame(2, Array("b".utf8))]) { client in
            let stream = try await client.execStart("abc")
            var chunks: [ExecChunk] = []
            for try await chunk in stream.output { chunks.append(chunk) }
            #expect(chunks == [Self.stdout("a"), ExecChunk(stream: .stderr, bytes: Array("b".utf8))])
        }
    }

    @Test func hijackRefusedWithAnError() async throws {
        let body = #"{"message":"Container abc is not running"}"#
        try await withServer(["HTTP/1.1 409 Conflict\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"], close: false) { client in
            await #expect(throws: DockerError.api(status: 409, message: "Container abc is not running", path: "/exec/abc/start")) {
                _ = try await client.execStart("abc")
            }
        }
        try await withServer([String]()) { client in
            await #expect(throws: DockerError.protocolError("the engine closed the exec connection before answering")) {
                _ = try await client.containerAttach("abc")
            }
        }
    }

    @Test func truncatedFrameIsReported() async throws {
        try await withServer([Array(Self.upgradedHead.utf8) + FrameDecoderTests.frame(1, Array("partial".utf8)).dropLast(3)]) { client in
            let stream = try await client.execStart("abc")
            await #expect(throws: DockerError.protocolError("exec output ended in the middle of a frame")) {
                for try await _ in stream.output {}
            }
        }
    }
}
