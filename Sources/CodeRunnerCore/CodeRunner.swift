import AgentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// Everything one run needs, already validated.
public struct RunRequest: Sendable {
    public var submission: Submission
    public var runtime: Runtime
    public var arguments: [String]
    /// Extra environment for the program, `K=V`.
    public var environment: [String]
    public var limits: RunLimits
    /// A named session to reuse; nil runs in a fresh ephemeral session removed afterwards.
    public var session: String?
    /// Empty the session container's work dir before this run.
    public var fresh: Bool
    /// The named session belongs to this process (a `serve` connection): its resources carry the one-shot label, so
    /// `net gc` and the server's start-up sweep collect them as soon as the process is gone.
    public var processOwned: Bool
    /// A one-shot run may take a standby container (`Standby.swift`) instead of starting its own.
    public var useStandby: Bool
    /// Where the caller counts the input it yields; the run counts down what it sends to the agent.
    public var inputBacklog: InputBacklog?
    /// Called once the run's container is ready (a standby claimed, or a cold one started), before the program runs:
    /// `coderunner run` starts preparing the next standby there, while this run is still going.
    public var whenContainerReady: (@Sendable () -> Void)?
    /// Told what the user should know about the run's session before it runs (its containers expired, so earlier
    /// files are gone). `coderunner run` prints it on stderr.
    public var onNotice: (@Sendable (String) -> Void)?

    public init(
        submission: Submission, runtime: Runtime, arguments: [String], environment: [String], limits: RunLimits, session: String?,
        fresh: Bool, processOwned: Bool = false, useStandby: Bool = false
    ) {
        self.submission = submission
        self.runtime = runtime
        self.arguments = arguments
        self.environment = environment
        self.limits = limits
        self.session = session
        self.fresh = fresh
        self.processOwned = processOwned
        self.useStandby = useStandby
    }
}

/// The container and network a finished one-shot run leaves for a detached clean-up (`CodeRunner.run(_:input:deferringCleanup:onEvent:)`).
public struct OneShotResources: Sendable, Equatable {
    public var containerID: String?
    public var networkID: String?
    public init(containerID: String?, networkID: String?) {
        self.containerID = containerID
        self.networkID = networkID
    }
}

/// The engine every face (CLI, shell, server) runs programs through.
public final class CodeRunner: Sendable {
    public let engine: any ContainerEngine
    public let settings: EngineSettings
    public let networks: SessionNetworks

    /// Where programs run inside containers; a tmpfs.
    public static let workdir = "/app"
    public static let agentPath = "/usr/local/bin/coderunner-agent"
    /// Programs (run stages, kernels, services, the shell's file commands) run as this uid and gid, without capabilities.
    static let programUID = "1000"
    /// The agent's own state (run lock, idle clock, services): a tmpfs only root can enter, so no program can read or
    /// change it. The agent (PID 1 and every exec'd agent command) runs as root with `supervisorCapabilities` only.
    static let agentStateDirectory = "/run/coderunner"
    /// Enough to start a program as `programUID` (SETUID, SETGID) and to signal and sweep it (KILL); nothing else.
    static let supervisorCapabilities = ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"]
    /// /dev/shm of every container (at most the memory limit; it is charged to it). The agent empties it before each run.
    static let sharedMemoryBytes: UInt64 = 16 << 20
    static let basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    public init(engine: any ContainerEngine, settings: EngineSettings) throws(SubnetError) {
        self.engine = engine
        self.settings = settings
        self.networks = try SessionNetworks(engine: engine, settings: settings)
    }

