import CodeRunnerCore
import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fleet: three `coderunner serve` processes (the built CLI) on this machine's engine, instances `fleet-1..3` with
/// disjoint pools and agent-check ports, behind HAProxy with the shipped deploy/haproxy.cfg as is (its addresses come
/// from FLEET_* variables). Tests/IntegrationTests/Scripts/fleet_check.py drives clients through the balancer only: an
/// even share per node and every run ok, then fleet-1 drained under load (SIGTERM), then fleet-3 killed (SIGKILL);
/// this test then restarts fleet-3 under the same name and checks its start-up sweep, that the balancer sends it
/// sessions again, and what is left on the engine. Needs Debian's haproxy (`./setup.sh test` installs it).
///
/// Without CODERUNNER_SLOW_TESTS it runs 30 clients; the full size (figures in README.md and docs/fleet.md):
///
///     CODERUNNER_SLOW_TESTS=1 CODERUNNER_FLEET_CLIENTS=300 swift test --filter FleetTests
///
/// The script's report (a markdown table of latencies by phase) is printed on stderr as lines starting with `[fleet]`.
@Suite("fleet behind HAProxy", .serialized, .docker)
struct FleetTests {
    static var clients: Int {
        SlowTests.enabled ? Int(ProcessInfo.processInfo.environment["CODERUNNER_FLEET_CLIENTS"] ?? "") ?? 300 : 30
    }

    @Test func drainAndKillBehindHAProxy() async throws {
        let fleet = try await Fleet.start()
        defer { fleet.killEverything() }
        do {
            try await exercise(fleet)
            try await fleet.stop()
        } catch {
            fleet.killEverything()
            for line in (fleet.script?.stdoutText ?? "").split(separator: "\n") { Self.report(String(line)) }
            await fleet.removeResources()
            throw error
        }
    }

    func exercise(_ fleet: Fleet) async throws {
        let (drained, killed) = (fleet.nodes[0], fleet.nodes[2])
        var arguments = [
            Live.repositoryRoot + "/Tests/IntegrationTests/Scripts/fleet_check.py", "--url", "ws://127.0.0.1:\(fleet.balancerPort)",
            "--stats", "http://127.0.0.1:\(fleet.statsPort)", "--clients", String(Self.clients), "--drain", drained.name,
            "--kill", killed.name, "--grace", String(Fleet.graceSeconds), "--think", String(max(3, Self.clients / 25)),
        ]
        for (index, node) in fleet.nodes.enumerated() { arguments += ["--node", "\(node.name),\(node.serve.process.pid),node\(index + 1)"] }
        let script = try CLIProcess(arguments, executable: Fleet.python)
        fleet.script = script
        let budget = Duration.seconds(600 + Self.clients * 4)

        // fleet-3 killed: what it left, then (once its clients are back on the survivor) its restart and start-up sweep.
        guard await script.waitForStdout("@killed", timeout: budget) else {
            throw TestFailure("the script ended before the kill: \(script.stdoutText.suffix(6000)) \(script.stderrText.suffix(2000))")
        }
        let killedPID = killed.serve.process.pid
        let left = try await fleet.containers(of: killed.name).filter { $0.labels[ResourceLabel.ownerPID] == String(killedPID) }
        var findings = ["kill -9 \(killed.name): \(left.count) containers (sessions and leases) of pid \(killedPID) left on the engine"]
        #expect(!left.isEmpty, "a killed node with open sessions leaves containers for its next start to collect")
        guard await script.waitForStdout("@reconnected", timeout: .seconds(300)) else {
            throw TestFailure("the killed node's clients did not reconnect: \(script.stdoutText.suffix(6000))")
        }
        // About 10 s is the aim; the margin is for a loaded two-core machine (the sweep removes each one through Docker).
        let allowance = Duration.seconds(20 + left.count / 10)
        let restart = ContinuousClock.now
        try fleet.restart(2)
        var remaining = Set(left.map(\.id))
        repeat {
            remaining.formIntersection(try await fleet.containers(of: killed.name).map(\.id))
            if remaining.isEmpty { break }
            try await Task.sleep(for: .milliseconds(200))
        } while ContinuousClock.now - restart < allowance
        let gone = ContinuousClock.now - restart
        try await fleet.nodes[2].serve.waitUntilHealthy(timeout: .seconds(300))
        // The sweep logs once it is done with the networks too, after the containers.
        var sweepLine: Substring?
        let logDeadline = ContinuousClock.now + .seconds(120)
        repeat {
            sweepLine = fleet.nodes[2].serve.process.stderrText.split(separator: "\n").first { $0.contains("start-up sweep") }
            if sweepLine == nil { try await Task.sleep(for: .milliseconds(200)) }
        } while sweepLine == nil && ContinuousClock.now < logDeadline
        // Its line lists the first ten removals, then `removed=N` (every container, lease and network it removed).
        let sweep = sweepLine.map { line in line.split(separator: " ").first { $0.hasPrefix("removed=") }.map(String.init) ?? String(line.suffix(200))
        }
        findings.append(
            "restart of \(killed.name): its dead process's containers gone \(Self.seconds(gone)) after the restart; start-up sweep: "
                + (sweep ?? "none logged within 120 s"))
        #expect(remaining.isEmpty, "\(allowance) after its restart, \(killed.name) still has \(remaining.count) of its dead process's containers")

        let status = await script.finish(timeout: budget)
        for line in script.stdoutText.split(separator: "\n").map(String.init) + findings { Self.report(line) }
        #expect(status == 0, "fleet_check.py: \(script.stdoutText.suffix(4000)) \(script.stderrText.suffix(2000))")

        // The drained node exited by itself, cleanly, and left no container.
        let drainedProcess = drained.serve.process
        #expect(drainedProcess.exitTime != nil, "\(drained.name) is still running after its drain")
        if drainedProcess.exitTime != nil {
            #expect(drainedProcess.process.terminationReason == .exit && drainedProcess.process.terminationStatus == 0)
        }
        #expect(try await fleet.containers(of: drained.name).isEmpty, "the drained \(drained.name) left containers")

        // The balancer sends new sessions to the restarted node again.
        try await fleet.waitUntilBalancerHas("node3", status: "UP")
        var instances: [String] = []
        for _ in 0..<6 {
            let ws = try await TestWebSocket.connect(port: fleet.balancerPort)
            instances.append(try await ws.nextJSON()["instance"] as? String ?? "?")
            ws.close()
        }
        #expect(instances.contains(killed.name), "no new session on the restarted \(killed.name): \(instances)")
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    static func report(_ text: String) {
        FileHandle.standardError.write(Data("[fleet] \(text)\n".utf8))
    }
}

/// The processes of one fleet and what the test needs to know about them. Every process is ours (started here, kept
/// by pid); `killEverything` ends those still running, `stop` ends them gracefully and checks and removes what they made.
final class Fleet: @unchecked Sendable {
    struct Node {
        var name: String
        var port: Int
        var agentPort: Int
        var pool: String
        var serve: ServeProcess
    }

