import CodeRunnerCore
import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 17's server findings, each through every door it applies to (`/ws`, Socket.IO, `/api/run`), against the real
/// engine. Each test failed on the code before the fix (see the comments for what happened then).
@Suite("serve security (issue 17)", .serialized, .docker)
struct ServeSecurityTests {
    static let sleeper = "import time\ntime.sleep(4)\nprint('ran to the end', flush=True)\n"

    static func post(_ port: Int, _ object: [String: Any], headers: [String: String] = [:]) async throws -> (status: Int, body: [String: Any]) {
        let data = try JSONSerialization.data(withJSONObject: object)
        let reply = try await HTTP.request(port: port, "POST", "/api/run", body: String(decoding: data, as: UTF8.self), headers: headers)
        let body = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
        return (reply.status, body ?? ["raw": reply.body])
    }

    static func python(_ program: String, limits: [String: Any]? = nil) -> [String: Any] {
        var message: [String: Any] = ["language": "python", "files": [["path": "main.py", "content": program]]]
        if let limits { message["limits"] = limits }
        return message
    }

    /// Finding 1: a limit of 0 (or one that rounds to 0, or a negative one clamped to 0) switched the limit off. Before
    /// the fix `timeout: "0s"` let a 4 s program run to `ok` under a 2 s server limit, and `outputLimit: 0` returned
    /// everything. Socket.IO's `run` carries no limits, so that door has nothing to switch off.
    @Test func aZeroOrNegativeLimitIsRefusedNotUnlimited() async throws {
        let server = try await TestServer.start(["runtime.python.timeout": "2s"])
        let refused: [[String: Any]] = [
            ["timeout": "0s"], ["timeout": "0.0004s"], ["timeout": 0], ["timeout": -5], ["timeout": 0.5], ["timeout": "soon"],
            ["outputLimit": 0], ["outputLimit": -1], ["outputLimit": "0k"], ["outputLimit": 0.4],
            ["memory": 0], ["memory": -1], ["memory": "0m"], ["cpus": 0], ["cpus": -1], ["cpus": 1e-12],
            ["pids": 0], ["fileSize": 0],
        ]
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        for (index, limits) in refused.enumerated() {
            let id = "zero\(index)"
            ws.send(json: [
                "type": "run", "id": id, "language": "python", "stdin": "", "limits": limits,
                "files": [["path": "main.py", "content": Self.sleeper]],
            ])
            var answer: [String: Any] = [:]
            while true {
                answer = try await ws.nextJSON(timeout: .seconds(60))
                if answer["id"] as? String == id, ["error", "exit"].contains(answer["type"] as? String ?? "") { break }
            }
            #expect(answer["type"] as? String == "error" && answer["code"] as? String == "bad-request", "/ws limits \(limits): \(answer)")
            #expect((answer["message"] as? String)?.contains("limits.") == true, "\(answer)")

            let (status, body) = try await Self.post(server.port, Self.python(Self.sleeper, limits: limits))
            #expect(status == 400 && body["code"] as? String == "bad-request", "/api/run limits \(limits): \(status) \(body)")
        }
        // A limit that tightens still works, and the server's limit holds without one.
        let tight = try await ws.run(
            "tight", language: "python", files: [("main.py", Self.sleeper)], stdin: "", extra: ["limits": ["timeout": "500ms"]])
        #expect(tight.exit["status"] as? String == "timeout", "\(tight.exit)")
        let (status, capped) = try await Self.post(server.port, Self.python("print('x' * 5000)\n", limits: ["outputLimit": 100]))
        #expect(status == 200 && capped["status"] as? String == "output-limit" && (capped["stdout"] as? String)?.utf8.count == 100, "\(capped)")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Finding 2: `/api/run` ignored server.maxSessionsPerClient and server.runsPerMinute (both were only counted for
    /// WebSockets): a second request from the same address ran while the first was still going.
    @Test func restRunsCountAsSessionsAndAreRateLimited() async throws {
        let server = try await TestServer.start(["server.maxSessionsPerClient": "1", "server.runsPerMinute": "3"])
        let long = Task { () async throws -> String in
            let (status, body) = try await Self.post(server.port, Self.python("import time\nprint('up', flush=True)\ntime.sleep(3)\n"))
            return "\(status) \(body["status"] as? String ?? "\(body)")"
        }
        try await Self.waitForContainers(1)
        let (status, body) = try await Self.post(server.port, Self.python("print(1)\n"))
        #expect(status == 503 && body["code"] as? String == "busy", "a second request from the address: \(status) \(body)")
        // A WebSocket of the same address is refused too while the REST run holds the address's only slot.
        let ws = try await TestWebSocket.connect(port: server.port)
        let refusal = try await ws.nextJSON()
        #expect(refusal["type"] as? String == "error" && refusal["code"] as? String == "busy", "\(refusal)")
        let first = try await long.value
        #expect(first == "200 ok", "\(first)")

        // server.runsPerMinute = 3: the first request above was one, two more pass, the fourth is rate-limited.
        for _ in 0..<2 {
            let (status, body) = try await Self.post(server.port, Self.python("print(1)\n"))
            #expect(status == 200 && body["status"] as? String == "ok", "\(status) \(body)")
        }
        let (limited, limitedBody) = try await Self.post(server.port, Self.python("print(1)\n"))
        #expect(limited == 429 && limitedBody["code"] as? String == "rate-limited", "\(limited) \(limitedBody)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Finding 2: a request whose client went away kept its run (and run slot) to the end. Now the run is stopped
    /// within seconds and its container and network removed.
    @Test func aRestRunStopsWhenItsClientGoesAway() async throws {
        let server = try await TestServer.start(["runtime.python.timeout": "120s"])
        let body = try JSONSerialization.data(withJSONObject: Self.python("import time\nprint('up', flush=True)\ntime.sleep(100)\n"))
        let socket = try RawSocket(port: server.port)
        socket.write(
            Array(
                "POST /api/run HTTP/1.1\r\nHost: 127.0.0.1:\(server.port)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
                    .utf8) + Array(body))
        try await Self.waitForContainers(1)
        socket.closeSocket()
        let gone = ContinuousClock.now
        while try await !Self.ownedContainers(getpid()).isEmpty, ContinuousClock.now - gone < .seconds(20) {
            try await Task.sleep(for: .milliseconds(200))
        }
        let left = try await Self.ownedContainers(getpid())
        #expect(left.isEmpty, "the abandoned run kept going: \(left)")
        // The run slot is given back right after the clean-up that removed the container.
        var metrics = try await HTTP.request(port: server.port, "GET", "/metrics")
        while !metrics.body.contains("coderunner_runs_active 0"), ContinuousClock.now - gone < .seconds(25) {
            try await Task.sleep(for: .milliseconds(200))
            metrics = try await HTTP.request(port: server.port, "GET", "/metrics")
        }
        #expect(metrics.body.contains("coderunner_runs_active 0"), "\(metrics.body.split(separator: "\n").filter { $0.contains("runs_active") })")
        try await server.stop()
    }

    /// Finding 2: SIGTERM left `/api/run` runs' containers and networks up (the drain only knew WebSocket sessions).
    /// No drain grace here (`server.drainGrace` 0s), so the run is stopped at once; DrainTests covers the grace.
    @Test func sigtermStopsAndRemovesRestRuns() async throws {
        let port = try ServeAbuseTests.freePort()
        let serve = try ServeProcess(port: port, environment: ["CODERUNNER_SERVER_DRAIN_GRACE": "0s"])
        defer { serve.process.send(SIGKILL) }
        try await serve.waitUntilHealthy()
        let long = Task { () async -> String? in
            guard
                let (status, body) = try? await Self.post(
                    port, Self.python("import time\nprint('up', flush=True)\ntime.sleep(100)\n", limits: ["timeout": "60s"]))
            else { return nil }
            return "\(status) \(body["status"] as? String ?? "\(body)")"
        }
        try await Self.waitForContainers(1, owner: serve.process.pid)
        serve.process.send(SIGTERM)
        #expect(await serve.process.finish(timeout: .seconds(30)) == 0, "\(serve.process.stderrText.suffix(2000))")
        let answer = await long.value
        #expect(answer == nil || answer == "200 stopped", "\(String(describing: answer))")
        let containers = try await Self.ownedContainers(serve.process.pid)
        let networks = try await Self.ownedNetworks(serve.process.pid)
        #expect(containers.isEmpty && networks.isEmpty, "left after SIGTERM: \(containers) \(networks)")
    }

    /// Finding 5: Socket.IO counted a socket as a session before it authenticated: token-less sockets (no CONNECT, or a
    /// wrong token) filled server.maxSessionsPerClient and locked the real user out. Now only an authenticated CONNECT
    /// is counted, and a socket without one is closed after server.handshakeTimeout.
    @Test func socketIOSessionsCountOnlyOnceAuthenticated() async throws {
        let server = try await TestServer.start(["server.token": "s3cret", "server.maxSessionsPerClient": "2", "server.handshakeTimeout": "1s"])
        var squatters: [TestWebSocket] = []
        for index in 0..<4 {
            let socket = try await TestWebSocket.connect(port: server.port, path: "/socket.io/?EIO=4&transport=websocket")
            let open = try await socket.next()
            #expect(open.hasPrefix("0{"), "\(open)")
            if index % 2 == 1 {
                socket.send("40{\"token\":\"wrong\"}")
                let refused = try await socket.next()
                #expect(refused.hasPrefix("44") && refused.contains("unauthorized"), "\(refused)")
            }
            squatters.append(socket)
        }
        let user = try await Self.socketIOConnect(port: server.port, token: "s3cret")
        user.send(
            "42[\"run\",{\"sessionId\":\"c1\",\"language\":\"python\",\"files\":[{\"name\":\"m.py\",\"content\":\"print('hi')\",\"toBeExec\":true}]}]"
        )
        let exit = try await Self.socketIOEvent(user, "exit")
        #expect(exit.contains("\"code\":0"), "\(exit)")
        // The squatters are closed by the handshake timeout.
        try await Task.sleep(for: .seconds(2))
        let open = squatters.filter { !$0.isClosed }.count
        #expect(open == 0, "sockets without a successful CONNECT stayed open")
        // Two authenticated sessions fill the address's slots; the third authenticated CONNECT is refused.
        let second = try await Self.socketIOConnect(port: server.port, token: "s3cret")
        let third = try await TestWebSocket.connect(port: server.port, path: "/socket.io/?EIO=4&transport=websocket")
        _ = try await third.next()
        third.send("40{\"token\":\"s3cret\"}")
        let busy = try await third.next()
        #expect(busy.hasPrefix("44") && busy.contains("busy"), "\(busy)")
        for socket in [user, second, third] + squatters { socket.close() }
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Finding 6: DNS rebinding. A WebSocket with `Host: attacker.example:PORT` and a matching Origin was accepted on
    /// /ws and /socket.io/, and every route answered any Host.
    @Test func aForeignHostIsRefusedOnEveryRoute() async throws {
        let server = try await TestServer.start(["server.allowedHosts": "coderunner.test"])
        let foreign = ["Host": "attacker.example:\(server.port)", "Origin": "http://attacker.example:\(server.port)"]
        for path in ["/ws", "/socket.io/?EIO=4&transport=websocket"] {
            do {
                let socket = try await TestWebSocket.connect(port: server.port, path: path, headers: foreign)
                socket.close()
                Issue.record("\(path) accepted a WebSocket for Host attacker.example")
            } catch let refused as TestWebSocket.UpgradeRefused {
                // hummingbird-websocket answers every refused upgrade with a bare 400; plain requests get 421.
                #expect(refused.status == 400 || refused.status == 421, "\(path): \(refused)")
            }
        }
        let run = try await Self.post(server.port, Self.python("print(1)\n"), headers: foreign)
        #expect(run.status == 421 && run.body["code"] as? String == "wrong-host", "\(run)")
        for path in ["/", "/health", "/metrics"] {
            let reply = try await HTTP.request(port: server.port, "GET", path, headers: ["Host": "attacker.example"])
            #expect(reply.status == 421 && reply.body.contains("server.allowedHosts"), "\(path): \(reply.status) \(reply.body.prefix(200))")
        }
        // The names it does answer to: loopback names, IP addresses, and server.allowedHosts.
        for host in [
            "localhost:\(server.port)", "127.0.0.1:\(server.port)", "[::1]:\(server.port)", "coderunner.test:\(server.port)", "app.localhost",
        ] {
            let reply = try await HTTP.request(port: server.port, "GET", "/metrics", headers: ["Host": host])
            #expect(reply.status == 200, "\(host): \(reply.status) \(reply.body.prefix(200))")
        }
        let local = try await TestWebSocket.connect(
            port: server.port, headers: ["Host": "localhost:\(server.port)", "Origin": "http://localhost:\(server.port)"])
        let hello = try await local.nextJSON()
        #expect(hello["type"] as? String == "hello")
        local.close()
        try await server.stop()
    }

    /// Finding 7: a cross-site `Content-Type: text/plain` POST (which browsers send without a preflight) ran the program;
    /// the origin rule did not apply to /api/run.
    @Test func restRunNeedsJSONAndAnAllowedOrigin() async throws {
        let server = try await TestServer.start()
        let message = Self.python("print('ran')\n")
        let plain = try await Self.post(server.port, message, headers: ["Content-Type": "text/plain", "Origin": "http://evil.example"])
        #expect(plain.status == 415 && plain.body["code"] as? String == "bad-content-type", "\(plain)")
        let form = try await Self.post(server.port, message, headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(form.status == 415, "\(form)")
        let crossSite = try await Self.post(server.port, message, headers: ["Origin": "http://evil.example"])
        #expect(crossSite.status == 403 && crossSite.body["code"] as? String == "forbidden-origin", "\(crossSite)")
        let sameSite = try await Self.post(
            server.port, message, headers: ["Origin": "http://127.0.0.1:\(server.port)", "Content-Type": "application/json; charset=utf-8"])
        #expect(sameSite.status == 200 && sameSite.body["stdout"] as? String == "ran\n", "\(sameSite)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Finding 10: a file and a folder of the same name (`a` and `a/b`) ended as internal-error with an empty message.
    /// Issue 19, item 6, through `serve`: a client that keeps sending input to a program that never reads it. The
    /// agent takes at most its window, and the server holds at most `maxInputBacklogBytes` more for the run: past that
    /// `input` is refused (`input-backlog`), and the run still ends at its time limit.
    @Test func inputFloodIsRefusedOnceTheProgramFallsBehind() async throws {
        let server = try await TestServer.start()
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        ws.send(json: [
            "type": "run", "id": "deaf", "language": "python", "limits": ["timeout": "8s"],
            "files": [
                [
                    "path": "deaf.py", "content": "import time\nprint('up', flush=True)\ntime.sleep(60)\n",
                ]
            ],
        ])
        _ = try await ws.waitFor("output", id: "deaf")
        let chunk = String(repeating: "x", count: 60_000)
        var refused: [String: Any]?
        for _ in 0..<200 where refused == nil {  // 12 MB offered, far past the agent's window and the server's bound
            ws.send(json: ["type": "input", "id": "deaf", "data": chunk])
            if let answer = try? await ws.nextJSON(timeout: .milliseconds(50)), answer["type"] as? String == "error" { refused = answer }
        }
        #expect(refused?["code"] as? String == "input-backlog", "\(String(describing: refused))")
        let (exit, _) = try await ws.waitFor("exit", id: "deaf", timeout: .seconds(30))
        #expect(exit["status"] as? String == "timeout", "\(exit)")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    @Test func aFileAndAFolderOfTheSameNameIsABadRequest() async throws {
        let server = try await TestServer.start()
        let files: [[String: Any]] = [["path": "a", "content": "x"], ["path": "a/b", "content": "y"], ["path": "main.py", "content": "print(1)"]]
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        ws.send(json: ["type": "run", "id": "clash", "language": "python", "entry": "main.py", "stdin": "", "files": files])
        let (answer, _) = try await ws.waitFor("error", id: "clash", timeout: .seconds(60))
        #expect(answer["code"] as? String == "bad-request" && (answer["message"] as? String)?.contains("'a' is a file") == true, "\(answer)")

        let rest = try await Self.post(server.port, ["language": "python", "entry": "main.py", "files": files])
        #expect(rest.status == 400 && rest.body["code"] as? String == "bad-request", "\(rest)")

        let sio = try await Self.socketIOConnect(port: server.port, token: nil)
        sio.send(
            "42[\"run\",{\"sessionId\":\"c1\",\"language\":\"python\",\"files\":[{\"name\":\"a\",\"content\":\"x\"},{\"name\":\"a/b\",\"content\":\"y\"},{\"name\":\"main.py\",\"content\":\"print(1)\",\"toBeExec\":true}]}]"
        )
        let error = try await Self.socketIOEvent(sio, "error")
        #expect(error.contains("\"code\":\"bad-request\"") && error.contains("is a file"), "\(error)")
        ws.close()
        sio.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    // MARK: helpers

    /// A raw Socket.IO client: Engine.IO open, then CONNECT (with the token in the auth object when given).
    static func socketIOConnect(port: Int, token: String?) async throws -> TestWebSocket {
        let socket = try await TestWebSocket.connect(port: port, path: "/socket.io/?EIO=4&transport=websocket")
        let open = try await socket.next()
        guard open.hasPrefix("0{") else { throw TestFailure("no Engine.IO open packet: \(open)") }
        socket.send(token.map { "40{\"token\":\"\($0)\"}" } ?? "40")
        let connected = try await socket.next()
        guard connected.hasPrefix("40{") else { throw TestFailure("CONNECT refused: \(connected)") }
        return socket
    }

    /// The next Socket.IO event called `name` (its whole packet text).
    static func socketIOEvent(_ socket: TestWebSocket, _ name: String, timeout: Duration = .seconds(90)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let packet = try await socket.next(timeout: deadline - ContinuousClock.now)
            if packet.hasPrefix("42[\"\(name)\"") { return packet }
        }
        throw TestFailure("no \(name) event within \(timeout)")
    }

    /// Waits until `count` containers of the server process `owner` (default: this process, where TestServer runs)
    /// exist, i.e. its runs really started; other processes' containers on a shared Docker host do not count.
    static func waitForContainers(_ count: Int, owner: Int32 = getpid(), timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await ownedContainers(owner).count >= count { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("\(count) containers did not appear within \(timeout)")
    }

    /// The program containers `owner` made (not the leases that hold its sessions' networks: `ownedNetworks`).
    static func ownedContainers(_ owner: Int32) async throws -> [String] {
        try await Live.engine().containers(labeled: ["\(ResourceLabel.ownerPID)=\(owner)"]).filter { $0.labels[ResourceLabel.lease] == nil }.map(
            \.name)
    }

    /// The networks `owner`'s sessions still hold (through their leases).
    static func ownedNetworks(_ owner: Int32) async throws -> [String] {
        try await Live.engine().containers(labeled: [ResourceLabel.lease, "\(ResourceLabel.ownerPID)=\(owner)"])
            .map { $0.labels[ResourceLabel.leasedNetworkName] ?? $0.name }
    }
}
