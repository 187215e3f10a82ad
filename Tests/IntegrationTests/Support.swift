import CodeRunnerCore
import CodeRunnerDocker
import Foundation
import Testing

/// Shared set-up for tests against the real Docker engine. These tests fail (they never skip silently) when Docker is
/// unreachable or the runtime images are missing, unless CODERUNNER_SKIP_DOCKER_TESTS=1 is set (CI never sets it).
enum Live {
    static var skipDocker: Bool { ProcessInfo.processInfo.environment["CODERUNNER_SKIP_DOCKER_TESTS"] == "1" }

    static let repositoryRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    static let environment: [String: String] = ProcessInfo.processInfo.environment

    static func configuration() throws -> Configuration {
        var configuration = try Configuration.load(
            explicitFile: "/dev/null", environment: environment.filter { $0.key == "DOCKER_HOST" }, manifests: [])
        configuration.addRuntimeDefaults(try catalog().runtimes.map(\.manifest))
        return configuration
    }

    static func catalog() throws -> RuntimeCatalog {
        try RuntimeCatalog.load(from: repositoryRoot + "/runtimes")
    }

    static func engine() throws -> DockerContainerEngine {
        try DockerContainerEngine(host: environment["DOCKER_HOST"] ?? "unix:///var/run/docker.sock", requestTimeout: .seconds(30))
    }

    static func runner() throws -> CodeRunner {
        try CodeRunner(engine: engine(), settings: EngineSettings(configuration()))
    }

    /// Output and result of one run through the engine.
    struct Outcome: Sendable {
        var result: RunResult
        var stdout: String
        var stderr: String
        var stdoutBytes: [UInt8]
        /// Both streams interleaved in arrival order, tagged.
        var events: [RunEvent]
    }

    actor Recorder {
        var events: [RunEvent] = []
        func add(_ event: RunEvent) { events.append(event) }
    }

    /// Runs `files` (path -> source) in `language` through the engine, like `coderunner run` does.
    static func run(
        _ language: String, _ files: [(String, String)], entry: String? = nil, stdin: String? = nil, arguments: [String] = [],
        environment: [String] = [], timeout: Duration? = nil, memory: UInt64? = nil, outputLimit: UInt64? = nil,
        session: String? = nil, fresh: Bool = false, runner: CodeRunner? = nil
    ) async throws -> Outcome {
        let runner = try runner ?? Self.runner()
        let configuration = try configuration()
        let runtime = try catalog().runtime(named: language)
        var limits = try runner.settings.limits(for: runtime, configuration: configuration)
        if let timeout { limits.timeout = timeout }
        if let memory { limits.memoryBytes = memory }
        if let outputLimit { limits.outputLimitBytes = outputLimit }
        let submission = try Submission(
            files: files.map { SubmittedFile(path: $0.0, contents: Array($0.1.utf8)) }, entry: entry ?? files[0].0,
            limits: runner.settings.submissionLimits)
        let request = RunRequest(
            submission: submission, runtime: runtime, arguments: arguments, environment: environment,
            limits: limits, session: session, fresh: fresh)
        let input: AsyncStream<RunInput>?
        if let stdin {
            input = AsyncStream { continuation in
                continuation.yield(.data(Array(stdin.utf8)))
                continuation.yield(.end)
                continuation.finish()
            }
        } else {
            input = nil
        }
        let recorder = Recorder()
        let result = await runner.run(request, input: input) { await recorder.add($0) }
        let events = await recorder.events
        var out: [UInt8] = []
        var err: [UInt8] = []
        for case .output(let stream, let bytes) in events {
            if stream == .stdout { out += bytes } else { err += bytes }
        }
        return Outcome(
            result: result, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
            stdoutBytes: out, events: events)
    }

    /// coderunner resources left on the engine (ephemeral sessions must leave none after a run).
    /// coderunner resources still there. Standby containers and their networks (sessions `sb-…`) are left out: a
    /// `coderunner run` outside the tests may have left one that expires on its own, and the tests' CLIs make none
    /// (`CLIProcess` sets CODERUNNER_RUN_STANDBY=0); StandbyTests checks its own.
    static func leftovers(label: String = ResourceLabel.ephemeral) async throws -> (networks: [String], containers: [String]) {
        let engine = try engine()
        func isStandby(_ labels: [String: String]) -> Bool { SessionName.isStandby(labels[ResourceLabel.session] ?? "") }
        let networks = try await engine.networks(labeled: [label]).filter { !isStandby($0.labels) }.map(\.name)
        let containers = try await engine.containers(labeled: [label]).filter { !isStandby($0.labels) }.map(\.name)
        return (networks, containers)
    }

    /// Runs the docker CLI (for what a test does outside coderunner, e.g. a foreign container on a session's network).
    static func docker(_ arguments: [String]) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker"] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A subnet pool of a test's own (`CODERUNNER_NETWORK_POOLS`): ready networks an earlier run of the test left in it
    /// are removed, and nothing else may use it. `inPool` tells its networks; `removeNetworks` removes them at the end.
    struct PrivatePool: Sendable {
        let cidr: String
        let network: IPv4Network
        var environment: [String: String] { ["CODERUNNER_NETWORK_POOLS": cidr] }
        func inPool(_ info: NetworkInfo) -> Bool { info.subnets.contains { IPv4Network($0)?.overlaps(network) == true } }
        func removeNetworks() async throws {
            let engine = try Live.engine()
            for info in try await engine.networks(labeled: [ResourceLabel.pool]) where inPool(info) { try await engine.removeNetwork(info.id) }
        }
    }

