import CodeRunnerTesting
import Testing

@testable import CodeRunnerCore

/// What `net gc` removes and what it leaves, and how a restarted process recovers the network state from Docker's
/// labels alone. Against `InMemoryEngine` (no Docker); "another process" is another `CodeRunner` on the same engine.
struct GarbageCollectionTests {
    static let limits = SessionStandbyTests.limits
    static let runtime = SessionStandbyTests.runtime

    /// A container as `CodeRunner` makes it, owned by `ownerPID` (a dead one makes it a crashed process's).
    static func container(
        _ runner: CodeRunner, session: String, ephemeral: Bool, ownerPID: Int32? = nil, start: Bool = true,
        name: String? = nil
    ) async throws -> String {
        var labels: [String: String] = [:]
        if let ownerPID { labels[ResourceLabel.ownerPID] = String(ownerPID) }
        return try await runner.createContainer(
            for: runtime, limits: limits, session: session, network: nil, ephemeral: ephemeral,
            extraLabels: labels, name: name, start: start)
    }

    @Test func onlyWhatDeadProcessesLeftIsCollectedAndADryRunRemovesNothing() async throws {
        let engine = InMemoryEngine()
        let runner = try RunPathTests.runner(engine)
        let dead = NetworkLeaseTests.deadPID()
        let crashed = try await Self.container(runner, session: "run-crashed", ephemeral: true, ownerPID: dead)
        let live = try await Self.container(runner, session: "run-live", ephemeral: true)
        let named = try await Self.container(runner, session: "notes", ephemeral: false, ownerPID: dead)
        let neverStarted = try await Self.container(runner, session: "run-half", ephemeral: true, ownerPID: dead, start: false)
        let starting = try await Self.container(runner, session: "run-starting", ephemeral: true, start: false)
        // A claimed standby is in use by a run whose process is not on its labels (its keeper's is): left alone.
        let claimed = try await Self.container(
            runner, session: "standby-x", ephemeral: true, ownerPID: dead,
            name: "coderunner-standby-x-python" + CodeRunner.claimedSuffix)
        let collector = GarbageCollector(engine: engine, settings: runner.settings)

        let planned = try await collector.collect(all: false, dryRun: true)
        let names = Dictionary(uniqueKeysWithValues: try await engine.containers(labeled: []).map { ($0.id, $0.name) })
        #expect(Set(planned.map(\.name)) == Set([names[crashed], names[neverStarted]].compactMap { $0 }), "\(planned)")
        #expect(try await engine.containers(labeled: [ResourceLabel.managed]).count == 6, "a dry run removed something")

        let removed = try await collector.collect(all: false, dryRun: false)
        #expect(removed.map(\.name).sorted() == planned.map(\.name).sorted())
        let left = Set(try await engine.containers(labeled: [ResourceLabel.managed]).map(\.id))
        #expect(left == [live, named, starting, claimed])
        #expect(!left.contains(crashed) && !left.contains(neverStarted))

        let everything = try await collector.collect(all: true, dryRun: false)
        #expect(everything.count == 4 && everything.allSatisfy { $0.reason == "--all" }, "\(everything)")
        #expect(try await engine.containers(labeled: []).isEmpty)
    }

    /// A named session's network is held while it has a container; once its containers expired, `net gc` gives the
    /// network back to the pool (after the lease's grace) instead of leaving it looking leaked.
    @Test func aNamedSessionWhoseContainersExpiredGivesItsNetworkBack() async throws {
        let engine = InMemoryEngine()
        let runner = try RunPathTests.runner(engine, readyNetworks: 1)
        let (result, _) = await RunPathTests.run(runner, try RunPathTests.request("print hi", session: "lesson"))
        #expect(result.status == .ok)
        let container = try #require(try await engine.containers(labeled: ["\(ResourceLabel.session)=lesson"]).first)
        let collector = GarbageCollector(engine: engine, settings: runner.settings)
        #expect(try await collector.collect(all: false, dryRun: true).isEmpty, "a live session's network was to be collected")
        await engine.expire(container.id)
        // Within the grace a lease without containers stays (its first container may be on its way)...
        #expect(try await collector.collect(all: false, dryRun: true).filter { $0.kind == "lease" }.isEmpty)
        // ...past it, it goes, and the network is ready again.
        let lease = try #require(try await engine.containers(labeled: [ResourceLabel.lease]).first)
        try await NetworkLeaseTests.replaceLease(lease, in: engine) {
            $0[ResourceLabel.created] = String(Int(SessionNetworks.now() - GarbageCollector.leaseGraceSeconds - 1))
        }
        let collected = try await collector.collect(all: false, dryRun: false)
        #expect(collected.filter { $0.kind == "lease" }.count == 1, "\(collected)")
        #expect(try await runner.networks.occupancy() == (ready: 1, leased: 0))
    }

