import CodeRunnerTesting
import Testing

@testable import CodeRunnerCore

/// `CodeRunner.endSession` under an engine that is slow to remove containers (Docker's "Removal In Progress"): the
/// network goes back to the pool only once nothing of the session is left, and a removal that never ends is an error
/// the caller can retry, never a lease quietly kept. Against `InMemoryEngine` (no Docker).
struct SessionEndTests {
    static func sessionWithContainer(_ engine: InMemoryEngine, _ runner: CodeRunner, session: String) async throws -> SessionNetwork {
        let network = try await runner.networks.create(session: session, ephemeral: true, image: NetworkLeaseTests.image)
        let container = try await engine.createContainer(
            ContainerSpec(
                name: "\(session)-python", image: NetworkLeaseTests.image, command: [], environment: [],
                labels: [ResourceLabel.managed: "1", ResourceLabel.session: session], network: network.id, user: "1000:1000",
                workingDirectory: "/", memoryBytes: 16 << 20, nanoCPUs: 0, pidsLimit: 1, tmpfs: [:], readOnlyRoot: true,
                maxOpenFiles: 16, autoRemove: true))
        try await engine.startContainer(container)
        return network
    }

    @Test func aSlowRemovalIsWaitedForBeforeTheNetworkGoesBack() async throws {
        let engine = InMemoryEngine()
        let runner = try CodeRunner(engine: engine, settings: try NetworkLeaseTests.settings(ready: 0))
        let network = try await Self.sessionWithContainer(engine, runner, session: "slow")
        await engine.setRemovalLag(6)  // listed (and a second removal refused) for six more lists
        try await runner.endSession("slow", removalWait: .seconds(30))
        #expect(try await engine.containers(labeled: ["\(ResourceLabel.session)=slow"]).isEmpty)
        #expect(try await runner.networks.find(session: "slow") == nil, "the lease was kept")
        // The network is back in the pool: the next session leases the very same one.
        let next = try await runner.networks.create(session: "next", ephemeral: true, image: NetworkLeaseTests.image)
        #expect(next.id == network.id)
    }

    @Test func aRemovalThatNeverEndsIsAnErrorAndTheLeaseStays() async throws {
        let engine = InMemoryEngine()
        let runner = try CodeRunner(engine: engine, settings: try NetworkLeaseTests.settings(ready: 0))
        _ = try await Self.sessionWithContainer(engine, runner, session: "stuck")
        await engine.setRemovalLag(Int.max)
        await #expect(throws: EngineError.self) { try await runner.endSession("stuck", removalWait: .milliseconds(600)) }
        #expect(try await runner.networks.find(session: "stuck") != nil, "the network was given back with a container of the session on it")
    }
}
