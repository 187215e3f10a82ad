import CodeRunnerCore
import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 7 through `serve`: hostile programs and bad input over the native protocol, Socket.IO and `/api/run`, and a
/// `kill -9` of a loaded server followed by a restart whose start-up sweep must collect every orphan.
@Suite("serve under abuse", .serialized, .docker)
struct ServeAbuseTests {
    @Test func hostileProgramsThroughTheNativeProtocol() async throws {
        let server = try await TestServer.start()
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        func run(_ id: String, _ program: String, limits: [String: Any]) async throws -> (exit: [String: Any], stdout: String, stderr: String) {
            try await ws.run(id, language: "python", files: [("main.py", program)], stdin: "", extra: ["limits": limits])
        }
        func expectNothingLeftRunning(after what: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let (exit, stdout, stderr) = try await run("check-\(what)", HostileProgramTests.processCheck, limits: [:])
            #expect(exit["status"] as? String == "ok", "after \(what): \(exit) \(stderr)", sourceLocation: sourceLocation)
            #expect(stdout.hasPrefix("left=[]\n"), "processes of \(what) survived: \(stdout)", sourceLocation: sourceLocation)
        }

        let bomb = try await run(
            "forkbomb",
            """
            import errno, os
            origin = os.getpid()
            told = False
            while True:
                try:
                    os.fork()
                except OSError as e:
                    if os.getpid() == origin and not told:
                        print('fork refused: ' + errno.errorcode.get(e.errno, '?'), flush=True)
                        told = True
            """, limits: ["timeout": "3s"])
        #expect(["timeout", "memory-limit", "runtime-error", "signal"].contains(bomb.exit["status"] as? String ?? ""), "\(bomb.exit)")
        #expect(bomb.stdout.contains("fork refused: EAGAIN"), "\(bomb.stdout.prefix(300))")
        try await expectNothingLeftRunning(after: "forkbomb")

        let memory = try await run("memory", "hog = []\nwhile True:\n    hog.append(b'x' * (10 << 20))\n", limits: ["memory": "64m"])
        #expect(memory.exit["status"] as? String == "memory-limit" && memory.exit["exitCode"] as? Int == 137, "\(memory.exit)")

        let flood = try await run(
            "flood", "import os\nwhile True:\n    os.write(1, b'o' * 65536)\n    os.write(2, b'e' * 65536)\n",
            limits: ["outputLimit": "256k"])
        #expect(flood.exit["status"] as? String == "output-limit", "\(flood.exit)")
        #expect(flood.stdout.utf8.count + flood.stderr.utf8.count == 256 * 1024, "kept \(flood.stdout.utf8.count) + \(flood.stderr.utf8.count)")
        #expect(!flood.stdout.isEmpty && !flood.stderr.isEmpty && flood.stdout.allSatisfy { $0 == "o" } && flood.stderr.allSatisfy { $0 == "e" })

        let stubborn = try await run(
            "stubborn",
            """
            import os, signal, subprocess
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            subprocess.Popen(['sleep', '1000'], start_new_session=True)
            print('ignoring', flush=True)
            while True:
                pass
            """, limits: ["timeout": "2s"])
        #expect(stubborn.exit["status"] as? String == "timeout" && stubborn.exit["exitCode"] as? Int == 124, "\(stubborn.exit)")
        try await expectNothingLeftRunning(after: "stubborn")

        let fill = try await run(
            "fill", "i = 0\nwhile True:\n    open('/app/f%d' % i, 'wb').write(b'\\0' * (4 << 20))\n    i += 1\n",
            limits: [:])
        #expect(fill.exit["status"] as? String == "runtime-error", "\(fill.exit)")
        #expect(fill.stderr.contains("No space left on device"), "\(fill.stderr.prefix(300))")

        let binary = try await run("binary", "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe \\xe2\\x82 end\\n')\n", limits: [:])
        #expect(binary.exit["status"] as? String == "ok", "\(binary.exit)")
        #expect(binary.stdout == "ok \u{FFFD}\u{FFFD} \u{FFFD} end\n", "invalid UTF-8 is replaced, the rest kept: \(binary.stdout.debugDescription)")

        let privileged = try await run(
            "privileged",
            """
            import socket
            for name, act in [('raw', lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),
                              ('hostname', lambda: socket.sethostname('pwned')),
                              ('etc', lambda: open('/etc/pwned', 'w')),
                              ('shadow', lambda: open('/etc/shadow').read())]:
                try:
                    act(); print(name, 'ALLOWED')
                except OSError as e:
                    print(name, 'refused')
            """, limits: [:])
        #expect(!privileged.stdout.contains("ALLOWED") && privileged.stdout.components(separatedBy: "refused").count == 5, "\(privileged.stdout)")

        let leak = try await run(
            "leak", "import time\nhog = []\nwhile True:\n    hog.append(b'x' * (5 << 20))\n    time.sleep(0.05)\n",
            limits: ["memory": "64m"])
        #expect(leak.exit["status"] as? String == "memory-limit" && leak.exit["exitCode"] as? Int == 137, "\(leak.exit)")

        let line = try await run(
            "line", "import sys\nfor _ in range(8):\n    sys.stdout.buffer.write(b'x' * (1 << 20))\n",
            limits: ["outputLimit": "256k"])
        #expect(line.exit["status"] as? String == "output-limit", "\(line.exit)")
        #expect(line.stdout.utf8.count == 256 * 1024 && line.stdout.allSatisfy { $0 == "x" }, "kept \(line.stdout.utf8.count) bytes of one line")

        let sleeper = try await run("sleep", "import time\ntime.sleep(10 ** 6)\n", limits: ["timeout": "1500ms"])
        #expect(sleeper.exit["status"] as? String == "timeout" && sleeper.exit["exitCode"] as? Int == 124, "\(sleeper.exit)")

        let orphans = try await run(
            "orphans",
            """
            import os, subprocess
            os.system('sleep 1000 &')
            subprocess.Popen(['setsid', 'sleep', '1001'])
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    import time
                    time.sleep(1003)
                os._exit(0)
            print('spawned', flush=True)
            """, limits: [:])
        #expect(orphans.exit["status"] as? String == "ok" && orphans.stdout == "spawned\n", "\(orphans)")
        try await expectNothingLeftRunning(after: "orphans")

        let closed = try await run(
            "closed", "import os, sys\nprint('before', flush=True)\nos.close(1)\nsys.stderr.write('after\\n')\n",
            limits: [:])
        #expect(closed.exit["status"] as? String == "ok" && closed.stdout == "before\n" && closed.stderr == "after\n", "\(closed)")

        // Without `stdin` in the message, stdin stays open for `input` messages: only the timeout ends a reader.
        let reader = try await ws.run(
            "reader", language: "python", files: [("r.py", "import sys\nprint('reading', flush=True)\nsys.stdin.read()\n")],
            extra: ["limits": ["timeout": "1500ms"]])
        #expect(reader.exit["status"] as? String == "timeout" && reader.stdout == "reading\n", "\(reader)")

        let syscalls = try await run(
            "syscalls",
            """
            import ctypes, errno, os
            libc = ctypes.CDLL(None, use_errno=True)
            def report(name, rc):
                print(name, 'ALLOWED' if rc == 0 else errno.errorcode.get(ctypes.get_errno(), '?'))
            report('mount', libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))
            report('chroot', libc.chroot(b'/tmp'))
            report('ptrace', libc.ptrace(16, 1, None, None))  # PTRACE_ATTACH to pid 1, the agent
            report('init_module', libc.syscall(175, None, 0, b''))
            """, limits: [:])
        #expect(syscalls.exit["status"] as? String == "ok", "\(syscalls)")
        #expect(!syscalls.stdout.contains("ALLOWED") && syscalls.stdout.split(separator: "\n").count == 4, "\(syscalls.stdout)")

        // The host's services on its bridge addresses: refused or dropped, never reached (this machine's addresses only).
        let reach = try await run(
            "reach",
            """
            import socket
            targets = ['172.17.0.1']
            for line in open('/proc/net/route').read().splitlines()[1:]:
                fields = line.split()
                if fields[1] == '00000000':  # the default route's gateway, little-endian hex: the session bridge
                    targets.append(socket.inet_ntoa(bytes.fromhex(fields[2])[::-1]))
            for host in targets:
                for port in (22, 80, 2375):
                    s = socket.socket(); s.settimeout(1)
                    try:
                        s.connect((host, port)); print(host, port, 'REACHED')
                    except OSError as e:
                        print(host, port, 'no', type(e).__name__)
                    finally:
                        s.close()
            """, limits: ["timeout": "20s"])
        #expect(reach.exit["status"] as? String == "ok", "\(reach)")
        #expect(!reach.stdout.contains("REACHED") && reach.stdout.contains("172.17.0.1 22 no"), "\(reach.stdout)")

        // The server itself stayed well: a plain run still works on the same connection.
        let after = try await run("after", "print('still here')\n", limits: [:])
        #expect(after.exit["status"] as? String == "ok" && after.stdout == "still here\n", "\(after)")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// Bad submissions over the native protocol after the session has a warm container: each gets an error naming the
    /// problem, and none of their files reach the container (the work dir holds only what the next good run sent).
    @Test func badInputOverTheNativeProtocolUploadsNothing() async throws {
        let server = try await TestServer.start(["server.maxMessageSize": "4m"])
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        let warm = try await ws.run("warm", language: "python", files: [("warm.py", "print('warm')\n")])
        #expect(warm.exit["status"] as? String == "ok")

        func expectRefused(
            _ id: String, _ files: [[String: Any]], code: String, language: String? = "python", entry: String? = nil,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            var message: [String: Any] = ["type": "run", "id": id, "files": files]
            if let language { message["language"] = language }
            if let entry { message["entry"] = entry }
            ws.send(json: message)
            let (error, _) = try await ws.waitFor("error", timeout: .seconds(30))
            #expect(error["code"] as? String == code, "\(id): \(error)", sourceLocation: sourceLocation)
            #expect((error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        }
        func file(_ path: String, _ content: String = "print(1)\n") -> [String: Any] { ["path": path, "content": content] }

        try await expectRefused("dotdot", [file("ok.py"), file("../escape.py")], code: "bad-request")
        try await expectRefused("absolute", [file("/etc/cron.d/x.py")], code: "bad-request")
        try await expectRefused("nul", [file("a\u{0}b.py")], code: "bad-request")
        try await expectRefused("long", [file(String(repeating: "n", count: 300) + ".py")], code: "bad-request")
        try await expectRefused("empty", [], code: "bad-request")
        try await expectRefused("thousands", (0..<3000).map { file("f\($0).py") }, code: "too-many-files")
        try await expectRefused("unknown", [file("main.cob")], code: "unknown-language", language: "cobol")
        try await expectRefused("entry", [file("a.py")], code: "bad-request", entry: "missing.py")
        try await expectRefused("duplicate", [file("a.py"), file("./a.py")], code: "bad-request")
        // Cut off inside 600 nested arrays: Foundation's JSON decoder would trap (taking the server down) on this.
        ws.send(#"{"type":"run","id":"deep","files":"# + String(repeating: "[", count: 600))
        let (deep, _) = try await ws.waitFor("error", timeout: .seconds(30))
        #expect(deep["code"] as? String == "bad-json", "\(deep)")
        // One file over files.maxSize (10m) inside a message under server.maxMessageSize would need a bigger message
        // limit; here a 6 MB message is over the 4m message limit: dropped unread, with an error.
        ws.send(json: ["type": "run", "id": "big", "language": "python", "files": [file("big.py", String(repeating: "#", count: 6 << 20))]])
        let (tooLarge, _) = try await ws.waitFor("error", timeout: .seconds(30))
        #expect(tooLarge["code"] as? String == "too-large", "\(tooLarge)")

        let listing = try await ws.run(
            "list", language: "python",
            files: [("list.py", "import os\nprint(sorted(os.listdir('/app')))\n")], extra: ["fresh": false])
        #expect(listing.exit["status"] as? String == "ok", "\(listing)")
        #expect(listing.stdout == "['list.py', 'warm.py']\n", "the work dir holds files of refused runs: \(listing.stdout)")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// 200 `run` messages in one burst on one connection: each gets exactly one answer (an exit, or `busy` /
    /// `rate-limited`), no more run at once than server.maxRunsPerSession, and the connection stays usable.
    @Test func aFloodOfRunMessagesIsAnsweredNotQueued() async throws {
        let server = try await TestServer.start(["server.maxRunsPerSession": "2", "server.runsPerMinute": "20"])
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        let ids = (0..<200).map { "flood\($0)" }
        for id in ids {
            ws.send(json: ["type": "run", "id": id, "language": "python", "files": [["path": "s.py", "content": "import time\ntime.sleep(0.3)\n"]]])
        }
        var answers: [String: String] = [:]
        let deadline = ContinuousClock.now + .seconds(120)
        while answers.count < ids.count, ContinuousClock.now < deadline {
            let message = try await ws.nextJSON(timeout: .seconds(60))
            guard let id = message["id"] as? String, let type = message["type"] as? String, type == "exit" || type == "error" else { continue }
            #expect(answers[id] == nil, "\(id) answered twice: \(message)")
            answers[id] = type == "exit" ? "exit:\(message["status"] as? String ?? "?")" : "error:\(message["code"] as? String ?? "?")"
        }
        #expect(answers.count == ids.count, "\(ids.count - answers.count) runs never answered")
        let counts = Dictionary(grouping: answers.values, by: { $0 }).mapValues(\.count)
        let ran = counts["exit:ok"] ?? 0
        #expect(ran >= 2 && ran <= 20, "\(counts)")
        #expect(Set(counts.keys).isSubset(of: ["exit:ok", "error:busy", "error:rate-limited"]), "\(counts)")
        ws.send(json: ["type": "ping"])
        _ = try await ws.waitFor("pong", timeout: .seconds(10))
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    @Test func hostileProgramsAndBadInputThroughTheRESTEndpoint() async throws {
        let server = try await TestServer.start(["server.maxMessageSize": "16m"])
        func post(_ object: [String: Any]) async throws -> (status: Int, body: [String: Any]) {
            let data = try JSONSerialization.data(withJSONObject: object)
            let reply = try await HTTP.request(port: server.port, "POST", "/api/run", body: String(decoding: data, as: UTF8.self))
            let body = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any] ?? [:]
            return (reply.status, body)
        }
        func python(_ program: String, limits: [String: Any] = [:]) async throws -> [String: Any] {
            let (status, body) = try await post(["language": "python", "files": [["path": "main.py", "content": program]], "limits": limits])
            #expect(status == 200, "\(body)")
            return body
        }

        let memory = try await python("hog = []\nwhile True:\n    hog.append(b'x' * (10 << 20))\n")
        // As `run --json`: exitCode is the program's own (none when a signal ended it), signal says what ended it.
        #expect(memory["status"] as? String == "memory-limit" && memory["signalName"] as? String == "SIGKILL", "\(memory)")
        let loop = try await python("while True:\n    pass\n", limits: ["timeout": "1500ms"])
        #expect(loop["status"] as? String == "timeout" && loop["signalName"] as? String == "SIGKILL", "\(loop)")
        let flood = try await python(
            "import os\nwhile True:\n    os.write(1, b'o' * 65536)\n    os.write(2, b'e' * 65536)\n",
            limits: ["outputLimit": "128k"])
        #expect(flood["status"] as? String == "output-limit", "\(flood)")
        let kept = ((flood["stdout"] as? String)?.utf8.count ?? 0) + ((flood["stderr"] as? String)?.utf8.count ?? 0)
        #expect(kept == 128 * 1024, "kept \(kept) bytes")
        #expect(flood["truncated"] as? Bool == true)

        func expectRefused(_ object: [String: Any], status expected: Int, code: String, sourceLocation: SourceLocation = #_sourceLocation)
            async throws
        {
            let (status, body) = try await post(object)
            #expect(status == expected && body["code"] as? String == code, "\(status) \(body)", sourceLocation: sourceLocation)
            #expect((body["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        }
        func files(_ paths: [String], content: String = "print(1)\n") -> [[String: Any]] { paths.map { ["path": $0, "content": content] } }
        try await expectRefused(["language": "python", "files": files(["../x.py"])], status: 400, code: "bad-request")
        try await expectRefused(["language": "python", "files": files(["/etc/x.py"])], status: 400, code: "bad-request")
        try await expectRefused(["language": "python", "files": files(["a\u{0}.py"])], status: 400, code: "bad-request")
        try await expectRefused(["language": "python", "files": files([String(repeating: "n", count: 300)])], status: 400, code: "bad-request")
        try await expectRefused(["language": "python", "files": [] as [Any]], status: 400, code: "bad-request")
        try await expectRefused(["language": "python", "files": files((0..<3000).map { "f\($0).py" })], status: 400, code: "too-many-files")
        try await expectRefused(["language": "cobol", "files": files(["main.cob"])], status: 422, code: "unknown-language")
        try await expectRefused(["language": "python", "files": files(["a.py"]), "entry": "b.py"], status: 400, code: "bad-request")
        // 12 MB: under the 16m message limit, over files.maxSize (10m).
        try await expectRefused(
            ["language": "python", "files": files(["big.py"], content: String(repeating: "#", count: 12 << 20))],
            status: 400, code: "bad-request")
        // 100 MB: over the message limit, refused while reading.
        let huge = try await HTTP.request(
            port: server.port, "POST", "/api/run",
            body: "{\"language\":\"python\",\"files\":[{\"path\":\"a.py\",\"content\":\"" + String(repeating: "#", count: 100 << 20) + "\"}]}")
        #expect(huge.status == 413 && huge.body.contains("too-large"), "\(huge.status) \(huge.body.prefix(300))")
        let bad = try await HTTP.request(port: server.port, "POST", "/api/run", body: "{\"language\": \"python\", \"files\": [{\"path\": 3}")
        #expect(bad.status == 400, "\(bad.status) \(bad.body)")
        let deep = try await HTTP.request(port: server.port, "POST", "/api/run", body: #"{"files":"# + String(repeating: "[", count: 600))
        #expect(deep.status == 400 && deep.body.contains("levels deep"), "\(deep.status) \(deep.body)")

        let after = try await python("print('still here')\n")
        #expect(after["status"] as? String == "ok" && after["stdout"] as? String == "still here\n", "\(after)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    @Test func hostileProgramsAndBadInputThroughSocketIO() async throws {
        // The engine's output limit (run.outputLimit, default 1 MiB) applies: Socket.IO's `run` carries no limits.
        let server = try await TestServer.start(["server.maxMessageSize": "4m", "runtime.python.timeout": "3s"])
        let outputLimit = try Live.runner().settings.outputLimit
        let result = try await Live.script("socketio_abuse.py", ["--url", server.baseURL, "--output-limit", String(outputLimit)])
        #expect(result.status == 0, "socketio_abuse.py failed:\n\(result.stdout)\n\(result.stderr)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// `kill -9` of a `coderunner serve` process with runs going: its containers (busy, so they would not expire) and
    /// networks stay behind; the next `serve`'s start-up sweep removes them all, well before any TTL, and then serves.
    @Test func killDashNineUnderLoadThenRestartSweepsEveryOrphan() async throws {
        let port = try Self.freePort()
        // The first server keeps ready sessions (two of them take the first runs): those are orphans of it too.
        let first = try ServeProcess(port: port, environment: ["CODERUNNER_SERVER_STANDBY": "python=2"])
        defer { first.process.send(SIGKILL) }
        try await first.waitUntilHealthy()

        var clients: [TestWebSocket] = []
        for index in 0..<4 {
            let ws = try await TestWebSocket.connect(port: port)
            _ = try await ws.nextJSON()
            ws.send(json: [
                "type": "run", "id": "busy\(index)", "language": "python", "limits": ["timeout": "60s"],
                "files": [["path": "busy.py", "content": "import time\nprint('up', flush=True)\ntime.sleep(600)\n"]],
            ])
            clients.append(ws)
        }
        for (index, ws) in clients.enumerated() { _ = try await ws.waitFor("output", id: "busy\(index)") }

        first.process.send(SIGKILL)
        _ = await first.process.finish(timeout: .seconds(10))
        // Its 4 busy containers and any ready sessions it had made, each with the lease that holds its network.
        // (A pool network it was making at the kill leaves its creation marker too, which has a name of Docker's.)
        let orphans = try await Live.leftovers()
        let named = orphans.containers.filter { $0.hasPrefix("coderunner-") }
        let leases = named.filter { $0.contains("-lease-") }
        #expect(
            named.count >= 8 && leases.count >= 4 && leases.count * 2 == named.count,
            "expected the dead server's containers (4 busy, ready ones) and a lease for each: \(orphans)")
        for ws in clients { ws.close() }

        let second = try ServeProcess(port: port)
        defer { second.process.send(SIGKILL) }
        try await second.waitUntilHealthy()
        let swept = ContinuousClock.now
        try await Live.expectNoLeaks(timeout: .seconds(30))
        #expect(ContinuousClock.now - swept < .seconds(30), "the start-up sweep took too long")

        let ws = try await TestWebSocket.connect(port: port)
        _ = try await ws.nextJSON()
        let (exit, stdout, _) = try await ws.run("after", language: "python", files: [("ok.py", "print('served')\n")])
        #expect(exit["status"] as? String == "ok" && stdout == "served\n", "\(exit)")
        ws.close()
        second.process.send(SIGTERM)
        #expect(await second.process.finish(timeout: .seconds(30)) == 0, "\(second.process.stderrText.suffix(2000))")
        try await Live.expectNoLeaks()
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestFailure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
