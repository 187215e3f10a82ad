import CodeRunnerServer
import CodeRunnerTesting
import Foundation
import ServerTestSupport
import Testing

@testable import CodeRunnerCore

/// `serve`'s protocol flows end to end over real sockets, on `InMemoryEngine` with its fake agent (no Docker): a run
/// with its output and exit, input, stop, a set-up failure, `/api/run`, the session cap, and what a disconnect leaves
/// (nothing). Programs are `FakeProgram` scripts in a `.py` file.
@Suite("serve flows on the fake engine")
struct ServerFlowTests {
    static let runtime = FakeRuntimes.python

    static func start(_ engine: InMemoryEngine, _ overrides: [String: String] = [:]) async throws -> TestServer {
        try await TestServer.start(on: engine, overrides: overrides)
    }

    @Test func aRunStreamsItsOutputAndExitAndADisconnectLeavesNothing() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine)
        let client = try await TestWebSocket.connect(port: server.port)
        let hello = try await client.nextJSON()
        #expect(hello["type"] as? String == "hello")
        let (exit, stdout, stderr) = try await client.run("r1", language: "python", files: [("main.py", "print hello\neprint oops\nexit 2")])
        #expect(exit["status"] as? String == "runtime-error" && exit["code"] as? Int == 2, "\(exit)")
        #expect(stdout == "hello\n" && stderr == "oops\n")
        // The session keeps its container between runs, and each run starts in an empty work directory.
        let (_, listed, _) = try await client.run("r2", language: "python", files: [("other.py", "files")], entry: "other.py")
        #expect(listed == "other.py\n", "\(listed)")
        #expect(await engine.programContainersMade == 1)
        client.close()
        await expectNothingLeft(engine)
        try await server.stop()
    }

    @Test func inputAndStopReachTheProgram() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine)
        let client = try await TestWebSocket.connect(port: server.port)
        _ = try await client.nextJSON()
        client.send(json: ["type": "run", "id": "echo", "files": [["path": "main.py", "content": "echo-input\nprint bye"]]])
        client.send(json: ["type": "input", "id": "echo", "data": "line one\n"])
        client.send(json: ["type": "input", "id": "echo", "eof": true])
        let (exit, before) = try await client.waitFor("exit", id: "echo")
        let printed = before.filter { $0["type"] as? String == "output" }.compactMap { $0["data"] as? String }.joined()
        #expect(exit["status"] as? String == "ok" && printed == "line one\nbye\n", "\(exit) \(printed)")

        client.send(json: ["type": "run", "id": "forever", "files": [["path": "main.py", "content": "hang"]]])
        try await Task.sleep(for: .milliseconds(100))
        client.send(json: ["type": "stop", "id": "forever"])
        let (stopped, _) = try await client.waitFor("exit", id: "forever", timeout: .seconds(20))
        #expect(stopped["status"] as? String == "stopped", "\(stopped)")
        client.close()
        await expectNothingLeft(engine)
        try await server.stop()
    }

    /// A failure of the engine while a run is set up is that run's `internal-error`; the connection goes on.
    @Test func aSetUpFailureIsThatRunsInternalErrorAndTheConnectionGoesOn() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine)
        let client = try await TestWebSocket.connect(port: server.port)
        _ = try await client.nextJSON()
        await engine.failNextProgramContainer(with: .api("no room for a container (the test's)"))
        let (failed, _, _) = try await client.run("r1", language: "python", files: [("main.py", "print never")])
        #expect(failed["status"] as? String == "internal-error", "\(failed)")
        #expect((failed["message"] as? String)?.contains("the test's") == true, "\(failed)")
        let (ok, stdout, _) = try await client.run("r2", language: "python", files: [("main.py", "print after")])
        #expect(ok["status"] as? String == "ok" && stdout == "after\n", "\(ok)")
        client.close()
        await expectNothingLeft(engine)
        try await server.stop()
    }

    @Test func restRunAnswersWithTheResultAndLeavesNothing() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine)
        let body = #"{"language":"python","files":[{"path":"main.py","content":"print rest\nexit 0"}]}"#
        let reply = try await HTTP.request(port: server.port, "POST", "/api/run", body: body)
        #expect(reply.status == 200, "\(reply.body)")
        let result = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any] ?? [:]
        #expect(result["status"] as? String == "ok" && result["stdout"] as? String == "rest\n", "\(result)")
        await expectNothingLeft(engine)
        try await server.stop()
    }

    /// At `server.maxSessions`, one more connection gets `busy` with the reason and is closed; the sessions there are
    /// unaffected, and once one leaves, a new connection is taken.
    @Test func pastTheSessionCapANewConnectionIsBusyAndOthersAreUnaffected() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine, ["server.maxSessions": "1"])
        let first = try await TestWebSocket.connect(port: server.port)
        _ = try await first.nextJSON()
        let second = try await TestWebSocket.connect(port: server.port)
        let refusal = try await second.nextJSON()
        #expect(refusal["type"] as? String == "error" && refusal["code"] as? String == "busy", "\(refusal)")
        #expect((refusal["message"] as? String)?.contains("server.maxSessions") == true, "\(refusal)")
        let (exit, stdout, _) = try await first.run("r1", language: "python", files: [("main.py", "print still here")])
        #expect(exit["status"] as? String == "ok" && stdout == "still here\n")
        first.close()
        await expectNothingLeft(engine)
        var admitted = false
        for _ in 0..<100 where !admitted {
            let next = try await TestWebSocket.connect(port: server.port)
            admitted = try await next.nextJSON()["type"] as? String == "hello"
            next.close()
            if !admitted { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(admitted, "no connection was taken after the first left")
        try await server.stop()
    }

    /// A graceful shutdown (SIGTERM in `coderunner serve`) with a program running: the run ends, the client is told
    /// and disconnected, every session is cleaned up before the server returns, and new connections are refused meanwhile.
    @Test func aShutdownStopsRunsClosesSessionsAndLeavesNothing() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine)
        let client = try await TestWebSocket.connect(port: server.port)
        _ = try await client.nextJSON()
        client.send(json: ["type": "run", "id": "forever", "files": [["path": "main.py", "content": "print started\nhang"]]])
        _ = try await client.waitFor("output", id: "forever")
        try await server.stop()
        #expect(try await engine.containers(labeled: [ResourceLabel.managed]).isEmpty, "the shutdown left containers")
        var told: [[String: Any]] = []
        while let message = try? await client.nextJSON(timeout: .seconds(5)) { told.append(message) }
        #expect(
            told.contains { $0["type"] as? String == "exit" && $0["id"] as? String == "forever" }
                || told.contains { $0["type"] as? String == "error" && $0["code"] as? String == "shutting-down" }, "\(told)")
        #expect(client.isClosed)
        await #expect(throws: (any Error).self) { _ = try await HTTP.request(port: server.port, "GET", "/health") }
    }

    /// `/metrics` counts what happened on the fake engine as it would on Docker.
    @Test func metricsCountRunsAndSessions() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine)
        let client = try await TestWebSocket.connect(port: server.port)
        _ = try await client.nextJSON()
        _ = try await client.run("r1", language: "python", files: [("main.py", "print 1")])
        let metrics = try await HTTP.request(port: server.port, "GET", "/metrics").body
        #expect(metrics.contains("coderunner_sessions_live 1"), "\(metrics)")
        #expect(
            metrics.split(separator: "\n").contains { $0.hasPrefix("coderunner_runs_total{") && $0.contains("status=\"ok\"") && $0.hasSuffix(" 1") },
            "\(metrics)")
        client.close()
        await expectNothingLeft(engine)
        try await server.stop()
    }
}
