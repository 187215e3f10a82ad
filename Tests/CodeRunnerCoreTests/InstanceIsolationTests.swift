import CodeRunnerTesting
import Testing

@testable import CodeRunnerCore

/// Nodes that share one engine (`server.instance`, disjoint `network.pools`): a node's sweep never collects another
/// live node's containers, leases or ready networks, only its own and those of instances whose process is gone; and
/// pools that overlap another instance's networks are found. Against `InMemoryEngine` (no Docker).
struct InstanceIsolationTests {
    static func runner(_ engine: InMemoryEngine, instance: String, pools: String, readyNetworks: Int = 0) throws -> CodeRunner {
        var configuration = Configuration()
        try configuration.set("network.pools", pools, source: .environment)
        try configuration.set("network.ready", String(readyNetworks), source: .environment)
        try configuration.set("run.network", "none", source: .environment)
        try configuration.set("run.standby", "0", source: .environment)
        try configuration.set("server.instance", instance, source: .environment)
        try configuration.set("gc.orphanAge", "1s", source: .environment)
        return try CodeRunner(engine: engine, settings: try EngineSettings(configuration))
    }

    @Test func aSweepLeavesAnotherLiveInstancesResourcesAlone() async throws {
        let engine = InMemoryEngine()
        let nodeA = try Self.runner(engine, instance: "node-a", pools: "10.64.0.0/14", readyNetworks: 0)
        let nodeB = try Self.runner(engine, instance: "node-b", pools: "10.68.0.0/14", readyNetworks: 2)
        // B: a live session (leased network, running container), a container created but not started (past
        // gc.orphanAge, which a sweep collects only when its owner is gone or it is its own), and two ready networks.
        let network = try await nodeB.networks.create(session: "ws-b1", ephemeral: false, image: NetworkLeaseTests.image)
        let live = try await nodeB.createContainer(
            for: GarbageCollectionTests.runtime, limits: GarbageCollectionTests.limits, session: "ws-b1", network: network, ephemeral: false)
        let exitedB = try await GarbageCollectionTests.container(nodeB, session: "ws-b2", ephemeral: false, start: false)
        _ = try await nodeB.networks.topUp()
        let bNetworks = try await engine.networks(labeled: [ResourceLabel.managed]).count
        #expect(bNetworks == 3)
        // A: a container of its own left unstarted, and one of a crashed instance "node-c".
        let exitedA = try await GarbageCollectionTests.container(nodeA, session: "ws-a1", ephemeral: false, start: false)
        var crashedLabels = [ResourceLabel.instance: "node-c", ResourceLabel.ownerPID: String(NetworkLeaseTests.deadPID())]
        crashedLabels[ResourceLabel.ephemeral] = "1"
        let crashedC = try await nodeA.createContainer(
            for: GarbageCollectionTests.runtime, limits: GarbageCollectionTests.limits, session: "ws-c1", network: nil, ephemeral: true,
            extraLabels: crashedLabels, start: false)
        try await nodeB.engine.startContainer(live)
        for unstarted in [exitedB, exitedA, crashedC] { await engine.setCreated(unstarted, wholeSecondsAgo: 3) }  // past gc.orphanAge

        let collector = GarbageCollector(engine: engine, settings: nodeA.settings)
        let removed = try await collector.collect(all: false, dryRun: false)
        let left = Set(try await engine.containers(labeled: [ResourceLabel.managed]).map(\.id))
        #expect(left.contains(live) && left.contains(exitedB), "A's sweep removed B's containers: \(removed)")
        #expect(!left.contains(exitedA) && !left.contains(crashedC), "A's own and a dead instance's leftovers are collected: \(removed)")
        #expect(try await engine.networks(labeled: [ResourceLabel.managed]).count == bNetworks, "B's networks are untouched: \(removed)")
        #expect(try await nodeB.networks.find(session: "ws-b1") != nil, "B's lease is intact")

        // B's own sweep collects its own exited container; `--all` (the operator's choice) takes everything.
        _ = try await GarbageCollector(engine: engine, settings: nodeB.settings).collect(all: false, dryRun: false)
        #expect(!Set(try await engine.containers(labeled: [ResourceLabel.managed]).map(\.id)).contains(exitedB))
        _ = try await collector.collect(all: true, dryRun: false)
        let containersLeft = try await engine.containers(labeled: [])
        let networksLeft = try await engine.networks(labeled: [])
        #expect(containersLeft.isEmpty && networksLeft.isEmpty)
    }

    @Test func poolsOverlappingAnotherInstancesNetworksAreFound() async throws {
        let engine = InMemoryEngine()
        let nodeB = try Self.runner(engine, instance: "node-b", pools: "10.68.0.0/14", readyNetworks: 1)
        _ = try await nodeB.networks.topUp()
        let overlapping = try Self.runner(engine, instance: "node-a", pools: "10.64.0.0/12")  // contains 10.68.0.0/14
        let found = try await overlapping.networks.otherInstancesNetworksInPools()
        #expect(found.map(\.instance) == ["node-b"] && found.first?.subnet.description.hasPrefix("10.68.") == true, "\(found)")
        let disjoint = try Self.runner(engine, instance: "node-a", pools: "10.64.0.0/14")
        #expect(try await disjoint.networks.otherInstancesNetworksInPools().isEmpty)
        let sameInstance = try Self.runner(engine, instance: "node-b", pools: "10.64.0.0/12")  // a restart of B itself
        #expect(try await sameInstance.networks.otherInstancesNetworksInPools().isEmpty)
    }

    @Test(arguments: ["node a", "x/y", String(repeating: "n", count: 64)])
    func aBadInstanceNameIsRefused(_ name: String) throws {
        var configuration = Configuration()
        try configuration.set("server.instance", name, source: .environment)
        #expect(throws: ConfigurationError.self) { try EngineSettings(configuration) }
    }
}
