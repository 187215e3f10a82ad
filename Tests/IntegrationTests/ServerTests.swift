import CodeRunnerCore
import CodeRunnerServer
import Foundation
import ServerTestSupport
import Testing

/// `coderunner serve` against the real engine: a live server in this process on port 0, clients over real sockets.
/// Serialized: the tests share Docker and check that nothing is left behind.
@Suite("serve", .serialized, .docker)
struct ServerTests {
    /// Every runtime's example through the native protocol in one connection (one session), then no leftovers.
    @Test func nativeProtocolRunsEveryLanguage() async throws {
        let server = try await TestServer.start()
        let ws = try await TestWebSocket.connect(port: server.port)
        let hello = try await ws.nextJSON()
        #expect(hello["type"] as? String == "hello")
        let catalog = try Live.catalog()
        for runtime in catalog.runtimes {
            let example = runtime.directory + "/" + runtime.manifest.example
            let source = try String(contentsOfFile: example, encoding: .utf8)
            let name = URL(fileURLWithPath: example).lastPathComponent
            let (exit, stdout, stderr) = try await ws.run("ex-\(runtime.language)", language: runtime.language, files: [(name, source)])
            #expect(exit["status"] as? String == "ok", "\(runtime.language): \(exit) stderr: \(stderr)")
            #expect(stdout == runtime.manifest.exampleOutput, "\(runtime.language) printed \(stdout.debugDescription)")
            let timing = exit["timing"] as? [String: Any]
            #expect((timing?["totalMs"] as? Double ?? 0) > 0)
            #expect(exit["memory"] is [String: Any])
        }
        // Several files, an entry, arguments, environment and stdin in one run.
        let (exit, stdout, _) = try await ws.run(
            "multi", language: "python",
            files: [
                (
                    "main.py",
                    "import sys, os\nfrom lib.util import greet\nprint(greet(sys.stdin.read().strip()), sys.argv[1:], os.environ['GREETING'])\n"
                ),
                ("lib/__init__.py", ""), ("lib/util.py", "def greet(n):\n    return 'hi ' + n\n"),
            ],
            entry: "main.py", stdin: "ann\n", extra: ["args": ["a", "b"], "env": ["GREETING": "hey"]])
        #expect(exit["status"] as? String == "ok")
        #expect(stdout == "hi ann ['a', 'b'] hey\n")
        // A failing program: exit code and status.
        let (failed, _, failedErr) = try await ws.run(
            "fail", language: "python", files: [("f.py", "import sys\nprint('bad', file=sys.stderr)\nsys.exit(3)\n")])
        #expect(failed["status"] as? String == "runtime-error")
        #expect(failed["code"] as? Int == 3)
        #expect(failedErr == "bad\n")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Output streams while the program runs, stdin is interactive, stop ends an endless loop.
    @Test func interactiveInputStreamingAndStop() async throws {
        let server = try await TestServer.start()
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        ws.send(json: [
            "type": "run", "id": "ask", "language": "python",
            "files": [
                [
                    "path": "ask.py", "content": "name = input('name? ')\nprint('hello', name)\nline = input()\nprint('and', line)\n",
                ]
            ],
        ])
        let (prompt, _) = try await ws.waitFor("output", id: "ask")
        #expect(prompt["data"] as? String == "name? ")
        ws.send(json: ["type": "input", "id": "ask", "data": "Ada\n"])
        let (greeting, _) = try await ws.waitFor("output", id: "ask")
        #expect(greeting["data"] as? String == "hello Ada\n")
        ws.send(json: ["type": "input", "id": "ask", "data": "more\n"])
        let (exit, before) = try await ws.waitFor("exit", id: "ask")
        #expect(before.compactMap { $0["data"] as? String }.joined() == "and more\n")
        #expect(exit["status"] as? String == "ok")

        // Streaming: the first tick arrives long before the program ends.
        let started = ContinuousClock.now
        ws.send(json: [
            "type": "run", "id": "ticks", "language": "python",
            "files": [
                [
                    "path": "t.py", "content": "import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.7)\n",
                ]
            ],
        ])
        let (first, _) = try await ws.waitFor("output", id: "ticks")
        let firstAt = ContinuousClock.now - started
        #expect((first["data"] as? String)?.hasPrefix("tick 0") == true)
        let (tickExit, _) = try await ws.waitFor("exit", id: "ticks")
        let endAt = ContinuousClock.now - started
        #expect(tickExit["status"] as? String == "ok")
        #expect(endAt - firstAt > .seconds(1), "output was not streamed: first at \(firstAt), end at \(endAt)")

        // Stop an endless loop.
        ws.send(json: [
            "type": "run", "id": "loop", "language": "python", "files": [["path": "l.py", "content": "while True:\n    print('x', flush=True)\n"]],
            "limits": ["outputLimit": "100m"],
        ])
        _ = try await ws.waitFor("output", id: "loop")
        ws.send(json: ["type": "stop", "id": "loop"])
        let (stopped, _) = try await ws.waitFor("exit", id: "loop", timeout: .seconds(20))
        #expect(stopped["status"] as? String == "stopped")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Bad input of every kind gets an error message and the connection keeps working.
    @Test func malformedMessagesGetErrorsAndTheConnectionStaysUsable() async throws {
        let server = try await TestServer.start(["server.maxMessageSize": "64k"])
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        func expectError(_ code: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
            let (error, _) = try await ws.waitFor("error", timeout: .seconds(20))
            #expect(error["code"] as? String == code, "\(error)", sourceLocation: sourceLocation)
            #expect((error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
            return error
        }
        ws.send("this is not json")
        _ = try await expectError("bad-json")
        ws.send("{\"id\": 1}")
        _ = try await expectError("bad-json")
        ws.send("{\"type\": \"launch\"}")
        _ = try await expectError("unknown-type")
        ws.send("{\"type\": \"run\", \"id\": \"r\"}")
        let missing = try await expectError("bad-message")
        #expect((missing["message"] as? String)?.contains("files") == true)
        ws.send(json: ["type": "run", "id": "r", "files": [["path": "../etc/passwd", "content": "x"]], "language": "python"])
        _ = try await expectError("bad-request")
        ws.send(json: ["type": "run", "id": "r", "files": [["path": "a.py", "content": "x"]], "language": "cobol"])
        _ = try await expectError("unknown-language")
        ws.send(json: ["type": "run", "id": "many", "language": "python", "files": (0...100).map { ["path": "f\($0).py", "content": "pass"] }])
        let many = try await expectError("too-many-files")
        #expect(many["id"] as? String == "many")
        ws.send(String(repeating: "x", count: 100_000))
        _ = try await expectError("too-large")
        ws.sendBinary([1, 2, 3])
        _ = try await expectError("bad-message")
        ws.send(json: ["type": "input", "id": "nothing", "data": "x"])
        _ = try await expectError("unknown-run")
        ws.send(json: ["type": "kernel.execute", "code": "1+1"])
        _ = try await expectError("no-kernel")
        // Still usable.
        let (exit, stdout, _) = try await ws.run("after", language: "python", files: [("ok.py", "print('still here')\n")])
        #expect(exit["status"] as? String == "ok")
        #expect(stdout == "still here\n")
        // A stopped session refuses runs, with an error, on the same connection.
        ws.send(json: ["type": "session.end"])
        _ = try await ws.waitFor("session.ended")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        ws.send(json: ["type": "run", "id": "late", "language": "python", "files": [["path": "a.py", "content": "print(1)"]]])
        let late = try await expectError("session-closed")
        #expect(late["id"] as? String == "late")
        ws.close()
        try await server.stop()
    }

    /// With a token set, every route and socket needs it; origins are checked on WebSocket upgrades.
    @Test func tokenAndOriginProtection() async throws {
        let server = try await TestServer.start(["server.token": "s3cret"])
        #expect(try await HTTP.request(port: server.port, "GET", "/health").status == 401)
        #expect(try await HTTP.request(port: server.port, "GET", "/").status == 401)
        #expect(try await HTTP.request(port: server.port, "GET", "/metrics", headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await HTTP.request(port: server.port, "POST", "/api/run", body: "{}").status == 401)
        // A socket without the token is told why and closed; no session is created.
        for headers in [[:], ["Authorization": "Bearer nope"]] {
            let anonymous = try await TestWebSocket.connect(port: server.port, headers: headers)
            let refusal = try await anonymous.nextJSON()
            #expect(refusal["type"] as? String == "error" && refusal["code"] as? String == "unauthorized", "\(refusal)")
            await #expect(throws: TestFailure.self) { _ = try await anonymous.next(timeout: .seconds(5)) }
            anonymous.close()
        }
        #expect(try await HTTP.request(port: server.port, "GET", "/metrics", headers: ["Authorization": "Bearer s3cret"]).status == 200)
        #expect(try await HTTP.request(port: server.port, "GET", "/?token=s3cret").status == 200)
        let ws = try await TestWebSocket.connect(port: server.port, path: "/ws?token=s3cret")
        #expect(try await ws.nextJSON()["type"] as? String == "hello")
        ws.close()
        let header = try await TestWebSocket.connect(port: server.port, headers: ["Authorization": "Bearer s3cret"])
        #expect(try await header.nextJSON()["type"] as? String == "hello")
        header.close()
        // Origin: a foreign page may not open a socket; the server's own page may.
        do {
            _ = try await TestWebSocket.connect(port: server.port, path: "/ws?token=s3cret", headers: ["Origin": "http://evil.example"])
            Issue.record("foreign origin accepted")
        } catch let refused as TestWebSocket.UpgradeRefused {
            #expect(refused.status == 400)  // hummingbird-websocket answers every refused upgrade with 400
        }
        let own = try await TestWebSocket.connect(port: server.port, path: "/ws?token=s3cret", headers: ["Origin": "http://127.0.0.1:\(server.port)"])
        #expect(try await own.nextJSON()["type"] as? String == "hello")
        own.close()
        try await server.stop()
    }

    /// REST one-shot run, health and metrics.
    @Test func restHealthAndMetrics() async throws {
        let server = try await TestServer.start()
        let health = try await HTTP.request(port: server.port, "GET", "/health")
        #expect(health.status == 200, "\(health.body)")
        #expect(health.body.contains("\"status\":\"ok\""))
        let body = #"{"language":"python","files":[{"path":"main.py","content":"import sys\nprint(sys.stdin.read().upper())"}],"stdin":"shout"}"#
        let reply = try await HTTP.request(port: server.port, "POST", "/api/run", body: body)
        #expect(reply.status == 200, "\(reply.body)")
        let result = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any] ?? [:]
        #expect(result["status"] as? String == "ok")
        #expect(result["stdout"] as? String == "SHOUT\n")
        #expect(result["exitCode"] as? Int == 0)
        #expect(result["stages"] is [Any])
        let bad = try await HTTP.request(port: server.port, "POST", "/api/run", body: "{\"files\": 3}")
        #expect(bad.status == 400)
        #expect(bad.body.contains("files"))
        // A plain GET of a WebSocket route is refused, not answered 200 (which would keep the request's context in
        // hummingbird-websocket's retain cycle; see WebSocketReferenceHolder).
        #expect(try await HTTP.request(port: server.port, "GET", "/ws").status == 405)
        #expect(try await HTTP.request(port: server.port, "GET", "/socket.io/?EIO=4&transport=websocket").status == 405)
        let page = try await HTTP.request(port: server.port, "GET", "/")
        #expect(page.status == 200)
        #expect(page.body.contains("<textarea id=\"editor\""))
        #expect(!page.body.contains("http://") && !page.body.contains("https://"), "the page must not load anything from elsewhere")
        // A WebSocket session: its first run leases a network (the REST run above is a one-shot, with none).
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        let (exit, stdout, _) = try await ws.run("first", language: "python", files: [("ok.py", "print('first')\n")])
        #expect(exit["status"] as? String == "ok" && stdout == "first\n", "\(exit)")
        ws.close()
        // The connection's end is noticed a moment later.
        var metrics = try await HTTP.request(port: server.port, "GET", "/metrics")
        for _ in 0..<50 where !metrics.body.contains("coderunner_sessions_live 0") {
            try await Task.sleep(for: .milliseconds(100))
            metrics = try await HTTP.request(port: server.port, "GET", "/metrics")
        }
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("coderunner_runs_total{language=\"python\",status=\"ok\"} 2"), "\(metrics.body)")
        #expect(metrics.body.contains("coderunner_run_duration_seconds_bucket{language=\"python\",le=\"+Inf\"} 2"))
        #expect(metrics.body.contains("coderunner_first_run_duration_seconds_count{language=\"python\"} 1"), "\(metrics.body)")
        #expect(metrics.body.contains("coderunner_network_leases_total 1"), "\(metrics.body)")
        #expect(metrics.body.contains("coderunner_networks_ready ") && metrics.body.contains("coderunner_networks_leased "))
        #expect(metrics.body.contains("# TYPE coderunner_standby_containers gauge"))
        #expect(metrics.body.contains("coderunner_sessions_live 0"))
        #expect(metrics.body.contains("coderunner_containers "))
        #expect(metrics.body.contains("coderunner_subnets_used "))
        #expect(metrics.body.contains("coderunner_cleanup_errors_total 0"))
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Issue 12: when every session network of the pools is held, a new session's run is answered `busy` with the
    /// reason (naming the pools), the session that holds the network is unaffected, and `pool` says the pool is full.
    @Test func aFullPoolAnswersBusy() async throws {
        let pool = "10.99.31.0/24"
        let privatePool = try await Live.privatePool(pool)
        // A serve process of its own: the pools are the engine's setting, which the in-process test server shares.
        let server = try ServeProcess(port: try ServeAbuseTests.freePort(), environment: privatePool.environment)
        defer { server.process.send(SIGKILL) }
        try await server.waitUntilHealthy()
        let first = try await TestWebSocket.connect(port: server.port)
        _ = try await first.nextJSON()
        let (held, heldOut, _) = try await first.run("held", language: "python", files: [("a.py", "print('held')\n")])
        #expect(held["status"] as? String == "ok" && heldOut == "held\n", "\(held)")
        let second = try await TestWebSocket.connect(port: server.port)
        _ = try await second.nextJSON()
        second.send(json: ["type": "run", "id": "refused", "language": "python", "files": [["path": "b.py", "content": "print(1)\n"]]])
        let answer = try await second.waitFor("error", id: "refused").match
        #expect(answer["code"] as? String == "busy", "\(answer)")
        #expect((answer["message"] as? String ?? "").contains(pool), "the reason should name the pool: \(answer)")
        let shown = try Live.cli(["pool"], environment: ["CODERUNNER_NETWORK_POOLS": pool])
        #expect(shown.stdout.contains("full: new sessions are refused"), "\(shown.stdout)")
        let (again, againOut, _) = try await first.run("again", language: "python", files: [("a.py", "print('still')\n")])
        #expect(again["status"] as? String == "ok" && againOut == "still\n", "the holder was affected: \(again)")
        first.close()
        second.close()
        server.process.send(SIGTERM)
        #expect(await server.process.finish(timeout: .seconds(30)) == 0, "\(server.process.stderrText.suffix(2000))")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await privatePool.removeNetworks()
    }

    /// A connection's first run takes a session made ready ahead of need (`server.standby`): it runs in that session's
    /// container (its PID 1 is the agent started with `--unused-ttl`), the server makes another, the connection's later
    /// runs stay in the taken session, and a disconnect removes it.
    @Test func aConnectionsFirstRunTakesAReadySession() async throws {
        let server = try ServeProcess(
            port: try ServeAbuseTests.freePort(),
            environment: [
                "CODERUNNER_SERVER_STANDBY": "python=1", "CODERUNNER_SERVER_STANDBY_MAX_AGE": "10m",
            ])
        defer { server.process.send(SIGKILL) }
        try await server.waitUntilHealthy()
        func metric(_ line: String) async throws -> Int? {
            let body = try await HTTP.request(port: server.port, "GET", "/metrics").body
            return body.split(separator: "\n").first { $0.hasPrefix(line + " ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
        }
        func readySessions() async throws -> [ContainerInfo] {  // this server's (other suites may run servers too)
            try await Live.engine().containers(labeled: [ResourceLabel.serveStandby, "\(ResourceLabel.ownerPID)=\(server.process.pid)"])
                .filter { $0.state == "running" }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while try await metric("coderunner_ready_sessions{language=\"python\"}") != 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let ready = try await readySessions()
        try #require(ready.count == 1, "no ready session was made: \(server.process.stderrText.suffix(2000))")
        let readySession = try #require(ready[0].labels[ResourceLabel.session])

        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        let program = "print(b'--unused-ttl' in open('/proc/1/cmdline', 'rb').read())\n"
        let (first, firstOut, _) = try await ws.run("first", language: "python", files: [("a.py", program)])
        #expect(first["status"] as? String == "ok" && firstOut == "True\n", "the first run did not run in the ready session: \(first) \(firstOut)")
        #expect(try await metric("coderunner_ready_sessions_taken_total") == 1)
        let (second, secondOut, _) = try await ws.run("second", language: "python", files: [("a.py", program)])
        #expect(second["status"] as? String == "ok" && secondOut == "True\n", "the second run left the taken session: \(second)")
        // A new one is made for the next connection; the taken one is this connection's alone.
        while try await metric("coderunner_ready_sessions{language=\"python\"}") != 1, ContinuousClock.now < deadline + .seconds(30) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let replacement = try await readySessions().compactMap { $0.labels[ResourceLabel.session] }.filter { $0 != readySession }
        #expect(replacement.count == 1, "\(replacement)")
        ws.close()
        let gone = ContinuousClock.now + .seconds(30)
        while try await !Live.engine().containers(labeled: ["\(ResourceLabel.session)=\(readySession)"]).isEmpty, ContinuousClock.now < gone {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(
            try await Live.engine().containers(labeled: ["\(ResourceLabel.session)=\(readySession)"]).isEmpty,
            "the taken session outlived its connection")
        server.process.send(SIGTERM)
        #expect(await server.process.finish(timeout: .seconds(30)) == 0, "\(server.process.stderrText.suffix(2000))")
        try await Live.expectNoLeaks(timeout: .seconds(30))
    }

    /// Caps answer with `busy` instead of hanging: concurrent runs per session, global runs, sessions per client.
    @Test func capsAnswerBusy() async throws {
        let server = try await TestServer.start([
            "server.maxRunsPerSession": "1", "server.maxConcurrentRuns": "1", "server.maxSessionsPerClient": "2",
        ])
        let first = try await TestWebSocket.connect(port: server.port)
        _ = try await first.nextJSON()
        first.send(json: [
            "type": "run", "id": "long", "language": "python",
            "files": [["path": "s.py", "content": "import time\nprint('up', flush=True)\ntime.sleep(30)\n"]],
        ])
        _ = try await first.waitFor("output", id: "long")
        first.send(json: ["type": "run", "id": "second", "language": "python", "files": [["path": "a.py", "content": "print(1)"]]])
        let (sessionBusy, _) = try await first.waitFor("error", id: "second")
        #expect(sessionBusy["code"] as? String == "busy")
        let other = try await TestWebSocket.connect(port: server.port)
        _ = try await other.nextJSON()
        other.send(json: ["type": "run", "id": "x", "language": "python", "files": [["path": "a.py", "content": "print(1)"]]])
        let (globalBusy, _) = try await other.waitFor("error", id: "x")
        #expect(globalBusy["code"] as? String == "busy")
        #expect((globalBusy["message"] as? String)?.contains("server.maxConcurrentRuns") == true)
        let third = try await TestWebSocket.connect(port: server.port)
        let refused = try await third.nextJSON()
        #expect(refused["type"] as? String == "error" && refused["code"] as? String == "busy", "\(refused)")
        third.close()
        first.send(json: ["type": "stop", "id": "long"])
        _ = try await first.waitFor("exit", id: "long")
        first.close()
        other.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// SIGTERM-style shutdown with a run going and no grace (`server.drainGrace` 0s; DrainTests covers the grace): the
    /// client is told, the run stops, the session is cleaned up.
    @Test func gracefulShutdownCleansUp() async throws {
        let server = try await TestServer.start(["server.drainGrace": "0s"])
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        ws.send(json: [
            "type": "run", "id": "long", "language": "python",
            "files": [["path": "s.py", "content": "import time\nprint('up', flush=True)\ntime.sleep(60)\n"]],
        ])
        _ = try await ws.waitFor("output", id: "long")
        let started = ContinuousClock.now
        try await server.stop()
        #expect(ContinuousClock.now - started < .seconds(20))
        let (exit, _) = try await ws.waitFor("exit", id: "long", timeout: .seconds(5))
        #expect(exit["status"] as? String == "stopped")
        try await Live.expectNoLeaks()
        ws.close()
    }

    /// The web page in headless Chromium: type a program, run it, see streamed output, send input, stop an endless loop.
    @Test func webPageInHeadlessChromium() async throws {
        let server = try await TestServer.start()
        let result = try await Live.script("browser_check.py", ["--url", server.baseURL + "/"])
        #expect(result.status == 0, "browser_check.py failed:\n\(result.stdout)\n\(result.stderr)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }
}
