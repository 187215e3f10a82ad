import CodeRunnerTesting
import Testing

@testable import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// Session networks are leased from a pool (`SessionNetworks`): exactly one holder per network however many processes
/// lease at once, networks handed from session to session, dead holders reclaimed, stranded networks never re-leased.
/// Against `InMemoryEngine`, which keeps Docker's compare-and-set rules; every claimer is its own `SessionNetworks`,
/// as separate processes would be.
struct NetworkLeaseTests {
    static func settings(pools: String = "10.64.0.0/12", ready: Int = 8) throws -> EngineSettings {
        var configuration = Configuration()
        try configuration.set("network.pools", pools, source: .environment)
        try configuration.set("network.ready", String(ready), source: .environment)
        return try EngineSettings(configuration)
    }

    static let image = "coderunner/python:latest"

    /// A pid no process has (so the holder counts as gone): a child that has exited and been reaped.
    static func deadPID() -> pid_t {
        let pid = fork()
        if pid == 0 { _exit(0) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return pid
    }

    static func leases(_ engine: InMemoryEngine) async throws -> [ContainerInfo] {
        try await engine.containers(labeled: [ResourceLabel.lease])
    }

    /// Swaps a lease for one with other labels (a holder that died, a lease made long ago), as Docker would list it.
    static func replaceLease(_ lease: ContainerInfo, in engine: InMemoryEngine, change: (inout [String: String]) -> Void) async throws {
        try await engine.removeContainer(lease.id)
        var labels = lease.labels
        change(&labels)
        _ = try await engine.createContainer(
            ContainerSpec(
                name: lease.name, image: lease.image, command: ["lease"], environment: [], labels: labels, network: nil, user: "0:0",
                workingDirectory: "/", memoryBytes: 16 << 20, nanoCPUs: 0, pidsLimit: 1, tmpfs: [:], readOnlyRoot: true, maxOpenFiles: 16,
                autoRemove: false))
    }

    @Test func manyConcurrentClaimersNeverShareANetwork() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings()
        _ = try await SessionNetworks(engine: engine, settings: settings).fill(count: 20)
        // 300 "processes" lease at once for 300 sessions: 20 networks are ready, the rest are made.
        let leased = try await withThrowingTaskGroup(of: SessionNetwork.self) { group in
            for index in 0..<300 {
                group.addTask {
                    try await SessionNetworks(engine: engine, settings: settings).create(session: "s\(index)", ephemeral: true, image: Self.image)
                }
            }
            var all: [SessionNetwork] = []
            for try await network in group { all.append(network) }
            return all
        }
        #expect(Set(leased.map(\.id)).count == 300, "two sessions got one network")
        #expect(Set(leased.map(\.subnet)).count == 300)
        let leases = try await Self.leases(engine)
        #expect(leases.count == 300)
        #expect(Set(leases.compactMap { $0.labels[ResourceLabel.lease] }).count == 300, "a network has two leases")
        // Claimers race for fresh networks too, so a few more may be made than needed; none is lost (all are listed).
        let networks = try await engine.networks(labeled: [ResourceLabel.pool])
        #expect(networks.count >= 300 && networks.count < 360, "\(networks.count) networks for 300 sessions")
    }

    @Test func aFullPoolSaysSoAndCapacityReturnsOnRelease() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings(pools: "10.99.0.0/22")  // four /24s
        let outcomes = await withTaskGroup(of: Result<SessionNetwork, any Error>.self) { group in
            for index in 0..<12 {
                group.addTask {
                    do {
                        return .success(
                            try await SessionNetworks(engine: engine, settings: settings)
                                .create(session: "c\(index)", ephemeral: true, image: Self.image))
                    } catch { return .failure(error) }
                }
            }
            var all: [Result<SessionNetwork, any Error>] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let held = outcomes.compactMap { try? $0.get() }
        #expect(held.count == 4 && Set(held.map(\.id)).count == 4, "\(held.map(\.name))")
        for case .failure(let error) in outcomes {
            #expect("\(error)".contains("10.99.0.0/22"), "the error should name the pool: \(error)")
        }
        // One session ends: its network is ready for the next, not deleted.
        let networks = try SessionNetworks(engine: engine, settings: settings)
        await networks.remove(held[0])
        let next = try await networks.create(session: "late", ephemeral: true, image: Self.image)
        #expect(next.id == held[0].id, "the returned network was not reused")
        #expect(try await engine.networks(labeled: [ResourceLabel.pool]).count == 4)
    }