    static let graceSeconds = 20
    static let names = ["fleet-1", "fleet-2", "fleet-3"]
    static let pools = ["10.210.0.0/15", "10.212.0.0/15", "10.214.0.0/15"]
    static var python: String {
        let venv = "/var/lib/coderunner/test-venv/bin/python3"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    }

    var nodes: [Node] = []
    var haproxy: CLIProcess?
    var script: CLIProcess?
    let balancerPort: Int
    let statsPort: Int

    private init() throws {
        balancerPort = try ServeAbuseTests.freePort()
        statsPort = try ServeAbuseTests.freePort()
    }

    /// The settings of node `index`: its name, pool and agent-check port; caps above the test's load (behind the
    /// balancer every session comes from one address); containers that outlive the kill until the restart.
    func environment(_ index: Int, port agentPort: Int) -> [String: String] {
        let clients = FleetTests.clients
        return [
            "CODERUNNER_SERVER_INSTANCE": Self.names[index], "CODERUNNER_NETWORK_POOLS": Self.pools[index],
            "CODERUNNER_SERVER_AGENT_CHECK_PORT": String(agentPort), "CODERUNNER_SERVER_DRAIN_GRACE": "\(Self.graceSeconds)s",
            "CODERUNNER_SERVER_MAX_SESSIONS": String(clients * 2 + 50), "CODERUNNER_SERVER_MAX_SESSIONS_PER_CLIENT": String(clients * 2 + 50),
            "CODERUNNER_SERVER_MAX_CONCURRENT_RUNS": String(clients * 2 + 50), "CODERUNNER_SERVER_RUNS_PER_MINUTE": "100000",
            "CODERUNNER_CONTAINER_TTL": "10m", "CODERUNNER_CONTAINER_CLEANUP_INTERVAL": "10m", "CODERUNNER_SERVER_LOG_LEVEL": "notice",
        ]
    }

