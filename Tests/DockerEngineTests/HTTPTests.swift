import Foundation
import Testing

@testable import DockerEngine

@Suite struct HTTPRequestEncodingTests {
    @Test func encodesGetWithQuery() {
        let request = DockerHTTPRequest(
            method: "GET", path: "/containers/json", query: [("all", "true"), ("filters", #"{"label":["a=b c"]}"#)])
        let text = String(decoding: request.encoded(host: "docker"), as: UTF8.self)
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
        let bytes = request.encoded(host: "docker")
        let head =
            "POST /containers/create?name=cr-1 HTTP/1.1\r\nHost: docker\r\nUser-Agent: coderunner\r\n"
            + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n"
        #expect(bytes == Array(head.utf8) + body)
    }

    @Test func encodesHijackHeadersAndEmptyPost() {
        let start = DockerHTTPRequest(
            method: "POST", path: "/exec/abc/start", headers: [("Connection", "Upgrade"), ("Upgrade", "tcp")], body: [])
        let text = String(decoding: start.encoded(host: "docker"), as: UTF8.self)
        #expect(text.contains("Connection: Upgrade\r\nUpgrade: tcp\r\n"))
        #expect(!text.contains("Connection: close"))
        let kill = DockerHTTPRequest(method: "POST", path: "/containers/x/kill", query: [("signal", "KILL")])
        #expect(String(decoding: kill.encoded(host: "docker"), as: UTF8.self).hasSuffix("Content-Length: 0\r\n\r\n"))
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

@Suite struct HTTPResponseParserTests {
    static func events(_ chunks: [[UInt8]], parser: HTTPResponseParser = HTTPResponseParser(), eof: Bool = false) throws
        -> (head: HTTPResponseHead?, body: [UInt8], ended: Bool)
    {
        var parser = parser
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        var ended = false
        func drain(_ event: HTTPResponseParser.Event) {
            switch event {
            case .head(let h): head = h
            case .body(let b): body += b
            case .end: ended = true
            }
        }
        for chunk in chunks {
            parser.append(chunk)
            while let event = try parser.next() { drain(event) }
        }
        if eof, let event = try parser.finish() { drain(event) }
        return (head, body, ended)
    }

    static func bytewise(_ text: String) -> [[UInt8]] { Array(text.utf8).map { [$0] } }

    @Test func contentLength() throws {
        let raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"Id\":\"x\"}\n"
        for chunks in [[Array(raw.utf8)], Self.bytewise(raw)] {
            let result = try Self.events(chunks)
            #expect(result.head?.status == 200)
            #expect(result.head?.header("content-type") == "application/json")
            #expect(String(decoding: result.body, as: UTF8.self) == "{\"Id\":\"x\"}\n")
            #expect(result.ended)
        }
    }

    @Test func chunkedSplitAtEveryByte() throws {
        let raw =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\r\nhello\r\n7;ext=1\r\n, world\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n"
        let whole = try Self.events([Array(raw.utf8)])
        #expect(String(decoding: whole.body, as: UTF8.self) == "hello, worldabcdefghijklmnopqrstuvwxyz")
        #expect(whole.ended)
        for split in 1..<raw.utf8.count {
            let bytes = Array(raw.utf8)
            let result = try Self.events([Array(bytes[..<split]), Array(bytes[split...])])
            #expect(result.body == whole.body)
            #expect(result.ended)
        }
        let bytewise = try Self.events(Self.bytewise(raw))
        #expect(bytewise.body == whole.body && bytewise.ended)
    }

    @Test func bodyUntilCloseAndNoBody() throws {
        let result = try Self.events([Array("HTTP/1.0 200 OK\r\n\r\nabc".utf8)], eof: true)
        #expect(String(decoding: result.body, as: UTF8.self) == "abc" && result.ended)
        let noContent = try Self.events([Array("HTTP/1.1 204 No Content\r\n\r\n".utf8)])
        #expect(noContent.head?.status == 204 && noContent.ended && noContent.body.isEmpty)
        let notModified = try Self.events([Array("HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\n\r\n".utf8)])
        #expect(notModified.ended)
    }

    @Test func truncatedBodyIsAnError() {
        #expect(throws: DockerError.self) {
            _ = try Self.events([Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".utf8)], eof: true)
        }
        #expect(throws: DockerError.self) { _ = try Self.events([Array("garbage\r\n\r\n".utf8)]) }
        #expect(throws: DockerError.self) {
            _ = try Self.events([Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)])
        }
    }

    @Test func hijackKeepsBytesThatArriveWithTheHead() throws {
        var parser = HTTPResponseParser(stopAfterHead: true)
        parser.append(Array("HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".utf8) + [1, 0, 0, 0, 0, 0, 0, 2, 104, 105])
        guard case .head(let head) = try parser.next() else {
            Issue.record("no head")
            return
        }
        #expect(head.status == 101)
        #expect(try parser.next() == nil)
        #expect(parser.takeRemainingBytes() == [1, 0, 0, 0, 0, 0, 0, 2, 104, 105])
        // Error answers to a hijack request keep their normal body.
        let error = try Self.events(
            [Array("HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n{\"message\":\"No such exec\"}\n".utf8)],
            parser: HTTPResponseParser(stopAfterHead: true))
        #expect(error.ended && error.body.count == 27)
        #expect(
            DockerClient.apiError(status: 404, body: error.body, path: "/exec/x/start")
                == .api(status: 404, message: "No such exec", path: "/exec/x/start"))
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
