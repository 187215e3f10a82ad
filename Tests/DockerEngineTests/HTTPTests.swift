import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import DockerEngine

@Suite struct HTTPRequestEncodingTests {
    /// The bytes NIO's `HTTPRequestEncoder` puts on the wire for `request`.
    static func wire(_ request: DockerHTTPRequest, host: String = "docker") throws -> [UInt8] {
        let channel = EmbeddedChannel(handler: HTTPRequestEncoder())
        for part in request.parts(host: host) { try channel.writeOutbound(part) }
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        _ = try channel.finish()
        return bytes
    }

    @Test func encodesGetWithQuery() throws {
        let request = DockerHTTPRequest(
            method: "GET", path: "/containers/json", query: [("all", "true"), ("filters", #"{"label":["a=b c"]}"#)])
        let text = String(decoding: try Self.wire(request), as: UTF8.self)
        #expect(
            text == "GET /containers/json?all=true&filters=%7B%22label%22%3A%5B%22a%3Db%20c%22%5D%7D HTTP/1.1\r\n"
                + "Host: docker\r\nUser-Agent: coderunner\r\nConnection: close\r\n\r\n")
    }

    @Test func encodesPostWithJSONBody() throws {
        let client = DockerClient(host: .default)
        let config = ContainerCreateRequest(
            image: "coderunner/base:bookworm", cmd: ["sleep", "1"], labels: ["coderunner": "1"],
            hostConfig: HostConfig(
                networkMode: "none", readonlyRootfs: true, capDrop: ["ALL"], memory: 1 << 27, pidsLimit: 64,
                ulimits: [.init(name: "nofile", soft: 256, hard: 256)]))
        let body = try client.jsonBytes(config)
        let json = String(decoding: body, as: UTF8.self)
        #expect(
            json == #"{"Cmd":["sleep","1"],"HostConfig":{"CapDrop":["ALL"],"Memory":134217728,"NetworkMode":"none","#
                + #""PidsLimit":64,"ReadonlyRootfs":true,"Ulimits":[{"Hard":256,"Name":"nofile","Soft":256}]},"#
                + #""Image":"coderunner\/base:bookworm","Labels":{"coderunner":"1"}}"#)
        let request = DockerHTTPRequest(
            method: "POST", path: "/containers/create", query: [("name", "cr-1")],
            headers: [("Content-Type", "application/json")], body: body)
        let bytes = try Self.wire(request)
        let head =
            "POST /containers/create?name=cr-1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: coderunner\r\n"
            + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n"
        #expect(bytes == Array(head.utf8) + body)
    }

    @Test func encodesHijackHeadersAndEmptyPost() throws {
        let start = DockerHTTPRequest(
            method: "POST", path: "/exec/abc/start", headers: [("Connection", "Upgrade"), ("Upgrade", "tcp")], body: [])
        let text = String(decoding: try Self.wire(start), as: UTF8.self)
        #expect(text.contains("Connection: Upgrade\r\nUpgrade: tcp\r\n"))
        #expect(!text.contains("Connection: close") && !text.lowercased().contains("transfer-encoding"))
        #expect(text.hasSuffix("Content-Length: 0\r\n\r\n"))
        let kill = DockerHTTPRequest(method: "POST", path: "/containers/x/kill", query: [("signal", "KILL")])
        #expect(String(decoding: try Self.wire(kill), as: UTF8.self).hasSuffix("Content-Length: 0\r\n\r\n"))
        let remove = DockerHTTPRequest(method: "DELETE", path: "/networks/n")
        #expect(
            String(decoding: try Self.wire(remove, host: "[::1]:2375"), as: UTF8.self) == "DELETE /networks/n HTTP/1.1\r\n"
                + "Host: [::1]:2375\r\nUser-Agent: coderunner\r\nConnection: close\r\n\r\n")
    }

    @Test func encodesNetworkAndExecRequests() throws {
        let client = DockerClient(host: .default)
        let network = NetworkCreateRequest(
            name: "coderunner-session-x", labels: ["coderunner.session": "x"],
            ipam: IPAM(config: [IPAMPool(subnet: "10.250.1.0/24", gateway: "10.250.1.1")]))
        #expect(
            String(decoding: try client.jsonBytes(network), as: UTF8.self)
                == #"{"CheckDuplicate":true,"Driver":"bridge","IPAM":{"Config":[{"Gateway":"10.250.1.1","Subnet":"10.250.1.0\/24"}],"#
                + #""Driver":"default"},"Internal":true,"Labels":{"coderunner.session":"x"},"Name":"coderunner-session-x"}"#)
        let exec = ExecCreateRequest(cmd: ["cat"], attachStdin: true)
        #expect(
            String(decoding: try client.jsonBytes(exec), as: UTF8.self)
                == #"{"AttachStderr":true,"AttachStdin":true,"AttachStdout":true,"Cmd":["cat"],"Tty":false}"#)
    }

    @Test func pathSegmentsKeepImageReferences() {
        #expect(pathSegment("coderunner/base:bookworm") == "coderunner/base:bookworm")
        #expect(pathSegment("a b?c") == "a%20b%3Fc")
    }
}

@Suite struct HTTPResponseTests {
    @Test func apiErrorsUseDockersMessage() {
        #expect(
            DockerClient.apiError(status: 404, body: Array("{\"message\":\"No such exec\"}\n".utf8), path: "/exec/x/start")
                == .api(status: 404, message: "No such exec", path: "/exec/x/start"))
        #expect(
            DockerClient.apiError(status: 502, body: Array(" bad gateway\n".utf8), path: "/p")
                == .api(status: 502, message: "bad gateway", path: "/p"))
        #expect(DockerClient.apiError(status: 503, body: [], path: "/p") == .api(status: 503, message: "HTTP 503", path: "/p"))
    }

    @Test func responseModelsDecode() throws {
        let json = #"""
            {"Id":"abc","Name":"/cr-1","Created":"2024-01-01T00:00:00Z","State":{"Status":"running","Running":true,
            "ExitCode":0,"OOMKilled":false,"Pid":42,"StartedAt":"2024-01-01T00:00:01Z"},"Config":{"Labels":{"a":"b"},"Image":"img"},
            "NetworkSettings":{"Networks":{"n1":{"NetworkID":"nid","IPAddress":"10.250.1.2"}}}}
            """#
        let inspect = try JSONDecoder().decode(ContainerInspect.self, from: Data(json.utf8))
        #expect(inspect.state.pid == 42 && inspect.state.running && inspect.labels == ["a": "b"])
        #expect(inspect.networkSettings?.networks?["n1"]?.ipAddress == "10.250.1.2")
        let network = try JSONDecoder().decode(
            DockerNetwork.self,
            from: Data(
                (#"{"Name":"n","Id":"i","Created":"x","Driver":"bridge","Internal":true,"IPAM":{"Driver":"default","Options":null,"#
                    + #""Config":[{"Subnet":"10.250.1.0/24","Gateway":"10.250.1.1"}]},"Containers":{},"Labels":null}"#).utf8))
        #expect(network.subnets == ["10.250.1.0/24"] && network.internal && network.labels.isEmpty)
        let summary = try JSONDecoder().decode(
            [ContainerSummary].self, from: Data(#"[{"Id":"x","Names":["/a"],"Image":"i","Labels":{},"State":"exited","Created":17}]"#.utf8))
        #expect(summary.first?.created == 17)
        let exec = try JSONDecoder().decode(ExecInspect.self, from: Data(#"{"Running":false,"ExitCode":3,"Pid":9}"#.utf8))
        #expect(exec.exitCode == 3 && exec.pid == 9)
    }

    @Test func progressLinesReportErrors() {
        let seen = Collected()
        let handle = DockerClient.progressLine { seen.append($0) }
        #expect(handle(Array(#"{"stream":"Step 1/2 : FROM x\n"}"#.utf8)) == nil)
        #expect(handle(Array(#"{"errorDetail":{"message":"boom"},"error":"boom"}"#.utf8)) == "boom")
        #expect(seen.values == ["Step 1/2 : FROM x\n"])
    }
}

/// A tiny thread-safe collector for callbacks in tests.
final class Collected: @unchecked Sendable {
    private var storage: [String] = []
    private let lock = NSLock()
    func append(_ value: String) { lock.withLock { storage.append(value) } }
    var values: [String] { lock.withLock { storage } }
}

/// The hijack pipeline on an `EmbeddedChannel`, whose event loop runs queued tasks only when told to: that makes the
/// race with an engine that sends the head, the first output and its close in one go happen every time.
@Suite struct HijackPipelineTests {
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var events: [String] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            events.append(String(decoding: unwrapInboundIn(data).readableBytesView, as: UTF8.self))
        }
        func channelInactive(context: ChannelHandlerContext) { events.append("<inactive>") }
    }

    @Test func endOfInputArrivesAfterTheBytesThatCameWithTheHead() throws {
        let channel = EmbeddedChannel()
        let upgraded = channel.eventLoop.makePromise(of: Void.self)
        let gate = EndOfInputGate()
        let encoder = HTTPRequestEncoder()
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
        let request = DockerHTTPRequest(method: "POST", path: "/exec/x/start", headers: [("Connection", "Upgrade"), ("Upgrade", "tcp")])
        let hijack = HijackHandler(
            request: request.parts(host: "docker"), path: request.path, upgraded: upgraded, httpHandlers: [encoder, decoder], gate: gate)
        let recorder = Recorder()
        try channel.pipeline.syncOperations.addHandlers([gate, encoder, decoder, hijack, recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2375)).wait()
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(String(decoding: written.readableBytesView, as: UTF8.self).hasPrefix("POST /exec/x/start HTTP/1.1\r\n"))

        let head = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: head + "first output"))
        channel.pipeline.fireChannelInactive()  // the close, read before the handlers' removal has run
        #expect(recorder.events.isEmpty)
        channel.embeddedEventLoop.run()
        #expect(recorder.events == ["first output", "<inactive>"])
        try upgraded.futureResult.wait()
        #expect(throws: (any Error).self) { try channel.pipeline.syncOperations.context(handlerType: HijackHandler.self) }
    }
}