    static func start() async throws -> Fleet {
        let haproxyPath = try #require(
            ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "HAProxy is missing: apt-get install haproxy (./setup.sh test installs it; its service is never started)")
        let fleet = try Fleet()
        await fleet.removeResources()  // an earlier run's, if it was cut short
        for pool in pools { _ = try await Live.privatePool(pool) }
        do {
            var balancer = ["FLEET_LB_BIND": "127.0.0.1:\(fleet.balancerPort)", "FLEET_LB_STATS": "127.0.0.1:\(fleet.statsPort)"]
            balancer["FLEET_LB_MAX_PER_CLIENT"] = String(clients * 3 + 100)
            for index in names.indices {
                let (port, agentPort) = (try ServeAbuseTests.freePort(), try ServeAbuseTests.freePort())
                let serve = try ServeProcess(port: port, environment: fleet.environment(index, port: agentPort))
                fleet.nodes.append(Node(name: names[index], port: port, agentPort: agentPort, pool: pools[index], serve: serve))
                balancer["FLEET_NODE\(index + 1)"] = "127.0.0.1:\(port)"
                balancer["FLEET_NODE\(index + 1)_AGENT"] = String(agentPort)
            }
            for node in fleet.nodes { try await node.serve.waitUntilHealthy() }
            let config = Live.repositoryRoot + "/deploy/haproxy.cfg"
            fleet.haproxy = try CLIProcess(["-db", "-f", config], environment: balancer, executable: haproxyPath)
            for index in names.indices { try await fleet.waitUntilBalancerHas("node\(index + 1)", status: "UP") }
        } catch {
            fleet.killEverything()
            throw error
        }
        return fleet
    }

    private static var clients: Int { FleetTests.clients }

    /// Starts node `index` again, same name, port, pool and agent port (the balancer's configuration names them).
    func restart(_ index: Int) throws {
        var environment = environment(index, port: nodes[index].agentPort)
        environment["CODERUNNER_SERVER_LOG_LEVEL"] = "info"  // its start-up sweep's line
        nodes[index].serve = try ServeProcess(port: nodes[index].port, environment: environment)
    }

    /// Waits until HAProxy's stats page shows `server` (node1..3) with `status` (UP, DOWN, DRAIN).
    func waitUntilBalancerHas(_ server: String, status: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        var seen = ""
        while ContinuousClock.now < deadline {
            if let haproxy, haproxy.exitTime != nil { throw TestFailure("haproxy exited: \(haproxy.stderrText.suffix(3000))") }
            if let csv = try? await HTTP.request(port: statsPort, "GET", "/;csv").body {
                let row = csv.split(separator: "\n").first { $0.hasPrefix("coderunner_nodes,\(server),") }
                seen = row.map { String($0.split(separator: ",", omittingEmptySubsequences: false)[17]) } ?? "absent"
                if seen == status { return }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("HAProxy shows \(server) as '\(seen)', not \(status), after \(timeout): \(haproxy?.stderrText.suffix(3000) ?? "")")
    }

    func containers(of instance: String) async throws -> [ContainerInfo] {
        try await Live.engine().containers(labeled: ["\(ResourceLabel.instance)=\(instance)"])
    }

    /// SIGKILL to whatever still runs (our pids only; a reaped process is never signalled).
    func killEverything() {
        script?.send(SIGKILL)
        haproxy?.send(SIGKILL)
        for node in nodes { node.serve.process.send(SIGKILL) }
    }

    /// Ends the nodes still running with SIGTERM (a drain with no session: quick), then HAProxy; no container of any
    /// fleet instance may be left. Their pool networks (kept ready for a node's next start) are then removed.
    func stop() async throws {
        for node in nodes where node.serve.process.exitTime == nil { node.serve.process.send(SIGTERM) }
        for node in nodes {
            let status = await node.serve.process.finish(timeout: .seconds(Self.graceSeconds + 40))
            #expect(status != nil, "\(node.name) did not stop on SIGTERM")
        }
        haproxy?.send(SIGTERM)
        _ = await haproxy?.finish(timeout: .seconds(10))
        let deadline = ContinuousClock.now + .seconds(30)
        var left: [String] = []
        repeat {
            left = []
            for name in Self.names { left += try await containers(of: name).map { "\(name): \($0.name)" } }
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(250))
        } while ContinuousClock.now < deadline
        #expect(left.isEmpty, "containers of the fleet left after it stopped: \(left.prefix(20))")
        let networks = await removeResources()
        FleetTests.report("stopped; removed the fleet's \(networks) pool networks (sessions' networks the nodes keep for reuse)")
    }

    /// Removes every container, then every network, labelled with a fleet instance; returns the networks removed.
    @discardableResult
    func removeResources() async -> Int {
        guard let engine = try? Live.engine() else { return 0 }
        var removed = 0
        for name in Self.names {
            for container in (try? await containers(of: name)) ?? [] { try? await engine.removeContainer(container.id) }
            for network in (try? await engine.networks(labeled: ["\(ResourceLabel.instance)=\(name)"])) ?? [] {
                if (try? await engine.removeNetwork(network.id)) != nil { removed += 1 }
            }
        }
        return removed
    }
}
