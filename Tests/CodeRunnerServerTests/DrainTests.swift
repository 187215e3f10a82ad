import CodeRunnerServer
import CodeRunnerTesting
import Foundation
import ServerTestSupport
import Testing

@testable import CodeRunnerCore

/// A node of a fleet (no Docker): what it tells HAProxy's agent-check, and how it drains (SIGTERM or
/// `POST /admin/drain`): `drain` at once, no new sessions or runs, running programs finish within `server.drainGrace`,
/// sessions closed with 1012 so clients reconnect elsewhere, nothing left behind.
@Suite("draining and the agent-check")
struct DrainTests {
    @Test(arguments: [
        (NodeCapacity(maxSessions: 1000, subnets: 4352, maxRuns: 64), "up ready 100%\n"),
        (NodeCapacity(sessions: 250, maxSessions: 1000, subnets: 4352, maxRuns: 64), "up ready 75%\n"),
        (NodeCapacity(sessions: 10, maxSessions: 1000, subnets: 4352, runs: 60, maxRuns: 64), "up ready 6%\n"),  // run slots bind
        (NodeCapacity(sessions: 90, maxSessions: 1000, subnets: 100, maxRuns: 64), "up ready 10%\n"),  // subnets bind
        (NodeCapacity(sessions: 999, maxSessions: 1000, subnets: 4352, maxRuns: 64), "up ready 1%\n"),  // room left: never 0
        (NodeCapacity(sessions: 1000, maxSessions: 1000, subnets: 4352, maxRuns: 64), "up ready 0%\n"),  // full
        (NodeCapacity(draining: true, sessions: 5, maxSessions: 1000, subnets: 4352, maxRuns: 64), "drain #draining\n"),
        (
            NodeCapacity(draining: true, engineReachable: false, maxSessions: 1000, subnets: 4352, maxRuns: 64),
            "down #the container engine does not answer\n"
        ),
    ])
    func agentCheckAnswers(_ capacity: NodeCapacity, _ reply: String) {
        #expect(capacity.agentReply == reply)
    }

    static func start(_ engine: InMemoryEngine, _ overrides: [String: String]) async throws -> TestServer {
        try await TestServer.start(on: engine, overrides: overrides)
    }

    /// One agent-check exchange: connect, read the line, the server closes.
    static func agentReply(_ server: TestServer) async throws -> String {
        var port: Int?
        for _ in 0..<100 where port == nil {
            port = server.server.agentCheckPort
            if port == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        let socket = try RawSocket(port: try #require(port), timeoutSeconds: 5)
        defer { socket.closeSocket() }
        var reply: [UInt8] = []
        while !reply.contains(UInt8(ascii: "\n")) {
            let chunk = await offPool { socket.read() }
            if chunk.isEmpty { break }
            reply += chunk
        }
        return String(decoding: reply, as: UTF8.self)
    }

    @Test func aDrainingNodeSaysDrainLetsItsRunFinishAndClosesWith1012() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine, ["server.agentCheckPort": "0", "server.drainGrace": "20s"])
        #expect(try await Self.agentReply(server) == "up ready 100%\n")
        let client = try await TestWebSocket.connect(port: server.port)
        _ = try await client.nextJSON()
        client.send(json: ["type": "run", "id": "slow", "files": [["path": "main.py", "content": "print started\nsleep 1500\nprint done"]]])
        _ = try await client.waitFor("output", id: "slow")
        #expect(try await Self.agentReply(server).hasPrefix("up ready 98%"))  // one run slot of 64 in use

        let stopping = Task { try await server.stop() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await Self.agentReply(server) == "drain #draining\n")
        let late = try await HTTP.request(port: server.port, "GET", "/health")
        #expect(late.status == 503, "a draining node takes no new work: \(late.status)")
        // A new WebSocket is accepted and closed at once with 1012 (a refused upgrade could only be a bare 400, which
        // neither clients nor HAProxy retry), so the client reconnects elsewhere.
        let newcomer = try await TestWebSocket.connect(port: server.port)
        let refusal = try await newcomer.nextJSON()
        #expect(refusal["code"] as? String == "shutting-down", "\(refusal)")
        for _ in 0..<100 where newcomer.receivedCloseCode == nil { try await Task.sleep(for: .milliseconds(20)) }
        #expect(newcomer.receivedCloseCode == 1012)
        client.send(json: ["type": "run", "id": "refused", "files": [["path": "main.py", "content": "print never"]]])

        let (exit, before) = try await client.waitFor("exit", id: "slow", timeout: .seconds(15))
        let printed = before.filter { $0["type"] as? String == "output" }.compactMap { $0["data"] as? String }.joined()
        #expect(exit["status"] as? String == "ok" && printed.contains("done"), "the running program finished: \(exit) \(printed)")
        try await stopping.value
        for _ in 0..<100 where client.receivedCloseCode == nil { try await Task.sleep(for: .milliseconds(20)) }
        #expect(client.receivedCloseCode == 1012, "closed with service restart: \(String(describing: client.receivedCloseCode))")
        await expectNothingLeft(engine)
    }

    @Test func pastTheGraceRunsAreStopped() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine, ["server.drainGrace": "300ms"])
        let client = try await TestWebSocket.connect(port: server.port)
        _ = try await client.nextJSON()
        client.send(json: ["type": "run", "id": "forever", "files": [["path": "main.py", "content": "print up\nhang"]]])
        _ = try await client.waitFor("output", id: "forever")
        let started = ContinuousClock.now
        try await server.stop()
        #expect(ContinuousClock.now - started < .seconds(10))
        let (exit, _) = try await client.waitFor("exit", id: "forever", timeout: .seconds(5))
        #expect(exit["status"] as? String == "stopped", "\(exit)")
        await expectNothingLeft(engine)
    }

    @Test func adminDrainNeedsTheTokenAndJSON() async throws {
        let engine = InMemoryEngine()
        let server = try await Self.start(engine, ["server.token": "tok", "server.drainGrace": "1s"])
        let anonymous = try await HTTP.request(port: server.port, "POST", "/admin/drain", body: "{}", headers: ["Content-Type": "application/json"])
        #expect(anonymous.status == 401)
        let form = try await HTTP.request(
            port: server.port, "POST", "/admin/drain", body: "{}", headers: ["Authorization": "Bearer tok", "Content-Type": "text/plain"])
        #expect(form.status == 415)
        let foreign = try await HTTP.request(
            port: server.port, "POST", "/admin/drain", body: "{}",
            headers: ["Authorization": "Bearer tok", "Content-Type": "application/json", "Origin": "http://evil.example"])
        #expect(foreign.status == 403)
        let drain = try await HTTP.request(
            port: server.port, "POST", "/admin/drain", body: "{}", headers: ["Authorization": "Bearer tok", "Content-Type": "application/json"])
        #expect(drain.status == 202 && drain.body.contains("\"status\":\"draining\""), "\(drain.status) \(drain.body)")
        try await server.task.value  // the server drains and stops by itself
        await expectNothingLeft(engine)
    }
}