    /// Runs a program and reports how it ended. Never throws: failures of coderunner itself come back as
    /// `internal-error` results with a message that says what to do, and leave no network or container behind.
    public func run(
        _ request: RunRequest,
        input: AsyncStream<RunInput>?,
        onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async -> RunResult {
        await run(request, input: input, deferringCleanup: false, onEvent: onEvent).result
    }

    /// Like `run`, but a one-shot run that finished hands its container and network back instead of removing them
    /// (Docker calls after the program has ended, which the user need not wait for): `coderunner run` reports the result first and leaves
    /// the removal to a detached process (`removeOneShotResources`). Runs that failed to set up are cleaned up here.
    public func run(
        _ request: RunRequest,
        input: AsyncStream<RunInput>?,
        deferringCleanup: Bool,
        onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async -> (result: RunResult, leftToRemove: OneShotResources?) {
        let started = ContinuousClock.now
        let session = request.session ?? SessionName.ephemeral()
        let ephemeral = request.session == nil
        var network: SessionNetwork?
        var ephemeralContainer: String?
        func elapsed() -> Double { Double((ContinuousClock.now - started).microseconds) / 1000 }
        func failure(_ message: String) -> RunResult {
            RunResult(
                status: .internalError, language: request.runtime.language, exitCode: nil, signal: nil, stages: [],
                truncated: false, totalMilliseconds: elapsed(), message: message, session: ephemeral ? nil : session)
        }
        // The agent and Docker read a zero limit as "no limit": a face that let one through has a bug, and running
        // anyway would hand a client an unlimited run (issue 17).
        if let zero = request.limits.zeroLimit {
            return (failure("refusing to run with \(zero): a zero limit would mean no limit; this is a bug in the caller"), nil)
        }
        do {
            var outcome: AgentConversation.Outcome?
            if ephemeral, request.useStandby, let standby = await claimStandby(runtime: request.runtime, limits: request.limits) {
                RunTrace.mark("standby claimed")
                request.whenContainerReady?()
                // Ours from the claim on: a failure below must remove it like a container of our own.
                network = standby.network
                ephemeralContainer = standby.containerID
                outcome = try await converseInStandby(standby, request: request, input: input, onEvent: onEvent)
                if outcome == nil {  // it was gone and is cleaned up: start cold
                    network = nil
                    ephemeralContainer = nil
                }
            }
            if outcome == nil, ephemeral {
                let created =
                    settings.oneShotRunsHaveNetwork ? try await networks.create(session: session, ephemeral: true, image: request.runtime.image) : nil
                network = created
                if created != nil { RunTrace.mark("network created") }
                // The agent is PID 1 and takes this first run on its own stdin: attached before the start, no exec.
                let containerID = try await createContainer(
                    for: request.runtime, limits: request.limits, session: session, network: created,
                    ephemeral: true, start: false, singleRun: true)
                ephemeralContainer = containerID
                RunTrace.mark("container created")
                let connection = try await engine.attach(containerID)
                RunTrace.mark("attached")
                do {
                    try await engine.startContainer(containerID)
                    RunTrace.mark("container started")
                    request.whenContainerReady?()
                } catch {
                    await connection.close()
                    throw error
                }
                outcome = try await converse(
                    containerID: containerID, request: request, channel: .attached(connection), input: input, onEvent: onEvent)
            } else if outcome == nil {
                outcome = try await runInNamedSession(session, request: request, input: input, onEvent: onEvent)
            }
            guard let outcome else { preconditionFailure("every path above sets an outcome or throws") }
            RunTrace.mark("run finished")
            if case .finished(let stages) = outcome {
                let result = Self.result(stages: stages, request: request, totalMilliseconds: elapsed(), session: ephemeral ? nil : session)
                guard ephemeral else { return (result, nil) }
                // A one-shot container ends itself with its run (`idle --once`) and Docker removes it: only a network,
                // if it has one, needs a clean-up (and the container first, so the network can go).
                if deferringCleanup {
                    return (result, network.map { OneShotResources(containerID: ephemeralContainer, networkID: $0.id) })
                }
                await cleanUp(container: ephemeralContainer, network: network)
                return (result, nil)
            }
            if ephemeral { await cleanUp(container: ephemeralContainer, network: network) }
            if case .failed(let reason, _) = outcome { return (failure("the run could not be set up: \(reason)"), nil) }
            return (failure("the session's container is busy with another run"), nil)
        } catch {
            if ephemeral { await cleanUp(container: ephemeralContainer, network: network) }
            var result = failure(String(describing: error))
            if case .exhausted? = error as? SubnetError { result.capacityFull = true }
            return (result, nil)
        }
    }

    /// Removes what a one-shot run left with `deferringCleanup` (the detached clean-up after `coderunner run`).
    public func removeOneShotResources(_ resources: OneShotResources) async {
        await cleanUp(containerID: resources.containerID, networkID: resources.networkID)
    }

    /// Runs in a claimed standby. If the container went away before the run produced anything (it expired or was
    /// removed between the claim and the start), it is cleaned up and nil returned: the run then starts cold, as a
    /// standby is only ever a shortcut.
    func converseInStandby(
        _ standby: StandbyContainer, request: RunRequest, input: AsyncStream<RunInput>?, onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws -> AgentConversation.Outcome? {
        let produced = Locked(false)
        do throws(EngineError) {
            return try await converse(
                containerID: standby.containerID, request: request, channel: standby.servesStdio ? .attach(shared: false) : .exec,
                input: input
            ) { event in
                produced.withLock { $0 = true }
                await onEvent(event)
            }
        } catch {
            guard Self.containerWentAway(error), !produced.withLock({ $0 }) else { throw error }
            await cleanUp(container: standby.containerID, network: standby.network)
            return nil
        }
    }

    /// Creates and starts a locked-down container for a runtime on the session's network, or with loopback only when
    /// `network` is nil (the security defaults of docs/threat-model.md;
    /// the adapter adds the capability and privilege settings that never vary).
    public func createContainer(
        for runtime: Runtime, limits: RunLimits, session: String, network: SessionNetwork?, ephemeral: Bool,
        extraLabels: [String: String] = [:], name: String? = nil, start: Bool = true,
        singleRun: Bool = false, unusedTTL: Duration? = nil
    ) async throws(EngineError) -> String {
        var command = [Self.agentPath, "idle", "--ttl", String(max(1, settings.containerTTL.microseconds / 1_000_000)), "--stdio"]
        if let unusedTTL { command += ["--unused-ttl", String(max(1, unusedTTL.microseconds / 1_000_000))] }
        if singleRun { command.append("--once") }
        if let service = runtime.manifest.service, !service.isEmpty { command += ["--service"] + service }
        var labels = [
            ResourceLabel.managed: "1", ResourceLabel.session: session, ResourceLabel.language: runtime.language,
            ResourceLabel.ownerPID: String(getpid()), ResourceLabel.ownerHost: SessionNetworks.hostName,
            ResourceLabel.created: String(Int(SessionNetworks.now())),
            ResourceLabel.ttl: String(settings.containerTTL.microseconds / 1_000_000), ResourceLabel.stdio: "1",
        ]
        if ephemeral { labels[ResourceLabel.ephemeral] = "1" }
        labels.merge(settings.instanceLabels) { _, instance in instance }
        labels.merge(extraLabels) { _, extra in extra }
        let uid = Self.programUID
        let spec = ContainerSpec(
            name: name ?? Self.containerName(session: session, language: runtime.language),
            image: runtime.image, command: command, environment: [], labels: labels, network: network?.id,
            user: "0:0", workingDirectory: Self.workdir, memoryBytes: limits.memoryBytes,
            nanoCPUs: Int64(limits.cpus * 1e9), pidsLimit: limits.pids,
            tmpfs: [
                Self.workdir: "rw,exec,nosuid,nodev,size=\(settings.workdirSize),uid=\(uid),gid=\(uid),mode=0755",
                "/tmp": "rw,exec,nosuid,nodev,size=\(settings.tmpSize),uid=\(uid),gid=\(uid),mode=1777",
                Self.agentStateDirectory: "rw,noexec,nosuid,nodev,size=1m,uid=0,gid=0,mode=0700",
            ],
            readOnlyRoot: true, maxOpenFiles: settings.maxOpenFiles, autoRemove: true,
            capabilities: Self.supervisorCapabilities, sharedMemoryBytes: min(Self.sharedMemoryBytes, limits.memoryBytes), opensStdin: true,
            stdinOnce: singleRun)
        let id = try await engine.createContainer(spec)
        guard start else { return id }
        do {
            try await engine.startContainer(id)
        } catch {
            try? await engine.removeContainer(id)
            throw error
        }
        return id
    }

    /// Removes a one-shot session: its container, then the lease of its network (which stays, ready for the next
    /// session).
    func cleanUp(container: String?, network: SessionNetwork?) async {
        await cleanUp(containerID: container, networkID: network?.id)
    }

    func cleanUp(containerID: String?, networkID: String?) async {
        if let containerID { try? await engine.removeContainer(containerID) }
        if let networkID { await networks.release(networkID: networkID) }
    }

    /// Turns the agent's stage reports into the user's status and exit code.
    static func result(stages: [AgentStageResult], request: RunRequest, totalMilliseconds: Double, session: String?) -> RunResult {
        let reports = stages.map { stage in
            StageReport(
                name: stage.name, exitCode: stage.exitCode, signal: stage.signal,
                wallMilliseconds: Double(stage.wallMicroseconds) / 1000,
                cpuMilliseconds: Double(stage.userCPUMicroseconds + stage.systemCPUMicroseconds) / 1000,
                peakMemoryBytes: stage.maxResidentKiB * 1024)
        }
        let language = request.runtime.language
        guard let last = stages.last else {
            return RunResult(
                status: .internalError, language: language, exitCode: nil, signal: nil, stages: reports, truncated: false,
                totalMilliseconds: totalMilliseconds, message: "the agent reported no stage", session: session)
        }
        let status: RunStatus
        var message: String?
        if last.stopped {
            status = .stopped
        } else if last.timedOut {
            status = .timeout
            message =
                "\(last.name) stage ran longer than \(Quantity.formatDuration(last.name == "compile" ? request.limits.compileTimeout : request.limits.timeout))"
        } else if last.memoryLimitExceeded {
            status = .memoryLimit
            message = "limit \(Quantity.formatBytes(request.limits.memoryBytes))"
        } else if last.outputLimitExceeded {
            status = .outputLimit
            message = "limit \(Quantity.formatBytes(request.limits.outputLimitBytes))"
        } else if last.cpuLimitExceeded {
            status = .cpuLimit
        } else if last.name == "compile", last.exitCode != 0 || last.signal != nil {
            status = .compileError
        } else if last.signal != nil {
            status = .signal
        } else if last.exitCode == 0 {
            status = .ok
        } else {
            status = .runtimeError
        }
        return RunResult(
            status: status, language: language, exitCode: last.exitCode, signal: last.signal, stages: reports,
            truncated: stages.contains { $0.outputLimitExceeded }, totalMilliseconds: totalMilliseconds, message: message, session: session)
    }
}