    @Test func aNamedSessionFindsItsNetworkAndTwoStartersSettleOnOne() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings()
        let both = try await withThrowingTaskGroup(of: SessionNetwork.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await SessionNetworks(engine: engine, settings: settings).create(session: "ci-42", ephemeral: false, image: Self.image)
                }
            }
            var all: [SessionNetwork] = []
            for try await network in group { all.append(network) }
            return all
        }
        #expect(both[0].id == both[1].id, "one named session got two networks")
        #expect(try await Self.leases(engine).count == 1, "the loser's lease was not given back")
        let found = try await SessionNetworks(engine: engine, settings: settings).find(session: "ci-42")
        #expect(found?.id == both[0].id && found?.creator == settings.sessionCreator)
        #expect(try await SessionNetworks(engine: engine, settings: settings).find(session: "other") == nil)
    }

    @Test func aDeadHoldersNetworkIsReclaimedOnlyOnceNothingOfItsSessionIsLeft() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings(pools: "10.99.0.0/24")  // one network: the new session must reclaim it
        let networks = try SessionNetworks(engine: engine, settings: settings)
        let first = try await networks.create(session: "run-dead", ephemeral: true, image: Self.image)
        // The holder dies (its lease says so): swap the lease for one owned by a pid that is gone.
        let lease = try #require(try await Self.leases(engine).first)
        try await Self.replaceLease(lease, in: engine) { $0[ResourceLabel.ownerPID] = String(Self.deadPID()) }
        // A container of the dead session is still there (stranded): the network is not handed out.
        let stranded = try await engine.createContainer(
            ContainerSpec(
                name: "coderunner-run-dead-python", image: Self.image, command: [], environment: [],
                labels: [ResourceLabel.managed: "1", ResourceLabel.session: "run-dead"], network: first.id, user: "0:0", workingDirectory: "/",
                memoryBytes: 16 << 20, nanoCPUs: 0, pidsLimit: 1, tmpfs: [:], readOnlyRoot: true, maxOpenFiles: 16, autoRemove: false))
        await #expect(throws: (any Error).self) {
            _ = try await networks.create(session: "run-next", ephemeral: true, image: Self.image)
        }
        // Once it is gone, the next session reclaims the network.
        try await engine.removeContainer(stranded)
        let next = try await networks.create(session: "run-next", ephemeral: true, image: Self.image)
        #expect(next.id == first.id)
        let holders = try await Self.leases(engine).compactMap { $0.labels[ResourceLabel.leaseSession] }
        #expect(holders == ["run-next"], "\(holders)")
    }

    @Test func aNetworkWithSomethingAttachedIsNeverLeased() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings(pools: "10.99.0.0/23")
        let networks = try SessionNetworks(engine: engine, settings: settings)
        _ = try await networks.fill(count: 1)
        let ready = try #require(try await engine.networks(labeled: [ResourceLabel.pool]).first)
        // Something runs on the ready network without a lease (a foreign container, a bug elsewhere).
        let intruder = try await engine.createContainer(
            ContainerSpec(
                name: "someone", image: Self.image, command: [], environment: [], labels: [:], network: ready.id, user: "0:0",
                workingDirectory: "/", memoryBytes: 16 << 20, nanoCPUs: 0, pidsLimit: 1, tmpfs: [:], readOnlyRoot: true, maxOpenFiles: 16,
                autoRemove: false))
        try await engine.startContainer(intruder)
        let leased = try await networks.create(session: "careful", ephemeral: true, image: Self.image)
        #expect(leased.id != ready.id, "a network with a container attached was leased")
        #expect(try await Self.leases(engine).count == 1)
    }

    @Test func garbageCollectionGivesBackOverLeasesAndKeepsTheReadyOnes() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings(ready: 2)
        let networks = try SessionNetworks(engine: engine, settings: settings)
        _ = try await networks.fill(count: 5)
        let live = try await networks.create(session: "run-live", ephemeral: true, image: Self.image)
        _ = live
        let removals = try await GarbageCollector(engine: engine, settings: settings).collect(all: false, dryRun: false)
        // Our own process holds run-live: its lease stays. Five networks were ready, one is leased now: 4 ready, 2 kept.
        #expect(removals.filter { $0.kind == "lease" }.isEmpty, "\(removals)")
        #expect(removals.filter { $0.kind == "network" }.count == 2, "\(removals)")
        let all = try await GarbageCollector(engine: engine, settings: settings).collect(all: true, dryRun: false)
        #expect(all.filter { $0.kind == "lease" }.count == 1 && all.filter { $0.kind == "network" }.count == 3, "\(all)")
        let networksLeft = try await engine.networks(labeled: [])
        let containersLeft = try await engine.containers(labeled: [])
        #expect(networksLeft.isEmpty && containersLeft.isEmpty)
    }

    /// A network Docker refuses to remove (something not ours still attached, or endpoints dockerd kept) is reported as
    /// failed with Docker's answer, never counted as removed.
    @Test func aNetworkThatCannotBeRemovedIsReportedAsFailed() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings(ready: 0)
        _ = try await SessionNetworks(engine: engine, settings: settings).fill(count: 2)
        let stuck = try #require(try await engine.networks(labeled: [ResourceLabel.pool]).first)
        _ = try await engine.createContainer(
            ContainerSpec(
                name: "not-ours", image: Self.image, command: [], environment: [], labels: [:], network: stuck.id, user: "0:0",
                workingDirectory: "/", memoryBytes: 16 << 20, nanoCPUs: 0, pidsLimit: 1, tmpfs: [:], readOnlyRoot: true, maxOpenFiles: 16,
                autoRemove: false))
        let removals = try await GarbageCollector(engine: engine, settings: settings).collect(all: true, dryRun: false)
        let networks = removals.filter { $0.kind == "network" }
        #expect(networks.count == 2 && networks.filter { $0.failed == nil }.count == 1, "\(removals)")
        #expect(networks.first { $0.name == stuck.name }?.failed?.contains("active endpoints") == true, "\(removals)")
    }

    /// `pool` in any process counts networks being made: a creation marker exists while Docker makes each one, is
    /// gone afterwards, and is counted as creating in its pool, not listed as a session's container.
    @Test func networksBeingMadeAreMarkedAndCountedAsCreating() async throws {
        let engine = InMemoryEngine()
        let settings = try Self.settings(pools: "10.99.0.0/23", ready: 0)
        let networks = try SessionNetworks(engine: engine, settings: settings)
        #expect(try await networks.fill(count: 2, markerImage: Self.image) == 2)
        let markersSeen = await engine.markersDuringNetworkCreation
        #expect(markersSeen.count == 2 && markersSeen.allSatisfy { $0 >= 1 }, "\(markersSeen)")
        #expect(try await engine.containers(labeled: [ResourceLabel.networkCreating]).isEmpty, "a marker was left")
        // Another process's marker, as `pool` would find it mid-creation.
        _ = try await engine.createContainer(
            ContainerSpec(
                name: nil, image: Self.image, command: ["creating"], environment: [],
                labels: [ResourceLabel.managed: "1", ResourceLabel.networkCreating: "10.99.1.0/24", ResourceLabel.ownerPID: "1"],
                network: nil, user: "0:0", workingDirectory: "/", memoryBytes: 16 << 20, nanoCPUs: 0, pidsLimit: 1, tmpfs: [:],
                readOnlyRoot: true, maxOpenFiles: 16, autoRemove: false))
        let report = try await Inventory(engine: engine, settings: settings).report(withAgentStatus: false)
        let pool = try #require(report.pools.first)
        #expect(pool.ready == 2 && pool.leased == 0 && pool.creating == 1, "\(pool)")
        #expect(report.containerCount == 0 && report.sessions.isEmpty, "the marker was listed as a container: \(report.sessions)")
    }

    /// Fifty sessions at once on an empty pool: each needs a new network, and no more than
    /// `SessionNetworks.creationsInDocker` creations are sent to the engine at once (dockerd would queue the rest past
    /// its API timeout); the others wait their turn and all succeed.
    @Test func networkCreationsAreQueuedInTheProcessNotInDocker() async throws {
        let engine = InMemoryEngine()
        await engine.setNetworkCreationTime(.milliseconds(20))
        let settings = try Self.settings(ready: 0)
        let networks = try SessionNetworks(engine: engine, settings: settings)
        let leased = try await withThrowingTaskGroup(of: SessionNetwork.self) { group in
            for index in 0..<50 {
                group.addTask { try await networks.create(session: "q\(index)", ephemeral: true, image: Self.image) }
            }
            return try await group.reduce(into: [SessionNetwork]()) { $0.append($1) }
        }
        #expect(Set(leased.map(\.id)).count == 50)
        let most = await engine.mostNetworkCreationsAtOnce
        #expect(most <= SessionNetworks.creationsInDocker && most > 1, "\(most) creations at once")
    }
}
