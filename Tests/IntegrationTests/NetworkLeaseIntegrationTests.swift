import CodeRunnerCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Session networks leased from the pool, against real Docker: a session gives its network back and the next one takes
/// it, a holder killed with `kill -9` has its lease reclaimed without `net gc`, and a network with a stranded container
/// is never leased again. Each test has a pool of one /24 of its own, so "the next session" can only get that network.
@Suite("Network leases", .serialized, .docker)
struct NetworkLeaseIntegrationTests {
    @Test func aSessionGivesItsNetworkBackAndTheNextSessionTakesIt() async throws {
        let pool = try await Live.privatePool("10.99.20.0/24")
        let environment = pool.environment
        let dir = try CLI.folder([("hello.py", "print('hello')")])
        let first = "lease-a-" + DockerProbe.randomSuffix()
        let second = "lease-b-" + DockerProbe.randomSuffix()
        let ran = try await CLI.run(["run", "--session", first, dir + "/hello.py"], environment: environment)
        #expect(ran.status == 0 && ran.stdoutText == "hello\n", "\(ran)")
        let held = try await Live.sessionNetworks(first)
        #expect(held.count == 1 && held.allSatisfy(pool.inPool), "\(held.map(\.name))")
        let drained = try await CLI.run(["pool", "drain", "--session", first], environment: environment)
        #expect(drained.status == 0, "\(drained)")
        #expect(try await Live.sessionNetworks(first).isEmpty, "the ended session still holds its network")
        let ready = try await Live.engine().networks(labeled: [ResourceLabel.pool]).filter(pool.inPool)
        #expect(ready.map(\.id) == held.map(\.id), "the network should stay, ready: \(ready.map(\.name))")

        let next = try await CLI.run(["run", "--session", second, dir + "/hello.py"], environment: environment)
        #expect(next.status == 0 && next.stdoutText == "hello\n", "\(next)")
        #expect(try await Live.sessionNetworks(second).map(\.id) == held.map(\.id), "the next session did not take the ready network")
        let shown = try await CLI.run(["pool", "--json"], environment: environment)
        #expect(shown.stdoutText.contains("\"leased\" : 1"), "\(shown.stdoutText.prefix(600))")
        await DockerProbe.removeSession(second)
        try await pool.removeNetworks()
        try await Live.expectNoLeaks()
    }

    /// `pool warm --networks N` makes networks ready ahead of need; `pool drain --networks` removes those beyond
    /// network.ready on the configured pools (others are another configuration's), oldest first, and says how many and
    /// how long it took.
    @Test func readyNetworksAreMadeAheadAndDrained() async throws {
        let pool = try await Live.privatePool("10.99.24.0/22")
        var environment = pool.environment
        environment["CODERUNNER_NETWORK_READY"] = "1"
        func ready() async throws -> Int { try await Live.engine().networks(labeled: [ResourceLabel.pool]).filter(pool.inPool).count }
        let warmed = try await CLI.run(["pool", "warm", "--networks", "3"], environment: environment)
        #expect(warmed.status == 0 && warmed.stdoutText.contains("made 3 session network(s) ready"), "\(warmed)")
        #expect(try await ready() == 3)
        let drained = try await CLI.run(["pool", "drain", "--networks"], environment: environment)
        #expect(drained.status == 0 && drained.stdoutText.contains("drained 2 ready network(s)"), "\(drained)")
        #expect(try await ready() == 1, "network.ready (1) should be kept")
        environment["CODERUNNER_NETWORK_READY"] = "0"
        let all = try await CLI.run(["pool", "drain", "--networks"], environment: environment)
        #expect(all.status == 0 && all.stdoutText.contains("drained 1 ready network(s)"), "\(all)")
        #expect(try await ready() == 0)
        let mixed = try await CLI.run(["pool", "drain", "--networks", "--session", "x"], environment: environment)
        #expect(mixed.status == 64 && mixed.stderr.contains("leave out --session"), "\(mixed)")
        try await pool.removeNetworks()
        try await Live.expectNoLeaks()
    }

