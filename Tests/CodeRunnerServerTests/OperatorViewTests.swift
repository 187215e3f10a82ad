import CodeRunnerTesting
import Foundation
import ServerTestSupport
import Testing

@testable import CodeRunnerCore
@testable import CodeRunnerServer

/// `GET /api/operator` on the fake engine (no Docker): behind the token, a live session with its run and container,
/// and a refused request among the recent errors.
@Suite("operator view")
struct OperatorViewTests {
    static func json(_ reply: HTTP.Reply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any], "\(reply.body)")
    }

    @Test func theEndpointNeedsTheTokenAndListsALiveSessionItsRunAndItsErrors() async throws {
        let engine = InMemoryEngine()
        let server = try await ServerFlowTests.start(engine, ["server.token": "tok"])
        let anonymous = try await HTTP.request(port: server.port, "GET", "/api/operator")
        #expect(anonymous.status == 401, "\(anonymous.status)")

        let client = try await TestWebSocket.connect(port: server.port, path: "/ws?token=tok")
        let hello = try await client.nextJSON()
        let name = try #require(hello["session"] as? String)
        let (first, _, _) = try await client.run("r1", language: "python", files: [("main.py", "print hi")])
        #expect(first["status"] as? String == "ok", "\(first)")
        client.send(json: ["type": "run", "id": "long", "files": [["path": "main.py", "content": "hang"]]])
        client.send(json: ["type": "stop", "id": "no-such-run"])
        _ = try await client.waitFor("error")

        var session: [String: Any] = [:]
        var report: [String: Any] = [:]
        for _ in 0..<100 {
            report = try Self.json(try await HTTP.request(port: server.port, "GET", "/api/operator", headers: ["Authorization": "Bearer tok"]))
            let sessions = report["sessions"] as? [[String: Any]] ?? []
            session = sessions.first { $0["name"] as? String == name } ?? [:]
            if session["runs"] as? Int == 1 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(session["runIDs"] as? [String] == ["long"], "\(report)")
        #expect(session["touchedEngine"] as? Bool == true && session["kind"] as? String == "websocket", "\(session)")
        let containers = session["containers"] as? [[String: Any]] ?? []
        #expect(containers.count == 1 && containers.first?["language"] as? String == "python", "\(session)")
        #expect(session["network"] is String, "\(session)")
        let node = report["node"] as? [String: Any] ?? [:]
        #expect(node["sessions"] as? Int == 1 && node["runs"] as? Int == 1 && node["draining"] as? Bool == false, "\(node)")
        #expect(report["pool"] is [String: Any], "\(report)")
        let runs = report["runs"] as? [String: Any] ?? [:]
        #expect((runs["byStatus"] as? [String: Int])?["ok"] == 1 && runs["runsLastMinute"] as? Int == 1, "\(runs)")
        let errors = report["recentErrors"] as? [[String: Any]] ?? []
        #expect(errors.contains { $0["session"] as? String == name && $0["code"] as? String == "unknown-run" }, "\(errors)")
        #expect(errors.contains { $0["code"] as? String == "unauthorized" }, "the refused request is there too: \(errors)")

        client.send(json: ["type": "stop", "id": "long"])
        _ = try await client.waitFor("exit", id: "long", timeout: .seconds(20))
        client.close()
        await expectNothingLeft(engine)
        try await server.stop()
    }

    @Test func recentErrorsKeepTheLastFifty() {
        let errors = RecentErrors()
        for index in 0..<60 { errors.record(session: "s", code: "c\(index)", message: String(repeating: "x", count: 1000)) }
        let entries = errors.entries
        #expect(entries.count == 50 && entries.first?.code == "c10" && entries.last?.code == "c59")
        #expect(entries.allSatisfy { $0.message.count == 500 })
    }

    @Test func percentilesComeFromTheBuckets() {
        var histogram = ServerMetrics.Histogram()
        for _ in 0..<90 { histogram.add(0.04) }
        for _ in 0..<10 { histogram.add(3) }
        let latency = ServerMetrics.latency(histogram)
        #expect(latency.p50Seconds == 0.05 && latency.p95Seconds == 5 && latency.count == 100)
        #expect(ServerMetrics.latency(ServerMetrics.Histogram()).p50Seconds == nil)
    }
}
