import CodeRunnerDocker
import Foundation
import ServerTestSupport
import Testing

@testable import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// Standby containers (`run.standby`): a one-shot `coderunner run` leaves a started container for the next one, which
/// takes it instead of creating its own; each is used once, by one run only, and nothing outlives it.
@Suite("standby containers", .serialized, .docker)
struct StandbyTests {
    static let enabled = ["CODERUNNER_RUN_STANDBY": "1"]

    /// The running standby containers (claimed or not) for a language.
    static func standbys(_ language: String) async throws -> [ContainerInfo] {
        try await Live.engine().containers(labeled: [ResourceLabel.managed, ResourceLabel.standby, "\(ResourceLabel.language)=\(language)"])
            .filter { $0.state == "running" }
    }

    /// Waits for a standby other than `excluding` to be running.
    static func waitForStandby(_ language: String, excluding: Set<String> = [], timeout: Duration = .seconds(60)) async throws -> ContainerInfo {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = try await standbys(language).first(where: { !excluding.contains($0.id) }) { return found }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("no standby \(language) container appeared within \(timeout)")
    }

    /// Waits until nothing of these sessions (container or network) is left.
    static func expectGone(sessions: [String], timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let engine = try Live.engine()
        let deadline = ContinuousClock.now + timeout
        var left: [String] = []
        repeat {
            left = []
            for session in sessions {
                let label = "\(ResourceLabel.session)=\(session)"
                left += try await engine.containers(labeled: [label]).map(\.name) + engine.networks(labeled: [label]).map(\.name)
            }
            if left.isEmpty { return }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now < deadline
        #expect(left.isEmpty, "still there after \(timeout): \(left)", sourceLocation: sourceLocation)
    }

    /// Removes every standby container (their keepers then remove the networks) and waits until all is gone.
    static func drain(_ language: String) async throws {
        let engine = try Live.engine()
        let all = try await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.standby])
        for container in all { try? await engine.removeContainer(container.id) }
        let sessions = all.compactMap { $0.labels[ResourceLabel.session] }
        for session in sessions {
            // Normally the keeper does this; a keeper killed with an earlier test run would not.
            for lease in try await engine.containers(labeled: ["\(ResourceLabel.leaseSession)=\(session)"]) {
                try? await engine.removeContainer(lease.id)
            }
        }
        try await expectGone(sessions: sessions)
    }

    /// An engine with Python and its default limits, for tests that drive standbys without the CLI.
    static func pythonDefaults() throws -> (CodeRunner, Runtime, RunLimits) {
        let runner = try Live.runner()
        let runtime = try Live.catalog().runtime(named: "python")
        return (runner, runtime, try runner.settings.limits(for: runtime, configuration: Live.configuration()))
    }

    @Test func aOneShotRunLeavesAStandbyThatTheNextRunTakes() async throws {
        try await Self.drain("python")
        let program = try CLI.folder([("hello.py", "import sys\nprint('hello from', sys.argv[1:])\n")]) + "/hello.py"
        let first = try await CLI.run(["run", program, "--", "one"], environment: Self.enabled)
        #expect(first.status == 0 && first.stdoutText == "hello from ['one']\n", "\(first)")
        let standby = try await Self.waitForStandby("python")
        let standbySession = try #require(standby.labels[ResourceLabel.session])
        #expect(SessionName.isStandby(standbySession))
        #expect(standby.labels[ResourceLabel.ephemeral] == "1", "a standby is collected like a one-shot run's resources when its keeper dies")

        // The next one-shot run takes it: afterwards that container and its network are gone, and the run's output is right.
        let second = try await CLI.run(["run", program, "--", "two"], environment: Self.enabled)
        #expect(second.status == 0 && second.stdoutText == "hello from ['two']\n", "\(second)")
        try await Self.expectGone(sessions: [standbySession], timeout: .seconds(5))
        // ... and its keeper makes the next one.
        let next = try await Self.waitForStandby("python", excluding: [standby.id])
        #expect(next.labels[ResourceLabel.session] != standbySession)

        // A run with other container limits does not take it (and leaves no standby of its own).
        let other = try await CLI.run(["run", "--memory", "100m", program, "--", "three"], environment: Self.enabled)
        #expect(other.status == 0 && other.stdoutText == "hello from ['three']\n", "\(other)")
        try await Task.sleep(for: .seconds(2))
        #expect(try await Self.standbys("python").map(\.id) == [next.id], "the standby should be untouched and alone")

        // With run.standby = 0 a run neither takes one nor leaves one.
        let off = try await CLI.run(["run", program, "--", "four"], environment: ["CODERUNNER_RUN_STANDBY": "0"])
        #expect(off.status == 0 && off.stdoutText == "hello from ['four']\n", "\(off)")
        try await Task.sleep(for: .seconds(2))
        #expect(try await Self.standbys("python").map(\.id) == [next.id])

        try await Self.drain("python")
        try await Live.expectNoLeaks()
    }

    /// Many runs reach for one standby at once: exactly one gets it.
    @Test func onlyOneClaimWins() async throws {
        try await Self.drain("python")
        let (runner, runtime, limits) = try Self.pythonDefaults()
        let standby = try await runner.makeStandby(runtime: runtime, limits: limits)
        let claims = await withTaskGroup(of: StandbyContainer?.self) { group in
            for _ in 0..<8 { group.addTask { await runner.claimStandby(runtime: runtime, limits: limits) } }
            return await group.reduce(into: [StandbyContainer]()) { if let claim = $1 { $0.append(claim) } }
        }
        #expect(claims.count == 1, "claims: \(claims)")
        #expect(claims.first?.containerID == standby.containerID)
        #expect(claims.first?.network == standby.network)
        // Claimed means no longer offered.
        #expect(await runner.claimStandby(runtime: runtime, limits: limits) == nil)
        try await Live.engine().removeContainer(standby.containerID)
        if let network = standby.network { await runner.networks.remove(network) }
        try await Self.expectGone(sessions: [standby.session])
    }

    /// A keeper told to stop (SIGTERM, as a CI runner's clean-up sends) removes its unclaimed standby and network.
    @Test func aStoppedKeeperRemovesItsStandby() async throws {
        try await Self.drain("python")
        let program = try CLI.folder([("hello.py", "print('hi')\n")]) + "/hello.py"
        let run = try await CLI.run(["run", program], environment: Self.enabled)
        #expect(run.status == 0, "\(run)")
        let standby = try await Self.waitForStandby("python")
        let session = try #require(standby.labels[ResourceLabel.session])
        let keeper = try #require(standby.labels[ResourceLabel.ownerPID].flatMap(Int32.init))
        #expect(kill(keeper, SIGTERM) == 0)
        try await Self.expectGone(sessions: [session], timeout: .seconds(15))
        var stillThere = true
        for _ in 0..<50 where stillThere {
            stillThere = kill(keeper, 0) == 0
            if stillThere { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(!stillThere, "the keeper should exit after its clean-up")
    }

    /// A claimed standby that is gone before the run produced anything (it expired or was removed in between) is not a
    /// failure: it is cleaned up and the caller starts the run cold.
    @Test func aStandbyGoneAfterItsClaimFallsBackToAColdStart() async throws {
        try await Self.drain("python")
        let (runner, runtime, limits) = try Self.pythonDefaults()
        let made = try await runner.makeStandby(runtime: runtime, limits: limits)
        let claimed = try #require(await runner.claimStandby(runtime: runtime, limits: limits))
        try await Live.engine().removeContainer(claimed.containerID)
        let submission = try Submission(
            files: [SubmittedFile(path: "a.py", contents: Array("print(1)\n".utf8))], entry: "a.py",
            limits: runner.settings.submissionLimits)
        let request = RunRequest(
            submission: submission, runtime: runtime, arguments: [], environment: [], limits: limits,
            session: nil, fresh: true, useStandby: true)
        let outcome = try await runner.converseInStandby(claimed, request: request, input: nil) { _ in }
        #expect(outcome == nil, "no outcome: the caller goes cold")
        try await Self.expectGone(sessions: [made.session], timeout: .seconds(10))
        // And the whole run, with nothing to claim now, still works.
        let run = try await Live.run("python", [("a.py", "print(1)\n")], runner: runner)
        #expect(run.result.status == .ok && run.stdout == "1\n")
    }

    /// The keeper after a one-shot run also collects what process-owned sessions whose coderunner process is gone left (a
    /// run or keeper killed before its clean-up), once older than `container.ttl`: a stopped container, then the network;
    /// a live process's network and a `--session NAME` network are left alone.
    @Test func keepersCollectNetworksThatKilledOneShotRunsLeft() async throws {
        let engine = try Live.engine()
        var child: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { argv.forEach { free($0) } }
        try #require(posix_spawn(&child, "/bin/true", nil, nil, argv, environ) == 0)
        var status: Int32 = 0
        waitpid(child, &status, 0)  // reaped: no process has this pid now
        func network(_ tag: String, subnet: String, ephemeral: Bool, owner: pid_t) async throws -> String {
            var labels = [
                ResourceLabel.managed: "1", ResourceLabel.session: "gc-\(tag)-" + DockerProbe.randomSuffix(),
                ResourceLabel.ownerPID: String(owner), ResourceLabel.ownerHost: SessionNetworks.hostName,
            ]
            if ephemeral { labels[ResourceLabel.ephemeral] = "1" }
            return try await engine.createNetwork(
                NetworkSpec(
                    name: "coderunner-test-\(tag)-" + DockerProbe.randomSuffix(), subnet: try #require(IPv4Network(subnet)), driver: "bridge",
                    isInternal: true, labels: labels))
        }
        let orphan = try await network("orphan", subnet: "10.99.9.0/24", ephemeral: true, owner: child)
        // A container that was created in it but never started (its run was killed in between).
        let (runner, runtime, limits) = try Self.pythonDefaults()
        let orphanSession = try #require(try await engine.network(orphan)?.labels[ResourceLabel.session])
        let stranded = try await engine.createContainer(
            ContainerSpec(
                name: "coderunner-test-stranded-" + DockerProbe.randomSuffix(), image: runtime.image, command: ["true"], environment: [],
                labels: [
                    ResourceLabel.managed: "1", ResourceLabel.ephemeral: "1", ResourceLabel.session: orphanSession,
                    ResourceLabel.ownerPID: String(child), ResourceLabel.ownerHost: SessionNetworks.hostName,
                ],
                network: orphan, user: "1000:1000", workingDirectory: "/", memoryBytes: limits.memoryBytes, nanoCPUs: 1_000_000_000,
                pidsLimit: limits.pids, tmpfs: [:], readOnlyRoot: true, maxOpenFiles: runner.settings.maxOpenFiles, autoRemove: false))
        let live = try await network("live", subnet: "10.99.10.0/24", ephemeral: true, owner: getpid())
        let named = try await network("named", subnet: "10.99.11.0/24", ephemeral: false, owner: child)
        do {
            try await Task.sleep(for: .seconds(3))
            let program = try CLI.folder([("hello.py", "print('hi')\n")]) + "/hello.py"
            // Only a one-shot run with a network (run.network = session) can leave one; its clean-up keeper sweeps.
            let run = try await CLI.run(["run", program], environment: ["CODERUNNER_CONTAINER_TTL": "2s", "CODERUNNER_RUN_NETWORK": "session"])
            #expect(run.status == 0 && run.stdoutText == "hi\n", "\(run)")
            let deadline = ContinuousClock.now + .seconds(15)
            while try await engine.network(orphan) != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
            #expect(try await engine.network(orphan) == nil, "the killed run's network should have been collected")
            #expect(try await engine.containers(labeled: ["\(ResourceLabel.session)=\(orphanSession)"]).isEmpty, "and its stranded container")
            #expect(try await engine.network(live) != nil, "a live process's network must stay")
            #expect(try await engine.network(named) != nil, "a named session's network is for `net gc` to judge")
        } catch {
            try? await engine.removeContainer(stranded)
            for id in [orphan, live, named] { try? await engine.removeNetwork(id) }
            throw error
        }
        for id in [orphan, live, named] { try? await engine.removeNetwork(id) }
        try await Live.expectNoLeaks()
    }

    /// Unclaimed, a standby removes itself after `container.ttl` and its keeper then removes the network.
    @Test func anUnusedStandbyExpiresWithItsNetwork() async throws {
        try await Self.drain("python")
        let program = try CLI.folder([("hello.py", "print('hi')\n")]) + "/hello.py"
        var environment = Self.enabled
        environment["CODERUNNER_CONTAINER_TTL"] = "8s"  // claimable for 3 s (the last 5 s before expiry are not)
        let run = try await CLI.run(["run", program], environment: environment)
        #expect(run.status == 0, "\(run)")
        let standby = try await Self.waitForStandby("python")
        let session = try #require(standby.labels[ResourceLabel.session])
        try await Self.expectGone(sessions: [session], timeout: .seconds(30))
    }

    /// Back-to-back one-shot runs (a CI loop) find standbys ready: the next one is prepared as soon as a run has its
    /// container, and keepers keep as many as the runs of the last `run.standbyWindow` need, up to `run.standby`. After a
    /// quiet spell the standbys shrink back to `run.standbyFloor`.
    @Test func aBurstIsServedWarmAndAQuietSpellShrinksToTheFloor() async throws {
        try await Self.drain("python")
        // Its own TMPDIR: the demand file and the lock are this test's alone.
        let temporary = try CLI.folder([])
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        let environment = [
            "CODERUNNER_RUN_STANDBY": "3", "CODERUNNER_RUN_STANDBY_FLOOR": "1", "CODERUNNER_RUN_STANDBY_WINDOW": "8s",
            "CODERUNNER_TRACE": "1", "TMPDIR": temporary,
        ]
        let program = try CLI.folder([("hello.py", "print('hi')\n")]) + "/hello.py"
        var warm: [Bool] = []
        for _ in 0..<10 {
            let run = try await CLI.run(["run", program], environment: environment)
            #expect(run.status == 0 && run.stdoutText == "hi\n", "\(run)")
            warm.append(run.stderr.contains("standby claimed"))
        }
        // The first run is cold; after it, the keepers keep up with the loop.
        #expect(warm.first == false)
        #expect(warm.dropFirst().filter { $0 }.count >= 8, "runs that found a standby: \(warm)")
        // Ten runs within the window: the keepers keep the ceiling of 3 ready, never more.
        func ready() async throws -> Int { try await Self.standbys("python").filter { !$0.name.hasSuffix("-claimed") }.count }
        var mostReady = 0
        let filled = ContinuousClock.now + .seconds(5)
        while mostReady < 3, ContinuousClock.now < filled {
            mostReady = max(mostReady, try await ready())
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(mostReady == 3, "after a burst, run.standby standbys are ready: \(mostReady)")

        // Quiet: once the window has no runs, the keepers retire what is above the floor.
        let deadline = ContinuousClock.now + .seconds(30)
        var left = try await ready()
        while left > 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            left = try await ready()
        }
        #expect(left == 1, "an idle machine keeps the floor of 1 standby, not \(left)")
        try await Self.drain("python")
        try await Live.expectNoLeaks()
    }
}
