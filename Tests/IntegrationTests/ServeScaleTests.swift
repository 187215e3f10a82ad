import CodeRunnerCore
import Foundation
import ServerTestSupport
import Testing

/// Issue 7's slow tests: thousands of connections, slow readers, and the soak. They drive a `coderunner serve` process
/// (the built CLI) with Tests/IntegrationTests/Scripts/serve_stress.py and watch the server's resident memory and open
/// descriptors in /proc. Not in the default suite (minutes to an hour); run them with
///
///     CODERUNNER_SLOW_TESTS=1 swift test --filter ServeScaleTests
///     CODERUNNER_SLOW_TESTS=1 CODERUNNER_SOAK_SECONDS=3600 swift test --filter ServeScaleTests/soak
///     CODERUNNER_SLOW_TESTS=1 CODERUNNER_CAPACITY_SESSIONS=4352 swift test --filter ServeScaleTests/capacity
///     CODERUNNER_SLOW_TESTS=1 CODERUNNER_CLASSROOM_CLIENTS=500 swift test --filter ServeScaleTests/classroom
///
/// Each prints its figures on stderr as lines starting with `[scale]` (the README quotes them).
/// The switch for the slow tests (outside the suite: its trait cannot refer to the suite itself).
enum SlowTests {
    static var enabled: Bool { ProcessInfo.processInfo.environment["CODERUNNER_SLOW_TESTS"] == "1" }
}

@Suite("serve at scale (slow)", .serialized, .docker, .enabled(if: SlowTests.enabled, "set CODERUNNER_SLOW_TESTS=1"))
struct ServeScaleTests {
    static var soakSeconds: Int { Int(ProcessInfo.processInfo.environment["CODERUNNER_SOAK_SECONDS"] ?? "") ?? 600 }

    /// Server limits high enough that one test client address may hold the load.
    static let roomy = [
        "CODERUNNER_SERVER_MAX_SESSIONS": "10000", "CODERUNNER_SERVER_MAX_SESSIONS_PER_CLIENT": "10000",
        "CODERUNNER_SERVER_MAX_CONCURRENT_RUNS": "64", "CODERUNNER_SERVER_RUNS_PER_MINUTE": "100000",
    ]

    static func report(_ text: String) {
        FileHandle.standardError.write(Data("[scale] \(text)\n".utf8))
    }

