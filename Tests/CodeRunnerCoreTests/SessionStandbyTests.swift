import CodeRunnerTesting
import Testing

@testable import CodeRunnerCore

/// `serve`'s ready sessions (`SessionStandbys`): each handed out once however many connections ask at once, only to a
/// run whose container limits match, retired before its agent would exit, all removed on shutdown. Against
/// `InMemoryEngine` (no Docker).
struct SessionStandbyTests {
    static let runtime = Runtime(manifest: ConfigurationTests.manifest, directory: "/nonexistent", image: "coderunner/python:latest")
    static let limits = RunLimits(
        timeout: .seconds(10), compileTimeout: .seconds(30), memoryBytes: 128 << 20, cpus: 1, pids: 128,
        outputLimitBytes: 1 << 20)

    static func standbys(_ engine: InMemoryEngine, count: Int = 3, ttl: Duration = .seconds(600)) throws -> SessionStandbys {
        let settings = try NetworkLeaseTests.settings(ready: 0)
        let runner = try CodeRunner(engine: engine, settings: settings)
        return SessionStandbys(
            runner: runner, wanted: ["python": count], runtimes: ["python": runtime], limits: ["python": limits],
            unusedTTL: ttl)
    }

    static func fill(_ standbys: SessionStandbys) async {
        while await standbys.refillOnce() {}
    }

    @Test func manyConnectionsAtOnceTakeEachReadySessionOnce() async throws {
        let engine = InMemoryEngine()
        let standbys = try Self.standbys(engine, count: 5)
        await Self.fill(standbys)
        #expect(await standbys.counts["python"]?.ready == 5)
        let made = try await engine.containers(labeled: [ResourceLabel.serveStandby])
        #expect(made.count == 5 && made.allSatisfy { $0.state == "running" && $0.labels[ResourceLabel.ephemeral] == "1" })
        // Each is a session's first container, on a network of its own leased for that session.
        for container in made {
            let session = try #require(container.labels[ResourceLabel.session])
            #expect(container.name == CodeRunner.preferredContainerName(session: session, language: "python"))
            #expect(await engine.command(of: container.id)?.contains("--unused-ttl") == true)
        }
        #expect(Set(await made.asyncMap { await engine.network(of: $0.id) ?? "" }).count == 5)
        let taken = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<50 { group.addTask { await standbys.take(language: "python", limits: Self.limits) } }
            return await group.reduce(into: [String]()) { if let session = $1 { $0.append(session) } }
        }
        #expect(taken.count == 5 && Set(taken).count == 5, "a ready session was handed out twice or lost: \(taken)")
        #expect(Set(taken) == Set(made.compactMap { $0.labels[ResourceLabel.session] }))
        let statistics = await standbys.statistics
        #expect(statistics.taken == 5 && statistics.missed == 45)
        #expect(await standbys.take(language: "python", limits: Self.limits) == nil)
    }

    @Test func onlyARunWithTheSameContainerLimitsTakesOne() async throws {
        let standbys = try Self.standbys(InMemoryEngine(), count: 1)
        await Self.fill(standbys)
        var tighter = Self.limits
        tighter.memoryBytes = 64 << 20
        #expect(await standbys.take(language: "python", limits: tighter) == nil)
        #expect(await standbys.take(language: "javascript", limits: Self.limits) == nil)
        // Run-stage limits are the agent's, per run: a shorter timeout still takes it.
        var shorterTimeout = Self.limits
        shorterTimeout.timeout = .seconds(1)
        #expect(await standbys.take(language: "python", limits: shorterTimeout) != nil)
    }

    @Test func oneNearItsExpiryIsReplacedNotHandedOut() async throws {
        let engine = InMemoryEngine()
        let standbys = try Self.standbys(engine, count: 1, ttl: .seconds(20))
        await Self.fill(standbys)
        let first = try #require(try await engine.containers(labeled: [ResourceLabel.serveStandby]).first)
        let later = ContinuousClock.now + .seconds(16)  // within 5 s of the agent's exit
        #expect(await standbys.take(language: "python", limits: Self.limits, now: later) == nil)
        #expect(await standbys.refillOnce(now: later))
        let now = try await engine.containers(labeled: [ResourceLabel.serveStandby])
        #expect(now.count == 1 && now[0].id != first.id, "the old one was not replaced")
        #expect(await standbys.statistics.expired == 1)
        // Its lease went back: only the new session holds a network.
        let leases = try await engine.containers(labeled: [ResourceLabel.lease])
        #expect(leases.map { $0.labels[ResourceLabel.leaseSession] } == [now[0].labels[ResourceLabel.session]])
    }

    @Test func shutdownRemovesEveryUntakenSessionAndMakesNoMore() async throws {
        let engine = InMemoryEngine()
        let standbys = try Self.standbys(engine, count: 3)
        await Self.fill(standbys)
        let taken = try #require(await standbys.take(language: "python", limits: Self.limits))
        await standbys.removeAll()
        let left = try await engine.containers(labeled: [ResourceLabel.managed])
        // The taken one is its connection's to end; nothing else is left, leases included.
        #expect(Set(left.compactMap { $0.labels[ResourceLabel.session] ?? $0.labels[ResourceLabel.leaseSession] }) == [taken])
        #expect(await standbys.refillOnce() == false)
        #expect(await standbys.counts["python"]?.ready == 0)
    }

    @Test func standbyCountsParseAndBadOnesSayHow() throws {
        #expect(try SessionStandbys.parseCounts("python=2, javascript=1") == ["python": 2, "javascript": 1])
        #expect(try SessionStandbys.parseCounts("") == [:])
        for bad in ["python", "python=-1", "=2", "python=two", "python=2;java=1"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try SessionStandbys.parseCounts(bad) }
        }
        do {
            _ = try SessionStandbys.parseCounts("python=x")
        } catch {
            #expect(error.description.contains("python=2,javascript=1"))
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async -> T) async -> [T] {
        var result: [T] = []
        for element in self { result.append(await transform(element)) }
        return result
    }
}

extension SessionStandbyTests {
    @Test func readySessionsNeverCrowdOutRealOnes() async throws {
        let engine = InMemoryEngine()
        // Four /24s: two wanted ready, so at most two are made while more than two are free.
        let settings = try NetworkLeaseTests.settings(pools: "10.99.0.0/22", ready: 0)
        let runner = try CodeRunner(engine: engine, settings: settings)
        let standbys = SessionStandbys(
            runner: runner, wanted: ["python": 2], runtimes: ["python": Self.runtime],
            limits: ["python": Self.limits], unusedTTL: .seconds(600))
        await Self.fill(standbys)
        #expect(await standbys.counts["python"]?.ready == 2)
        // Real sessions take the other two /24s: nothing is free, so a ready one gives its network back.
        for session in ["a", "b"] { _ = try await runner.networks.create(session: session, ephemeral: true, image: Self.runtime.image) }
        #expect(await standbys.refillOnce() == false)
        #expect(await standbys.counts["python"]?.ready == 1)
        _ = try await runner.networks.create(session: "c", ephemeral: true, image: Self.runtime.image)
    }
}
