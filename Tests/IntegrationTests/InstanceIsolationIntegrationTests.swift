import CodeRunnerCore
import CodeRunnerServer
import Foundation
import ServerTestSupport
import Testing

/// Two `serve` nodes sharing the real engine (distinct `server.instance`, disjoint `network.pools`): node A sweeps every
/// second while node B holds a live session, ready networks and a ready session; none of B's resources go. A third
/// node whose pools overlap B's networks refuses to start, saying so.
@Suite("serve instances on one engine", .serialized, .docker)
struct InstanceIsolationIntegrationTests {
    static func node(_ instance: String, pools: String, _ overrides: [String: String] = [:]) async throws -> TestServer {
        var configuration = try Live.configuration()
        try configuration.set("server.instance", instance, source: .environment)
        try configuration.set("network.pools", pools, source: .environment)
        try configuration.set("network.ready", "2", source: .environment)
        try configuration.set("container.cleanupInterval", "1s", source: .environment)
        // gc.orphanAge stays at its default: with a short one these nodes would also sweep other suites' containers
        // caught between create and start (resources of no instance are any sweep's), which run beside this one.
        let runner = try CodeRunner(engine: Live.engine(), settings: EngineSettings(configuration))
        return try await TestServer.start(runner: runner, catalog: Live.catalog(), configuration: configuration, overrides: overrides)
    }

    static func resources(of instance: String) async throws -> (containers: Set<String>, networks: Set<String>) {
        let engine = try Live.engine()
        let label = "\(ResourceLabel.instance)=\(instance)"
        return (
            Set(try await engine.containers(labeled: [ResourceLabel.managed, label]).map(\.name)),
            Set(try await engine.networks(labeled: [ResourceLabel.managed, label]).map(\.name))
        )
    }

    @Test func aNodesSweepNeverTouchesAnotherNodesResources() async throws {
        let nodeB = try await Self.node("it-node-b", pools: "10.200.0.0/16", ["server.standby": "python=1"])
        let client = try await TestWebSocket.connect(port: nodeB.port)
        _ = try await client.nextJSON()
        let (exit, stdout, _) = try await client.run("r1", language: "python", files: [("main.py", "print('on b')")])
        #expect(exit["status"] as? String == "ok" && stdout == "on b\n", "\(exit)")
        // B's ready networks and its ready session take a moment to appear.
        var before = try await Self.resources(of: "it-node-b")
        for _ in 0..<150 where before.networks.count < 2 || before.containers.count < 4 {
            try await Task.sleep(for: .milliseconds(200))
            before = try await Self.resources(of: "it-node-b")
        }
        // The session's container and lease, the ready session's container and lease, their two networks.
        #expect(before.networks.count >= 2 && before.containers.count >= 4, "B's session and ready session: \(before)")

        let nodeA = try await Self.node("it-node-a", pools: "10.201.0.0/16")
        try await Task.sleep(for: .seconds(4))  // A's start-up sweep and three more
        let after = try await Self.resources(of: "it-node-b")
        #expect(before.networks.isSubset(of: after.networks), "A's sweeps removed B's networks: \(before.networks.subtracting(after.networks))")
        let lost = before.containers.subtracting(after.containers)
        #expect(lost.isEmpty, "A's sweeps removed B's containers: \(lost)")
        let (again, _, _) = try await client.run("r2", language: "python", files: [("main.py", "print('still b')")])
        #expect(again["status"] as? String == "ok", "B's session still works: \(again)")

        // A node whose pools hold B's networks refuses to start.
        await #expect {
            _ = try await Self.node("it-node-c", pools: "10.200.0.0/15")
        } throws: { error in
            "\(error)".contains("would share subnet pools with instance 'it-node-b'")
        }

        client.close()
        try await nodeA.stop()
        try await nodeB.stop()
        // Each node removed its sessions on shutdown (the leak check); the pool networks stay for a node's next start,
        // so the test removes them.
        for instance in ["it-node-a", "it-node-b", "it-node-c"] {
            var left = try await Self.resources(of: instance)
            for _ in 0..<150 where !left.containers.isEmpty {
                try await Task.sleep(for: .milliseconds(200))
                left = try await Self.resources(of: instance)
            }
            #expect(left.containers.isEmpty, "\(instance) left containers: \(left.containers)")
            for network in left.networks { _ = try? Live.docker(["network", "rm", network]) }
        }
    }
}