    /// A container of a live process between create and start is left while younger than gc.orphanAge, although Docker
    /// lists its creation time in whole seconds (one made 0.1 s ago may look 1.1 s old); past the age plus that second it goes.
    @Test func aCreatedContainerOfALiveProcessIsLeftForItsOrphanAge() async throws {
        let engine = InMemoryEngine()
        var configuration = Configuration()
        try configuration.set("network.pools", "10.64.0.0/12", source: .environment)
        try configuration.set("gc.orphanAge", "1s", source: .environment)
        let runner = try CodeRunner(engine: engine, settings: try EngineSettings(configuration))
        let starting = try await Self.container(runner, session: "run-starting", ephemeral: true, start: false)
        let name = try #require(await engine.containers(labeled: []).first?.name)
        let collector = GarbageCollector(engine: engine, settings: runner.settings)
        await engine.setCreated(starting, wholeSecondsAgo: 1)  // listed 1.x s old: maybe made a moment ago
        #expect(try await collector.collect(all: false, dryRun: false).isEmpty)
        await engine.setCreated(starting, wholeSecondsAgo: 2)  // surely older than 1 s
        #expect(try await collector.collect(all: false, dryRun: false).map(\.name) == [name])
    }

    /// A sweep's list of ready networks is old by the time it removes one: a session of another process may have leased
    /// it meanwhile. The removal is claimed under the network's lease name, so that session's network stays (without the
    /// claim the network went, and the session's first container could not be made on it).
    @Test func aNetworkLeasedWhileASweepRemovesItStaysWithItsSession() async throws {
        let engine = InMemoryEngine()
        let sweeper = try RunPathTests.runner(engine)
        let other = try RunPathTests.runner(engine)
        await engine.addImage(Self.runtime.image)
        #expect(try await other.networks.fill(count: 1) == 1)
        let leased = Locked<SessionNetwork?>(nil)
        await engine.beforeNext("removeNetwork") {
            let network = try? await other.networks.create(session: "lesson", ephemeral: false, image: Self.runtime.image)
            leased.withLock { $0 = network }
        }
        let collector = GarbageCollector(engine: engine, settings: sweeper.settings, claimImages: [Self.runtime.image])
        let removals = try await collector.collect(all: false, dryRun: false)
        let network = try #require(leased.withLock { $0 }, "the session could not lease a network")
        #expect(try await engine.network(network.id) != nil, "the sweep removed a network leased since its list: \(removals)")
        #expect(try await other.networks.find(session: "lesson")?.id == network.id)
        #expect(try await engine.containers(labeled: [ResourceLabel.lease]).count == 1, "the sweep's claim was left")
    }

    /// A process that starts on an engine with sessions of others finds their networks by their labels: it never hands
    /// out a subnet in use (ours or another program's), and a session it resumes gets the network it had.
    @Test func aNewProcessRecoversEveryLeaseAndSubnetFromTheEngine() async throws {
        let engine = InMemoryEngine()
        // Another program's network inside our pools.
        _ = try await engine.createNetwork(
            NetworkSpec(
                name: "someone-else", subnet: try #require(IPv4Network("10.64.0.0/24")),
                driver: "bridge", isInternal: false, labels: [:]))
        let first = try RunPathTests.runner(engine)
        var held: [String: SessionNetwork] = [:]
        for session in ["a", "b", "c"] {
            held[session] = try await first.networks.create(session: session, ephemeral: false, image: NetworkLeaseTests.image)
        }
        let restarted = try RunPathTests.runner(engine)
        for (session, network) in held {
            #expect(try await restarted.networks.find(session: session) == network)
        }
        var fresh: [SessionNetwork] = []
        for index in 0..<20 {
            fresh.append(try await restarted.networks.create(session: "new-\(index)", ephemeral: true, image: NetworkLeaseTests.image))
        }
        let subnets = Set(try await engine.networks(labeled: []).flatMap(\.subnets))
        #expect(subnets.count == 3 + 1 + 20, "two networks share a subnet")
        #expect(Set(fresh.map(\.subnet)).isDisjoint(with: held.values.map(\.subnet)))
        #expect(try await restarted.networks.occupancy().leased == 23)
    }
}