    /// Waits until the server reports no live session (the drops and closes have all been handled).
    static func waitForNoSessions(_ serve: ServeProcess, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let metrics = try await HTTP.request(port: serve.port, "GET", "/metrics")
            if metrics.body.contains("coderunner_sessions_live 0\n") { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw TestFailure("sessions still live after \(timeout)")
    }

    struct Sample: Sendable {
        var seconds: Int
        var rssKiB: Int
        var descriptors: Int
    }

    /// Samples the server's memory and descriptors every `interval` until cancelled; the task's value is every sample.
    static func sampling(
        _ serve: ServeProcess, every interval: Duration,
        onSample: @escaping @Sendable (Sample) -> Void = { _ in }
    ) -> Task<[Sample], Never> {
        Task {
            var samples: [Sample] = []
            let began = ContinuousClock.now
            while !Task.isCancelled {
                if let usage = try? serve.usage() {
                    let sample = Sample(
                        seconds: Int((ContinuousClock.now - began).components.seconds), rssKiB: usage.rssKiB,
                        descriptors: usage.descriptors)
                    samples.append(sample)
                    onSample(sample)
                }
                try? await Task.sleep(for: interval)
            }
            return samples
        }
    }

    /// A first connection and run, so what is measured afterwards is growth, not start-up.
    static func warmUp(_ serve: ServeProcess) async throws {
        let ws = try await TestWebSocket.connect(port: serve.port)
        _ = try await ws.nextJSON()
        _ = try await ws.run("warm", language: "python", files: [("w.py", "print(1)\n")])
        ws.close()
        try await waitForNoSessions(serve)
        try await Live.expectNoLeaks(timeout: .seconds(30))
    }

    @Test func thousandsOfConnectionsOpeningAndClosing() async throws {
        let serve = try ServeProcess(port: try ServeAbuseTests.freePort(), environment: Self.roomy)
        defer { serve.process.send(SIGKILL) }
        try await serve.waitUntilHealthy()
        try await Self.warmUp(serve)
        let before = try serve.usage()
        let result = try await Live.script(
            "serve_stress.py",
            [
                "storm", "--url", "ws://127.0.0.1:\(serve.port)/ws",
                "--connections", "5000", "--concurrency", "50", "--run-every", "100",
            ],
            timeout: 1800)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
        try await Self.waitForNoSessions(serve)
        try await Live.expectNoLeaks(timeout: .seconds(30))
        let after = try serve.usage()
        Self.report(
            "storm: \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)); server RSS \(before.rssKiB / 1024) -> \(after.rssKiB / 1024) MiB, descriptors \(before.descriptors) -> \(after.descriptors)"
        )
        #expect(after.descriptors <= before.descriptors + 4, "descriptors leaked: \(before.descriptors) -> \(after.descriptors)")
        #expect(after.rssKiB <= before.rssKiB + 64 * 1024, "memory grew: \(before.rssKiB) -> \(after.rssKiB) KiB")
        // Still serving.
        let ws = try await TestWebSocket.connect(port: serve.port)
        _ = try await ws.nextJSON()
        let (exit, _, _) = try await ws.run("after", language: "python", files: [("a.py", "print(2)\n")])
        #expect(exit["status"] as? String == "ok")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
    }

    /// Connections that only open, read the greeting and close, in rounds of 3,000 on each protocol: once the first
    /// round has set the allocator's high-water mark, later rounds must not add memory. (This caught a retain cycle in
    /// hummingbird-websocket that kept about 1.3 KB per WebSocket connection: 3.9 MiB a round.) Each round is followed
    /// by a pause longer than the 30 s auto-ping interval, whose timers hold a closed connection's memory until they fire.
    @Test(arguments: ["native", "socketio"])
    func connectionChurnDoesNotGrowMemory(_ protocolName: String) async throws {
        let serve = try ServeProcess(port: try ServeAbuseTests.freePort(), environment: Self.roomy)
        defer { serve.process.send(SIGKILL) }
        try await serve.waitUntilHealthy()
        let url =
            protocolName == "native"
            ? "ws://127.0.0.1:\(serve.port)/ws"
            : "ws://127.0.0.1:\(serve.port)/socket.io/?EIO=4&transport=websocket"
        var afterRound: [Int] = []
        for _ in 0..<4 {
            var arguments = ["churn", "--url", url, "--connections", "3000", "--concurrency", "8"]
            if protocolName == "socketio" { arguments.append("--socketio") }
            let result = try await Live.script("serve_stress.py", arguments, timeout: 600)
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
            try await Self.waitForNoSessions(serve)
            try await Task.sleep(for: .seconds(35))
            afterRound.append(try serve.usage().rssKiB)
        }
        Self.report(
            "churn (\(protocolName)): 4 rounds of 3000 connections, server RSS after each: \(afterRound.map { "\($0 / 1024) MiB" }.joined(separator: ", "))"
        )
        #expect(afterRound[3] - afterRound[1] < 2 * 1024, "memory grew by \(afterRound[3] - afterRound[1]) KiB over 6000 connections")
    }

    /// Clients that start a full-speed printer and never read: the outbox high-water mark (1 MiB per connection) must
    /// hold the server's memory, so the programs are slowed down instead of buffered. The output limit is raised to 1 GiB
    /// so that it is backpressure, not the limit, that bounds memory.
    @Test func slowReadersKeepTheServersMemoryBounded() async throws {
        var environment = Self.roomy
        environment["CODERUNNER_RUN_OUTPUT_LIMIT"] = "1g"
        environment["CODERUNNER_RUNTIME_PYTHON_TIMEOUT"] = "120s"
        let serve = try ServeProcess(port: try ServeAbuseTests.freePort(), environment: environment)
        defer { serve.process.send(SIGKILL) }
        try await serve.waitUntilHealthy()
        try await Self.warmUp(serve)
        let before = try serve.usage()
        let clients = 24
        let seconds = 30
        let sampler = Self.sampling(serve, every: .milliseconds(200))
        let result = try await Live.script(
            "serve_stress.py",
            [
                "slow-readers", "--url", "ws://127.0.0.1:\(serve.port)/ws",
                "--clients", String(clients), "--seconds", String(seconds),
            ], timeout: 600)
        try await Self.waitForNoSessions(serve)
        sampler.cancel()
        let peak = await sampler.value.map(\.rssKiB).max() ?? 0
        try await Live.expectNoLeaks(timeout: .seconds(30))
        let after = try serve.usage()
        Self.report(
            "slow readers: \(clients) clients flooding for \(seconds) s, never reading: server RSS \(before.rssKiB / 1024) MiB before, peak \(peak / 1024) MiB, \(after.rssKiB / 1024) MiB after; descriptors \(before.descriptors) -> \(after.descriptors)"
        )
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
        // 1 MiB of queued messages per connection plus what is in flight: far below what 24 printers produce in 30 s
        // (several GB) had the server buffered it.
        #expect(peak - before.rssKiB < 256 * 1024, "the server grew by \((peak - before.rssKiB) / 1024) MiB with slow readers")
        #expect(after.descriptors <= before.descriptors + 4, "descriptors leaked: \(before.descriptors) -> \(after.descriptors)")
    }

    /// Connect, run, disconnect, from 8 clients for CODERUNNER_SOAK_SECONDS (default 600; the README's figures are from
    /// 3600); every 4th run is a hostile one (memory bomb, fork bomb, flood, endless loop, disk fill) that must end with
    /// its expected status, and no normal run may fail. Memory and descriptors are sampled every 30 s; after the first
    /// fifth of the time (allocator warm-up), neither may grow: memory by less than 8 MiB (allocator noise; the
    /// WebSocket leak fixed on 2026-11-27 added about 9 MiB an hour at this rate), descriptors by at most 4.
    /// Issue 12's capacity test: CODERUNNER_CAPACITY_SESSIONS (4,352, every /24 of the default pools) connections held
    /// open at once over the native protocol, each of which has run hello world in its own session, 50 connecting at a
    /// time; containers expire by their TTL as designed. Reports the time to full occupancy, the first run's p50 in
    /// the first and last tenth, the mean lease time in the first and the last tenth, the memory of serve, dockerd and
    /// the host at full occupancy, two pairs of sessions unable to reach each other, the answer to one connection more,
    /// and the times to disconnect everyone and for `net gc --all` to leave nothing.
    @Test func capacity() async throws {
        let sessions = Int(ProcessInfo.processInfo.environment["CODERUNNER_CAPACITY_SESSIONS"] ?? "") ?? 4352
        var environment = Self.roomy
        environment["CODERUNNER_SERVER_MAX_SESSIONS"] = String(sessions)
        environment["CODERUNNER_SERVER_MAX_SESSIONS_PER_CLIENT"] = String(sessions + 1)
        let serve = try ServeProcess(port: try ServeAbuseTests.freePort(), environment: environment)
        defer { serve.process.send(SIGKILL) }
        try await serve.waitUntilHealthy()
        try await Self.warmUp(serve)
        let result = try await Live.script(
            "serve_stress.py",
            [
                "hold", "--url", "ws://127.0.0.1:\(serve.port)/ws", "--connections", String(sessions), "--concurrency", "50",
                "--serve-pid", String(serve.process.pid), "--coderunner", Live.cliPath,
            ], timeout: 14_400)
        Self.report("capacity: \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(summary["held"] as? Int == sessions, "\(summary)")
        #expect(summary["distinct_subnets"] as? Int == summary["sessions_listed"] as? Int, "two sessions shared a subnet: \(summary)")
        #expect(summary["distinct_networks"] as? Int == summary["networks_listed"] as? Int, "two sessions shared a network: \(summary)")
        // Two pairs of held sessions: a run of the other session never reaches a program serving in the first, while a
        // second run of the first session does (the control that makes "blocked" mean isolation).
        let isolation = summary["isolation"] as? [[String: Any]] ?? []
        #expect(isolation.count == 2, "\(summary)")
        for pair in isolation {
            #expect(
                (pair["same_session"] as? String)?.hasPrefix("reached") == true && (pair["other_session"] as? String)?.hasPrefix("blocked") == true,
                "\(pair)")
        }
        #expect(summary["managed_networks_left"] as? Int == 0, "\(summary)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
    }

    /// Issue 12's classroom: CODERUNNER_CLASSROOM_CLIENTS (500) clients connected at once, each running 5 programs
    /// with 20-60 s of think time before each (serve_stress.py `classroom`). The server is set up as an operator would
    /// for the class: a ready session per expected first run (server.standby: the course languages, 7 in 10 Python),
    /// made before the class starts (the time that takes is reported), and caps above the class's size. Every run must
    /// succeed (no `busy`); the first run's p50 should be within 1.5x of a warm run's.
    @Test func classroom() async throws {
        let clients = Int(ProcessInfo.processInfo.environment["CODERUNNER_CLASSROOM_CLIENTS"] ?? "") ?? 500
        let python = (clients * 7 + 9) / 10
        let javascript = clients - python
        var environment = Self.roomy
        environment["CODERUNNER_SERVER_MAX_SESSIONS"] = String(clients + 10)
        environment["CODERUNNER_SERVER_MAX_SESSIONS_PER_CLIENT"] = String(clients + 10)
        environment["CODERUNNER_SERVER_MAX_CONCURRENT_RUNS"] = String(clients)
        environment["CODERUNNER_SERVER_STANDBY"] = "python=\(python),javascript=\(javascript)"
        environment["CODERUNNER_SERVER_STANDBY_MAX_AGE"] = "1h"
        let serve = try ServeProcess(port: try ServeAbuseTests.freePort(), environment: environment)
        defer { serve.process.send(SIGKILL) }
        try await serve.waitUntilHealthy()
        let prefill = ContinuousClock.now
        while true {
            let body = try await HTTP.request(port: serve.port, "GET", "/metrics").body
            let ready = body.split(separator: "\n").filter { $0.hasPrefix("coderunner_ready_sessions{") }
                .compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
            if ready >= clients { break }
            guard ContinuousClock.now - prefill < .seconds(3600) else { throw TestFailure("only \(ready) ready sessions after an hour") }
            try await Task.sleep(for: .seconds(1))
        }
        Self.report("classroom: \(clients) ready sessions made in \(ContinuousClock.now - prefill)")
        let result = try await Live.script(
            "serve_stress.py",
            [
                "classroom", "--url", "ws://127.0.0.1:\(serve.port)/ws", "--clients", String(clients), "--programs", "5",
                "--think-min", "20", "--think-max", "60",
            ], timeout: 3600)
        Self.report("classroom: \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(summary["runs"] as? Int == clients * 5 && summary["busy"] as? Int == 0, "\(summary)")
        let first = summary["first_p50_ms"] as? Double ?? .infinity
        let warm = summary["warm_p50_ms"] as? Double ?? 0
        #expect(first <= 1.5 * warm, "first-run p50 \(first) ms against a warm run's \(warm) ms (target 1.5x)")
        serve.process.send(SIGTERM)
        #expect(await serve.process.finish(timeout: .seconds(600)) == 0, "\(serve.process.stderrText.suffix(2000))")
        try await Live.expectNoLeaks(timeout: .seconds(120))
    }

    @Test func soak() async throws {
        let seconds = Self.soakSeconds
        let serve = try ServeProcess(port: try ServeAbuseTests.freePort(), environment: Self.roomy)
        defer { serve.process.send(SIGKILL) }
        try await serve.waitUntilHealthy()
        try await Self.warmUp(serve)
        let start = try serve.usage()
        let sampler = Self.sampling(serve, every: .seconds(30)) { sample in
            Self.report("soak t=\(sample.seconds)s rss=\(sample.rssKiB / 1024)MiB fds=\(sample.descriptors)")
        }
        let result = try await Live.script(
            "serve_stress.py",
            [
                "soak", "--url", "ws://127.0.0.1:\(serve.port)/ws",
                "--clients", "8", "--seconds", String(seconds),
            ],
            timeout: TimeInterval(seconds + 600))
        try await Self.waitForNoSessions(serve)
        sampler.cancel()
        let samples = await sampler.value
        try await Live.expectNoLeaks(timeout: .seconds(30))
        let end = try serve.usage()
        Self.report(
            "soak: \(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)); RSS \(start.rssKiB / 1024) MiB at start, \(end.rssKiB / 1024) MiB at the end; descriptors \(start.descriptors) -> \(end.descriptors)"
        )
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
        let settled = samples.filter { $0.seconds >= seconds / 5 }
        if let first = settled.first, let peak = settled.map(\.rssKiB).max() {
            #expect(peak - first.rssKiB < 8 * 1024, "RSS kept growing after warm-up: \(first.rssKiB) -> peak \(peak) KiB")
        }
        #expect(end.descriptors <= start.descriptors + 4, "descriptors leaked: \(start.descriptors) -> \(end.descriptors)")
    }
}
