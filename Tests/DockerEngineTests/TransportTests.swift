import DockerEngineTesting
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import DockerEngine

/// A unix-socket server that answers every request with canned bytes, to test the transport without Docker.
final class CannedServer: Sendable {
    let path: String
    let channel: any Channel

    /// `response` is written once the request head has arrived; `close` closes the connection afterwards.
    init(response: [UInt8], close: Bool) async throws {
        path = "/tmp/cr-canned-\(UUID().uuidString.prefix(8)).sock"
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Responder(response: response, close: close))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
    }

    func stop() async {
        try? await channel.close().get()
        try? FileManager.default.removeItem(atPath: path)
    }

    final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let response: [UInt8]
        let close: Bool
        var received: [UInt8] = []
        var answered = false
        init(response: [UInt8], close: Bool) {
            self.response = response
            self.close = close
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += unwrapInboundIn(data).readableBytesView
            guard !answered, received.count >= 4,
                (0...(received.count - 4)).contains(where: { received[$0..<$0 + 4] == [13, 10, 13, 10] })
            else { return }
            answered = true
            guard !response.isEmpty else { return }
            let close = self.close
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(NIOAny(ByteBuffer(bytes: response))).whenComplete { _ in
                if close { bound.value.close(promise: nil) }
            }
        }
    }
}

@Suite struct TransportTests {
    func withServer(_ response: String, close: Bool = true, _ body: (DockerClient) async throws -> Void) async throws {
        try await withServer(Array(response.utf8), close: close, body)
    }

    func withServer(_ response: [UInt8], close: Bool = true, _ body: (DockerClient) async throws -> Void) async throws {
        let server = try await CannedServer(response: response, close: close)
        do {
            try await body(DockerClient(host: .unixSocket(server.path), requestTimeout: .milliseconds(500)))
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func chunkedJSONResponse() async throws {
        let json = #"{"Version":"20.10.24","ApiVersion":"1.41","Os":"linux","Arch":"amd64","KernelVersion":"6.1"}"#
        let first = String(json.prefix(10))
        let rest = String(json.dropFirst(10))
        let response =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "\(String(first.utf8.count, radix: 16))\r\n\(first)\r\n\(String(rest.utf8.count, radix: 16))\r\n\(rest)\r\n0\r\n\r\n"
        try await withServer(response, close: false) { client in
            let version = try await client.version()
            #expect(version.version == "20.10.24" && version.apiVersion == "1.41")
        }
    }

    @Test func errorBodiesBecomeAPIErrors() async throws {
        let body = #"{"message":"No such container: x"}"#
        try await withServer("HTTP/1.1 404 Not Found\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)") { client in
            let missing = try await client.containerInspect("x")
            #expect(missing == nil)
            await #expect(throws: DockerError.api(status: 404, message: "No such container: x", path: "/exec/x/json")) {
                _ = try await client.execInspect("x")
            }
        }
    }

    /// The server never answers and never closes: only the client's own timeout can end the request. (No bound on how
    /// long that took: on a loaded 2-core machine the whole suite shares two threads; a hang ends at the time limit.)
    @Test(.timeLimit(.minutes(1))) func requestsTimeOut() async throws {
        try await withServer("", close: false) { client in
            await #expect(throws: DockerError.timeout(path: "/_ping")) { try await client.ping() }
        }
    }

    @Test func hijackKeepsBytesSentWithTheHead() async throws {
        // Head and the first frames in one write, then the connection closes: nothing may be lost.
        let head = Array(
            "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".utf8)
        let frames =
            FrameDecoderTests.frame(1, Array("out\n".utf8)) + FrameDecoderTests.frame(2, Array("err\n".utf8))
            + FrameDecoderTests.frame(1, Array("more\n".utf8))
        try await withServer(head + frames) { client in
            let stream = try await client.execStart("abc")
            var chunks: [ExecChunk] = []
            for try await chunk in stream.output { chunks.append(chunk) }
            #expect(
                chunks == [
                    ExecChunk(stream: .stdout, bytes: Array("out\n".utf8)), ExecChunk(stream: .stderr, bytes: Array("err\n".utf8)),
                    ExecChunk(stream: .stdout, bytes: Array("more\n".utf8)),
                ])
        }
    }

    @Test func hijackRefusedWithAnError() async throws {
        let body = #"{"message":"Container abc is not running"}"#
        try await withServer("HTTP/1.1 409 Conflict\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)", close: false) { client in
            await #expect(throws: DockerError.api(status: 409, message: "Container abc is not running", path: "/exec/abc/start")) {
                _ = try await client.execStart("abc")
            }
        }
    }

    @Test func truncatedFrameIsReported() async throws {
        let head = Array("HTTP/1.1 101 UPGRADED\r\n\r\n".utf8)
        try await withServer(head + FrameDecoderTests.frame(1, Array("partial".utf8)).dropLast(3)) { client in
            let stream = try await client.execStart("abc")
            await #expect(throws: DockerError.self) {
                for try await _ in stream.output {}
            }
        }
    }
}
