import ArgumentParser
import CodeRunnerTesting
import ServerTestSupport
import Testing

@testable import CodeRunnerCLI
@testable import CodeRunnerCore

/// `coderunner fleet status` against two real `serve` nodes in this process (on `InMemoryEngine`, no Docker) and one
/// address where nothing listens: each node's instance, sessions and pool, the totals, and the dead node reported.
@Suite struct FleetStatusTests {
    static func node(_ instance: String, pools: String) async throws -> TestServer {
        try await TestServer.start(
            on: InMemoryEngine(), settings: ["network.pools": pools, "server.instance": instance], overrides: ["server.token": "tok"])
    }

    @Test func eachNodeAndTheTotals() async throws {
        let a = try await Self.node("node-a", pools: "10.64.0.0/16")
        let b = try await Self.node("node-b", pools: "10.65.0.0/24")
        let statuses = await NodeStatus.fetchAll([a.baseURL, b.baseURL + "/", "http://127.0.0.1:9"], token: "tok", timeout: .seconds(5))
        #expect(statuses.map(\.instance) == ["node-a", "node-b", nil])
        #expect(statuses[0].pool?.totalCapacity == 256 && statuses[1].pool?.totalCapacity == 1, "\(statuses)")
        #expect(statuses[0].status != nil && statuses[0].error == nil)
        #expect(statuses[2].error != nil && !statuses[2].healthy, "nothing listens on port 9: \(statuses[2])")
        let report = FleetReport(nodes: statuses)
        #expect(report.subnetCapacity == 257)
        let text = FleetStatusCommand.render(statuses)
        #expect(text.contains("node-a") && text.contains("down: ") && text.contains("FLEET: "), "\(text)")

        let withoutToken = await NodeStatus.fetchAll([a.baseURL], token: "", timeout: .seconds(5))
        #expect(withoutToken[0].error == "the node wants its server.token (--token)")
        try await a.stop()
        try await b.stop()
    }

    @Test func nodesMustBeURLs() throws {
        #expect(throws: (any Error).self) { try RootCommand.parseAsRoot(["fleet", "status"]) }
        #expect(throws: (any Error).self) { try RootCommand.parseAsRoot(["fleet", "status", "--nodes", "localhost:3000"]) }
        let command = try RootCommand.parseAsRoot(["fleet", "status", "--nodes", "http://a:1", "https://b:2/", "--json"])
        let status = try #require(command as? FleetStatusCommand)
        #expect(status.nodes == ["http://a:1", "https://b:2/"] && status.json)
        #expect(NodeStatus.baseURL("https://b:2/") == "https://b:2" && NodeStatus.baseURL("http://a:1/x") == nil)
    }
}