    static func privatePool(_ cidr: String) async throws -> PrivatePool {
        let pool = PrivatePool(cidr: cidr, network: try #require(IPv4Network(cidr)))
        let engine = try engine()
        for info in try await engine.networks(labeled: [ResourceLabel.pool]) where pool.inPool(info) { try? await engine.removeNetwork(info.id) }
        let occupied = try await engine.networks(labeled: []).filter(pool.inPool)
        try #require(occupied.isEmpty, "networks already use \(cidr): \(occupied.map(\.name))")
        return pool
    }

    /// The networks a session holds (through its leases; the networks themselves carry no session).
    static func sessionNetworks(_ session: String) async throws -> [NetworkInfo] {
        let engine = try engine()
        var held: [NetworkInfo] = []
        for lease in try await engine.containers(labeled: [ResourceLabel.lease, "\(ResourceLabel.leaseSession)=\(session)"]) {
            if let id = lease.labels[ResourceLabel.lease], let network = try await engine.network(id) { held.append(network) }
        }
        return held
    }

    /// The one leak check of the Docker tests: no ephemeral network or container may survive a test, except those of
    /// other live processes sharing the engine (another suite running at once is not this test's to judge). Ours (this
    /// process, the CLIs it started) and those of processes that are gone count; they get up to `timeout` to go (a
    /// one-shot `coderunner run` leaves the removal to a detached process; a closed connection's session goes right
    /// after). Standby sessions (`sb-…`) expire on their own and are left out (StandbyTests checks its own).
    static func expectNoLeaks(timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let ours = OwnedProcesses.shared.pids.union([getpid()])
        func belongsToAnotherLiveProcess(_ labels: [String: String]) -> Bool {
            guard let pid = labels[ResourceLabel.ownerPID].flatMap(Int32.init), pid > 0, !ours.contains(pid) else { return false }
            return kill(pid, 0) == 0 || errno == EPERM
        }
        let engine = try engine()
        let deadline = ContinuousClock.now + timeout
        var left: [String] = []
        while true {
            let networks = try await engine.networks(labeled: [ResourceLabel.ephemeral]).map { ($0.name, $0.labels) }
            let containers = try await engine.containers(labeled: [ResourceLabel.ephemeral]).map { ($0.name, $0.labels) }
            left = (networks + containers).filter { !SessionName.isStandby($0.1[ResourceLabel.session] ?? "") && !belongsToAnotherLiveProcess($0.1) }
                .map(\.0)
            if left.isEmpty || ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(left.isEmpty, "left behind: \(left)", sourceLocation: sourceLocation)
    }

    /// The `coderunner` binary built next to the test bundle.
    static var cliPath: String {
        if let explicit = environment["CODERUNNER_BIN"], !explicit.isEmpty { return explicit }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle.appendingPathComponent("coderunner"), bundle.deletingLastPathComponent().appendingPathComponent("coderunner")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        return repositoryRoot + "/.build/debug/coderunner"
    }

    struct CLIResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The environment every CLI the tests start gets: no stray CODERUNNER_* from the caller, the checkout's runtimes,
    /// no config file; then `extra`.
    static func cliEnvironment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CODERUNNER_") || $0.key == "CODERUNNER_BIN" }
        env["CODERUNNER_RUNTIMES_DIR"] = repositoryRoot + "/runtimes"
        env["CODERUNNER_CONFIG"] = "/dev/null"
        env.merge(extra) { _, given in given }
        return env
    }

    /// Runs the CLI as a user would.
    static func cli(_ arguments: [String], stdin: String? = nil, environment extra: [String: String] = [:], cwd: String? = nil) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cliPath)
        process.arguments = arguments
        process.environment = cliEnvironment(extra)
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let outPipe = Pipe()
        let errPipe = Pipe()
        let inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        try process.run()
        if let stdin { inPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        let errData = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs a script of Tests/IntegrationTests/Scripts that drives the CLI through a pseudo-terminal (pexpect), with
    /// the clean environment `cli` uses; returns its exit status and its log (stderr).
    static func ptyScript(_ script: String, _ arguments: [String]) throws -> (status: Int32, transcript: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot + "/Tests/IntegrationTests/Scripts/" + script] + arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CODERUNNER_") }
        env["CODERUNNER_RUNTIMES_DIR"] = repositoryRoot + "/runtimes"
        env["CODERUNNER_CONFIG"] = "/dev/null"
        process.environment = env
        let log = Pipe()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let transcript = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, transcript)
    }

    static func temporaryDirectory(_ files: [(String, String)]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coderunner-test-\(UUID().uuidString)")
        for (path, contents) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: url)
        }
        return dir.path
    }
}

/// Tests that need Docker are serialized (they share one engine) and enabled unless explicitly opted out.
extension Trait where Self == ConditionTrait {
    static var docker: Self { .enabled(if: !Live.skipDocker, "CODERUNNER_SKIP_DOCKER_TESTS=1") }
}
