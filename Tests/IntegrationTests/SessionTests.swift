import CodeRunnerCore
import Foundation
import Testing

/// Named sessions, TTL expiry, cross-process use, crash recovery and gc, against real Docker.
@Suite(.serialized, .docker)
struct SessionTests {
    static func uniqueSession(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    func sessionContainers(_ session: String) async throws -> [ContainerInfo] {
        try await Live.engine().containers(labeled: ["\(ResourceLabel.session)=\(session)"])
    }

    func sessionNetworks(_ session: String) async throws -> [NetworkInfo] {
        try await Live.sessionNetworks(session)
    }

    func end(_ session: String) async throws {
        try await Live.runner().endSession(session)
        #expect(try await sessionContainers(session).isEmpty)
        #expect(try await sessionNetworks(session).isEmpty)
    }

    @Test func secondRunReusesContainerAndNetwork() async throws {
        let session = Self.uniqueSession("reuse")
        let first = try await Live.run("python", [("a.py", "print('one')")], session: session)
        #expect(first.result.status == .ok)
        let containersAfterFirst = try await sessionContainers(session).map(\.id)
        let networksAfterFirst = try await sessionNetworks(session).map(\.id)
        #expect(containersAfterFirst.count == 1)
        #expect(networksAfterFirst.count == 1)
        let second = try await Live.run("python", [("a.py", "print('two')")], session: session)
        #expect(second.stdout == "two\n")
        #expect(try await sessionContainers(session).map(\.id) == containersAfterFirst)
        #expect(try await sessionNetworks(session).map(\.id) == networksAfterFirst)
        // Another language in the same session: its own container on the same network.
        let js = try await Live.run("javascript", [("a.js", "console.log('js')")], session: session)
        #expect(js.stdout == "js\n")
        #expect(try await sessionContainers(session).count == 2)
        #expect(try await sessionNetworks(session).map(\.id) == networksAfterFirst)
        try await end(session)
    }

    @Test func filesPersistUnlessFresh() async throws {
        let session = Self.uniqueSession("files")
        _ = try await Live.run("python", [("w.py", "open('data.txt', 'w').write('kept')")], session: session)
        let read = "import os\nprint(open('data.txt').read() if os.path.exists('data.txt') else 'gone')"
        #expect(try await Live.run("python", [("r.py", read)], session: session).stdout == "kept\n")
        #expect(try await Live.run("python", [("r.py", read)], session: session, fresh: true).stdout == "gone\n")
        try await end(session)
    }

    @Test func overlappingRunsGetTheirOwnContainersAndWorkdirs() async throws {
        let session = Self.uniqueSession("overlap")
        let program = """
            import os, sys, time
            me = sys.argv[1]
            open(me, 'w').write(me)
            time.sleep(2)
            print(sorted(f for f in os.listdir('.') if f in ('A', 'B')))
            """
        async let a = Live.run("python", [("p.py", program)], arguments: ["A"], session: session)
        async let b = Live.run("python", [("p.py", program)], arguments: ["B"], session: session)
        let (ra, rb) = try await (a, b)
        #expect(ra.stdout == "['A']\n", "A: \(ra.result.status) \(ra.result.message ?? "-")")
        #expect(rb.stdout == "['B']\n", "B: \(rb.result.status) \(rb.result.message ?? "-")")
        #expect(try await sessionContainers(session).count == 2)
        try await end(session)
    }

    @Test func twoCLIProcessesInOneSessionAtOnce() async throws {
        let session = Self.uniqueSession("cli2")
        let dir = try Live.temporaryDirectory([("s.py", "import time\ntime.sleep(1.5)\nprint('done')")])
        async let one = Task.detached { try Live.cli(["run", "--session", session, dir + "/s.py"]) }.value
        async let two = Task.detached { try Live.cli(["run", "--session", session, dir + "/s.py"]) }.value
        let (r1, r2) = try await (one, two)
        #expect(r1.status == 0 && r1.stdout == "done\n", "r1: \(r1.stderr.split(separator: "\n").joined(separator: " | "))")
        #expect(r2.status == 0 && r2.stdout == "done\n", "r2: \(r2.stderr.split(separator: "\n").joined(separator: " | "))")
        #expect(try await sessionNetworks(session).count == 1)
        #expect(try await sessionContainers(session).count == 2)
        // A third run reuses one of the two idle containers.
        let r3 = try Live.cli(["run", "--session", session, dir + "/s.py"])
        #expect(r3.status == 0)
        #expect(try await sessionContainers(session).count == 2)
        try await end(session)
    }

    @Test func idleContainerExpiresWithoutAnyCoderunnerProcess() async throws {
        let session = Self.uniqueSession("ttl")
        let dir = try Live.temporaryDirectory([("s.py", "import time\ntime.sleep(4)\nprint('finished')")])
        // The program runs longer than the TTL: a busy container must not expire under it.
        let result = try Live.cli(["run", "--session", session, dir + "/s.py"], environment: ["CODERUNNER_CONTAINER_TTL": "2s"])
        #expect(result.status == 0 && result.stdout == "finished\n", "\(result.stderr)")
        #expect(try await sessionContainers(session).count == 1)
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !sessionContainers(session).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(try await sessionContainers(session).isEmpty, "the idle container did not remove itself")
        try await end(session)
    }

    @Test func killDashNineRecovery() async throws {
        let dir = try Live.temporaryDirectory([("loop.py", "import time\nprint('up', flush=True)\nwhile True: time.sleep(0.1)")])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Live.cliPath)
        process.arguments = ["run", dir + "/loop.py"]
        var env = ProcessInfo.processInfo.environment
        env["CODERUNNER_CONTAINER_TTL"] = "2s"
        env["CODERUNNER_RUN_NETWORK"] = "session"  // a one-shot run has no network by default; this test is about gc of one
        env["CODERUNNER_RUNTIMES_DIR"] = Live.repositoryRoot + "/runtimes"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Wait for the program to be running, then kill the CLI without giving it a chance to clean up.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("up") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // The agent notices the lost connection and stops the program; the idle container then expires by itself.
        // Its lease (a container that is never started) holds the run's network until gc gives it back.
        func programContainers() async throws -> [String] { try await Live.leftovers().containers.filter { !$0.contains("-lease-") } }
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !programContainers().isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(try await programContainers().isEmpty, "the orphaned container did not expire")
        let leases = try await Live.leftovers().containers.filter { $0.contains("-lease-") }
        #expect(leases.count == 1, "the crashed run's lease should still be there for gc: \(leases)")
        let gc = try Live.cli(["net", "gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout.contains("removed lease"), "\(gc.stdout)")
        try await Live.expectNoLeaks()
    }

    @Test func gcNeverTouchesForeignNetworks() async throws {
        let engine = try Live.engine()
        let unlabeled = try await engine.createNetwork(
            NetworkSpec(
                name: "foreign-\(UUID().uuidString.prefix(6))", subnet: IPv4Network("10.99.7.0/24")!, driver: "bridge", isInternal: true, labels: [:])
        )
        let otherLabel = try await engine.createNetwork(
            NetworkSpec(
                name: "foreign-\(UUID().uuidString.prefix(6))", subnet: IPv4Network("10.99.8.0/24")!, driver: "bridge", isInternal: true,
                labels: ["com.example.owner": "someone-else"]))
        let gc = try Live.cli(["net", "gc", "--all", "--yes"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(try await engine.network(unlabeled) != nil)
        #expect(try await engine.network(otherLabel) != nil)
        try await engine.removeNetwork(unlabeled)
        try await engine.removeNetwork(otherLabel)
    }

    @Test func warmStartsContainersAheadAndDrainRemovesIdleOnes() async throws {
        let session = Self.uniqueSession("warm")
        let warm = try Live.cli(["pool", "warm", "python", "--session", session, "--count", "2"])
        #expect(warm.status == 0, "\(warm.stderr)")
        #expect(try await sessionContainers(session).filter { $0.state == "running" }.count == 2)
        // A run uses a warmed container instead of creating one.
        let dir = try Live.temporaryDirectory([("a.py", "print('warm')")])
        let run = try Live.cli(["run", "--session", session, dir + "/a.py"])
        #expect(run.status == 0 && run.stdout == "warm\n", "\(run.stderr)")
        #expect(try await sessionContainers(session).count == 2)
        let drain = try Live.cli(["pool", "drain", "--session", session])
        #expect(drain.status == 0, "\(drain.stderr)")
        #expect(drain.stdout.contains("drained 2 idle container(s)"))
        #expect(try await sessionContainers(session).isEmpty)
        #expect(try await sessionNetworks(session).isEmpty, "draining a whole session removes its network")
    }

    @Test func poolReportsSessionsAndSubnets() async throws {
        let session = Self.uniqueSession("pool")
        _ = try await Live.run("python", [("a.py", "print(1)")], session: session)
        let result = try Live.cli(["pool", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(PoolReport.self, from: Data(result.stdout.utf8))
        #expect(report.totalCapacity == 4352)
        let entry = try #require(report.sessions.first { $0.name == session })
        #expect(entry.containers.count == 1)
        #expect(entry.containers[0].busy == false)
        #expect((entry.containers[0].ttlLeftSeconds ?? 0) > 0)
        #expect(entry.subnet.flatMap(IPv4Network.init)?.isPrivate == true)
        #expect(report.subnetsUsed >= 1)
        let text = try Live.cli(["pool"])
        #expect(text.stdout.contains(session))
        try await end(session)
    }
}