    @Test func aKilledHoldersLeaseIsReclaimedByTheNextSession() async throws {
        let pool = try await Live.privatePool("10.99.21.0/24")
        var environment = pool.environment
        environment["CODERUNNER_RUN_NETWORK"] = "session"  // a one-shot run with a network of its own (leased)
        environment["CODERUNNER_RUN_STANDBY"] = "0"
        let dir = try CLI.folder([("loop.py", "import time\nprint('up', flush=True)\nwhile True: time.sleep(0.1)\n"), ("hello.py", "print('hello')")])
        let holder = try CLIProcess(["run", dir + "/loop.py"], environment: environment)
        #expect(await holder.waitForStdout("up", timeout: .seconds(60)))
        let leases = try await Live.engine().containers(labeled: [ResourceLabel.lease, "\(ResourceLabel.ownerPID)=\(holder.pid)"])
        #expect(leases.count == 1, "\(leases.map(\.name))")
        holder.send(SIGKILL)
        _ = await holder.finish(timeout: .seconds(30))
        // The program stops (its stdin closed) and its container goes; the lease of the dead process stays.
        let engine = try Live.engine()
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !engine.containers(labeled: ["\(ResourceLabel.ownerPID)=\(holder.pid)"]).filter({ $0.labels[ResourceLabel.lease] == nil })
            .isEmpty,
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(200))
        }
        // The next session finds the pool's only network held by a dead process with nothing left, and takes it.
        let session = "lease-c-" + DockerProbe.randomSuffix()
        let next = try await CLI.run(["run", "--session", session, dir + "/hello.py"], environment: pool.environment)
        #expect(next.status == 0 && next.stdoutText == "hello\n", "\(next)")
        #expect(try await Live.sessionNetworks(session).count == 1)
        #expect(
            try await engine.containers(labeled: [ResourceLabel.lease, "\(ResourceLabel.ownerPID)=\(holder.pid)"]).isEmpty,
            "the dead holder's lease is still there")
        await DockerProbe.removeSession(session)
        try await pool.removeNetworks()
        try await Live.expectNoLeaks()
    }

    @Test func aNetworkWithAStrandedContainerIsNeverLeasedAgain() async throws {
        let pool = try await Live.privatePool("10.99.22.0/24")
        let environment = pool.environment
        let dir = try CLI.folder([("hello.py", "print('hello')")])
        let first = "lease-d-" + DockerProbe.randomSuffix()
        #expect(try await CLI.run(["run", "--session", first, dir + "/hello.py"], environment: environment).status == 0)
        let network = try #require(try await Live.sessionNetworks(first).first)
        // Something outside coderunner joins the session's network, then the session ends.
        let stranger = "lease-stranger-" + DockerProbe.randomSuffix()
        let started = try Live.docker([
            "run", "-d", "--rm", "--network", network.name, "--name", stranger, "--entrypoint", "sleep",
            "coderunner/python:latest", "300",
        ])
        #expect(started.status == 0, "\(started.stderr)")
        defer { _ = try? Live.docker(["rm", "-f", stranger]) }
        #expect(try await CLI.run(["pool", "drain", "--session", first], environment: environment).status == 0)
        // The pool's only network has a container attached: a new session may not share it, and says the pool is full.
        let second = "lease-e-" + DockerProbe.randomSuffix()
        let refused = try await CLI.run(["run", "--session", second, dir + "/hello.py"], environment: environment)
        #expect(refused.status == 125 && refused.stderr.contains("10.99.22.0/24"), "\(refused)")
        #expect(try await Live.sessionNetworks(second).isEmpty)
        // Once the stranger is gone, the network is leased again.
        _ = try Live.docker(["rm", "-f", stranger])
        let after = try await CLI.run(["run", "--session", second, dir + "/hello.py"], environment: environment)
        #expect(after.status == 0 && after.stdoutText == "hello\n", "\(after)")
        #expect(try await Live.sessionNetworks(second).map(\.id) == [network.id])
        await DockerProbe.removeSession(second)
        try await pool.removeNetworks()
        try await Live.expectNoLeaks()
    }
}
