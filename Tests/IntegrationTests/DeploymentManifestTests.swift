import Foundation
import Testing

/// The deployment files of deploy/ (docs/deploy.md) checked offline, so a typo fails here rather than on a cluster:
/// the Kubernetes manifests against the API's schemas (kubernetes-validate, from the test venv, ships them), the Swarm
/// stack through the Docker CLI's own compose loader, the HAProxy config by HAProxy in the image Swarm runs.
@Suite("Deployment manifests")
struct DeploymentManifestTests {
    static let root = Live.repositoryRoot

    /// Runs a command (found on PATH) from the checkout's root; its status and output (stdout and stderr together).
    static func command(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    static func kubernetesManifests() throws -> [String] {
        let folder = root + "/deploy/kubernetes"
        return try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted().map { folder + "/" + $0 }
    }

    @Test func kubernetesManifestsMatchTheSchemas() throws {
        let files = try Self.kubernetesManifests()
        #expect(files.count >= 4, "namespace, DaemonSet, services, Ingress: \(files)")
        let result = try Self.command(["kubernetes-validate", "--strict"] + files)
        #expect(result.status == 0, "\(result.output)")
        for kind in ["daemonset/coderunner-serve", "service/coderunner", "service/coderunner-nodes", "ingress/coderunner"] {
            #expect(result.output.contains("passed for resource \(kind) "), "\(kind) not validated: \(result.output)")
        }
    }

    /// The validator must be able to say no: a misspelt field of the DaemonSet is refused (--strict).
    @Test func aMisspeltFieldIsRefused() throws {
        let daemonSet = try String(contentsOfFile: Self.root + "/deploy/kubernetes/serve-daemonset.yaml", encoding: .utf8)
        let broken = daemonSet.replacingOccurrences(of: "terminationGracePeriodSeconds:", with: "terminationGracePeriod:")
        #expect(broken != daemonSet)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("coderunner-broken-\(UUID().uuidString).yaml").path
        try broken.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Self.command(["kubernetes-validate", "--strict", path])
        #expect(result.status != 0, "\(result.output)")
        #expect(result.output.contains("terminationGracePeriod"), "\(result.output)")
    }

    /// The DaemonSet outlives the drain: its grace period is longer than server.drainGrace plus the preStop pause.
    @Test func theDaemonSetWaitsForTheDrain() throws {
        let daemonSet = try String(contentsOfFile: Self.root + "/deploy/kubernetes/serve-daemonset.yaml", encoding: .utf8)
        let grace = try #require(Self.number(after: "terminationGracePeriodSeconds:", in: daemonSet))
        let drain = try #require(Self.number(after: "value: \"", followingLine: "CODERUNNER_SERVER_DRAIN_GRACE", in: daemonSet))
        #expect(grace > drain + 5, "terminationGracePeriodSeconds \(grace) vs drainGrace \(drain)s")
    }

    @Test func theSwarmStackLoads() throws {
        let result = try Self.command(["docker", "stack", "config", "-c", "deploy/swarm/stack.yml"])
        #expect(result.status == 0, "\(result.output)")
        for line in ["mode: global", "endpoint_mode: dnsrr", "mode: host", "{{.Node.Hostname}}"] {
            #expect(result.output.contains(line), "\(line) missing from: \(result.output)")
        }
    }

    /// Checked, then started: `haproxy -c` passes a config that cannot start (maxconn beyond the descriptors a
    /// container gets, which HAProxy, not root there, cannot raise), and Swarm then restarts it forever.
    @Test(.docker) func theHAProxyConfigIsValidAndStarts() throws {
        let config = Self.root + "/deploy/swarm/haproxy.cfg"
        let mount = "\(config):/usr/local/etc/haproxy/haproxy.cfg:ro"
        let check = try Self.command([
            "docker", "run", "--rm", "--network", "none", "-v", mount, "coderunner/haproxy", "-c", "-f", "/usr/local/etc/haproxy/haproxy.cfg",
        ])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("Configuration file is valid"), "\(check.output)")
        let name = "coderunner-test-haproxy-\(UUID().uuidString.prefix(8).lowercased())"
        let started = try Self.command(["docker", "run", "-d", "--name", name, "--network", "none", "-v", mount, "coderunner/haproxy"])
        defer { _ = try? Self.command(["docker", "rm", "-f", name]) }
        #expect(started.status == 0, "\(started.output)")
        Thread.sleep(forTimeInterval: 2)
        let state = try Self.command(["docker", "inspect", "--format", "{{.State.Status}}", name])
        let logs = try Self.command(["docker", "logs", name])
        #expect(state.output.trimmingCharacters(in: .whitespacesAndNewlines) == "running", "\(logs.output)")
        #expect(logs.output.contains("Loading success"), "\(logs.output)")
    }

    /// HAProxy applies the agent-check's "up ready N%" to the configured weight in integers: at weight 1, 99% is 0 and
    /// the node gets nothing (seen in the swarm test). The servers of the agent-checked backend need weight 100.
    @Test func agentCheckedServersHaveRoomForPercentages() throws {
        let config = try String(contentsOfFile: Self.root + "/deploy/swarm/haproxy.cfg", encoding: .utf8)
        let line = try #require(
            config.split(separator: "\n").first { $0.contains("agent-check") && !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") })
        let weight = try #require(Self.number(after: "weight ", in: String(line)), "no weight on: \(line)")
        #expect(weight >= 100, "\(line)")
    }

    /// The first integer after `marker` (after the line naming `followingLine`, when given).
    static func number(after marker: String, followingLine: String? = nil, in text: String) -> Int? {
        var rest = Substring(text)
        if let followingLine, let line = rest.range(of: followingLine) { rest = rest[line.upperBound...] }
        guard let found = rest.range(of: marker) else { return nil }
        return Int(rest[found.upperBound...].drop { $0 == " " }.prefix { $0.isNumber })
    }
}
