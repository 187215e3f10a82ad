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

    public init(submission: Submission, runtime: Runtime, arguments: [String], environment: [String], limits: RunLimits, session: String?,
                fresh: Bool, processOwned: Bool = false, useStandby: Bool = false) {
        self.submission = submission; self.runtime = runtime; self.arguments = arguments; self.environment = environment
        self.limits = limits; self.session = session; self.fresh = fresh; self.processOwned = processOwned
        self.useStandby = useStandby
    }
}

/// The container and network a finished one-shot run leaves for a detached clean-up (`CodeRunner.run(_:input:deferringCleanup:onEvent:)`).
public struct OneShotResources: Sendable, Equatable {
    public var containerID: String?
    public var networkID: String?
    public init(containerID: String?, networkID: String?) { self.containerID = containerID; self.networkID = networkID }
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
    /// (about 130 ms of Docker calls after the program has ended): `coderunner run` reports the result first and leaves
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
            RunResult(status: .internalError, language: request.runtime.language, exitCode: nil, signal: nil, stages: [],
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
                if outcome == nil { network = nil; ephemeralContainer = nil }  // it was gone and is cleaned up: start cold
            }
            if outcome == nil, ephemeral {
                let created = settings.oneShotRunsHaveNetwork ? try await networks.create(session: session, ephemeral: true) : nil
                network = created
                if created != nil { RunTrace.mark("network created") }
                // The agent is PID 1 and takes this first run on its own stdin: attached before the start, no exec.
                let containerID = try await createContainer(for: request.runtime, limits: request.limits, session: session, network: created,
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
                outcome = try await converse(containerID: containerID, request: request, channel: .attached(connection), input: input, onEvent: onEvent)
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
            return (failure(String(describing: error)), nil)
        }
    }

    /// Runs a program in the container of the session shell's kernel, beside it (`:run`): the same work dir the
    /// shell's file commands see, the kernel and its state untouched. The shell runs one thing at a time, so the two
    /// never overlap; without a live kernel in the container the agent takes its run lock as for any run.
    public func runBesideKernel(
        _ request: RunRequest, containerID: String, input: AsyncStream<RunInput>?, onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async -> RunResult {
        let started = ContinuousClock.now
        func elapsed() -> Double { Double((ContinuousClock.now - started).microseconds) / 1000 }
        func failure(_ message: String) -> RunResult {
            RunResult(status: .internalError, language: request.runtime.language, exitCode: nil, signal: nil, stages: [],
                      truncated: false, totalMilliseconds: elapsed(), message: message, session: request.session)
        }
        if let zero = request.limits.zeroLimit {
            return failure("refusing to run with \(zero): a zero limit would mean no limit; this is a bug in the caller")
        }
        do {
            switch try await converse(containerID: containerID, request: request, channel: .execBesideKernel, input: input, onEvent: onEvent) {
            case .finished(let stages):
                return Self.result(stages: stages, request: request, totalMilliseconds: elapsed(), session: request.session)
            case .failed(let reason, _):
                return failure("the run could not be set up: \(reason)")
            case .busy:
                return failure("the kernel's container is busy with another run")
            }
        } catch {
            return failure(String(describing: error))
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
            return try await converse(containerID: standby.containerID, request: request, channel: standby.servesStdio ? .attach(shared: false) : .exec,
                                      input: input) { event in
                produced.withLock { $0 = true }
                await onEvent(event)
            }
        } catch {
            guard Self.containerWentAway(error), !produced.withLock({ $0 }) else { throw error }
            await cleanUp(container: standby.containerID, network: standby.network)
            return nil
        }
    }

    /// Reuses an idle container of the session for this language, or creates one (up to `session.maxContainers`).
    /// The agent's run lock decides who gets a container, so two processes never share one for overlapping runs.
    func runInNamedSession(
        _ session: String, request: RunRequest, input: AsyncStream<RunInput>?, onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws -> AgentConversation.Outcome {
        try await withSessionContainer(session: session, runtime: request.runtime, limits: request.limits, processOwned: request.processOwned,
                                       claimsForRun: true, onNotice: request.onNotice) { containerID, overStdio throws(EngineError) in
            let outcome = try await self.converse(containerID: containerID, request: request, channel: overStdio ? .attach(shared: true) : .exec,
                                                  input: input, onEvent: onEvent)
            if case .busy = outcome { return nil }
            return outcome
        }
    }

    /// Suffix of a session container's name while one run holds its agent's stdin (`withSessionContainer`).
    static let inUseSuffix = "-inuse"

    /// Offers the session's running containers for `runtime` to `attempt` one by one (it returns nil when the agent says busy),
    /// and creates a new container on the session's network when none takes the work.
    ///
    /// With `claimsForRun`, a container whose agent takes runs on its stdin is claimed first: renamed with
    /// `inUseSuffix` (Docker grants a rename to one caller), so exactly one run at a time attaches to it, and `attempt` is
    /// told to attach (`true`) rather than exec; the name is given back afterwards. A holder that dies leaves its container
    /// claimed until it expires (`container.ttl` after its last run).
    func withSessionContainer<T: Sendable>(
        session: String, runtime: Runtime, limits: RunLimits, processOwned: Bool, claimsForRun: Bool = false,
        onNotice: (@Sendable (String) -> Void)? = nil, attempt: (String, Bool) async throws(EngineError) -> T?
    ) async throws -> T {
        if !processOwned { try await checkCreator(session) }
        let candidates = try await engine.containers(labeled: [
            ResourceLabel.managed, "\(ResourceLabel.session)=\(session)", "\(ResourceLabel.language)=\(runtime.language)",
        ]).filter { $0.state == "running" && $0.image == runtime.image && !$0.name.hasSuffix(Self.inUseSuffix) }
        RunTrace.mark("session containers listed")
        let engine = self.engine
        for container in candidates.sorted(by: { $0.name < $1.name }) {
            let overStdio = claimsForRun && container.labels[ResourceLabel.stdio] == "1"
            if overStdio {
                // Taken by another run (or gone): try the next one.
                guard (try? await engine.renameContainer(container.id, to: container.name + Self.inUseSuffix)) != nil else { continue }
                RunTrace.mark("container claimed")
            }
            let outcome: T?
            do {
                outcome = try await attempt(container.id, overStdio)
            } catch {
                if overStdio { await Self.release(container.id, name: container.name, engine: engine) }
                if CodeRunner.containerWentAway(error) { continue }  // expired or stopping under us: try the next one
                throw error
            }
            if overStdio { await Self.release(container.id, name: container.name, engine: engine) }
            if let outcome { return outcome }
        }
        let sessionContainers = try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"])
        guard sessionContainers.filter({ $0.state == "running" || $0.state == "created" }).count < settings.maxContainersPerSession else {
            throw SessionError.tooManyContainers(session: session, limit: settings.maxContainersPerSession)
        }
        let network: SessionNetwork
        if let existing = try await networks.find(session: session) {
            network = existing
            // The session was used before and nothing of it runs any more: its containers expired (a job's second run
            // would otherwise find its earlier files gone without a word).
            if !processOwned, sessionContainers.isEmpty {
                onNotice?("session \(session): its containers expired (idle longer than container.ttl); starting fresh, "
                          + "files from earlier runs are gone (run --ttl keeps a session's containers longer)")
            }
        } else {
            network = try await networks.create(session: session, ephemeral: processOwned)
        }
        // A new container is born claimed, so no other run attaches to it before this one.
        let name = Self.containerName(session: session, language: runtime.language)
        let createdName = claimsForRun ? name + Self.inUseSuffix : name
        var created: Result<String, EngineError>
        do {
            created = .success(try await createContainer(for: runtime, limits: limits, session: session, network: network, ephemeral: processOwned,
                                                         name: createdName))
        } catch {
            created = .failure(error)
        }
        if case .failure(.notFound) = created {
            // `net gc` removed the idle network between our lookup and the create: make a new one once.
            let fresh = try await networks.create(session: session, ephemeral: processOwned)
            created = .success(try await createContainer(for: runtime, limits: limits, session: session, network: fresh, ephemeral: processOwned,
                                                         name: createdName))
        }
        let containerID = try created.get()
        let outcome: T?
        do {
            outcome = try await attempt(containerID, claimsForRun)
        } catch {
            if claimsForRun { await Self.release(containerID, name: name, engine: engine) }
            throw error
        }
        if claimsForRun { await Self.release(containerID, name: name, engine: engine) }
        guard let outcome else {
            throw EngineError.conflict("a new container was taken by another run before this one could start")
        }
        return outcome
    }

    /// Gives a claimed session container its name back (in a task of its own: a cancelled caller must still release).
    static func release(_ id: String, name: String, engine: any ContainerEngine) async {
        await Task { try? await engine.renameContainer(id, to: name) }.value
    }

    static func containerName(session: String, language: String) -> String {
        "coderunner-\(session)-\(language)-\(SessionName.ephemeral().dropFirst(4).prefix(6))"
    }

    /// Starts `count` idle containers for a named session ahead of need, so its first runs skip container start-up.
    public func warm(session: String, runtime: Runtime, limits: RunLimits, count: Int) async throws -> [String] {
        try await checkCreator(session)
        let network: SessionNetwork
        if let existing = try await networks.find(session: session) { network = existing } else {
            network = try await networks.create(session: session, ephemeral: false)
        }
        let existing = try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"])
        let room = max(0, settings.maxContainersPerSession - existing.filter { $0.state == "running" }.count)
        var created: [String] = []
        for _ in 0..<min(count, room) {
            created.append(try await createContainer(for: runtime, limits: limits, session: session, network: network, ephemeral: false))
        }
        return created
    }

    /// A named session made by another creator (another user or CI job) is only joined when asked (`--join`):
    /// its programs would share a network with this job's, and its clean-up would remove this job's containers.
    func checkCreator(_ session: String) async throws {
        guard !settings.joinOtherCreators, let network = try await networks.find(session: session),
              let creator = network.creator, creator != settings.sessionCreator else { return }
        throw SessionError.otherCreator(session: session, creator: creator, ours: settings.sessionCreator)
    }

    /// Removes a named session: its containers, then its network. Used by `pool drain --session` and the shell on exit.
    public func endSession(_ session: String) async throws(EngineError) {
        for container in try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"]) {
            try? await engine.removeContainer(container.id)
        }
        if let network = try await networks.find(session: session) { await networks.remove(network) }
    }

    static func containerWentAway(_ error: EngineError) -> Bool {
        switch error {
        case .notFound, .conflict: return true
        default: return false
        }
    }

    /// How the engine reaches a container's agent for one run.
    enum AgentChannel {
        /// `docker exec coderunner-agent run` (containers whose PID 1 does not serve its stdin).
        case exec
        /// `docker exec coderunner-agent run --beside-kernel`: the shell's `:run`, in the container of its kernel.
        case execBesideKernel
        /// An attachment to PID 1's stdin and stdout (`idle --stdio`); the caller holds the container's claim. `shared`:
        /// later runs use that stdin too (a session's container, not a standby), so the run ends only once the agent
        /// confirmed that nothing of it is left there (`runClosed`).
        case attach(shared: Bool)
        /// An attachment made already (before the container's start).
        case attached(any ExecConnection)
    }

    func converse(
        containerID: String, request: RunRequest, channel: AgentChannel = .exec, input: AsyncStream<RunInput>?,
        onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws(EngineError) -> AgentConversation.Outcome {
        let connection: any ExecConnection
        let overStdio: Bool
        var shared = false
        switch channel {
        case .exec:
            connection = try await engine.exec(containerID, argv: [Self.agentPath, "run"])
            overStdio = false
        case .execBesideKernel:
            connection = try await engine.exec(containerID, argv: [Self.agentPath, "run", "--beside-kernel"])
            overStdio = false
        case .attach(let sharedStdin):
            connection = try await engine.attach(containerID)
            RunTrace.mark("attached")
            overStdio = true
            shared = sharedStdin
        case .attached(let attached):
            connection = attached
            overStdio = true
        }
        defer { Task { await connection.close() } }
        let agentRequest = agentRequest(for: request)
        let conversation = AgentConversation(connection: connection)
        let started = ContinuousClock.now
        let firstOutput = Locked(true)
        var reportEvent = onEvent
        if RunTrace.enabled {
            reportEvent = { event in
                if case .output = event {
                    let isFirst = firstOutput.withLock { first in
                        defer { first = false }
                        return first
                    }
                    if isFirst { RunTrace.mark("first output") }
                }
                await onEvent(event)
            }
        }
        // The engine's own deadline: the agent enforces the limits, but nothing the program does may extend a run, so
        // the engine ends it too (the container is killed) once the stages' limits and a grace period are over.
        let engine = self.engine
        let limit = Self.engineDeadline(for: agentRequest)
        let enforcer = Task<Bool, Never> {
            guard let limit else { return false }
            do { try await Task.sleep(until: started + limit) } catch { return false }
            // Its own task: the conversation ends (and cancels this one) as soon as the kill begins, and the removal
            // must still finish.
            await Task { try? await engine.removeContainer(containerID) }.value
            return true
        }
        defer { enforcer.cancel() }
        func endedByEngine() -> AgentConversation.Outcome {
            .finished(Self.stagesEndedByEngine(conversation.progress, request: agentRequest, wall: ContinuousClock.now - started))
        }
        // Over PID 1's stdin nothing tells the agent that we are gone (that stdin stays open for later runs): it hears
        // from us at least every `keepaliveInterval`, and stops the program after `engineSilenceLimit` of silence.
        let keepalive: Task<Void, Never>? = !overStdio ? nil : Task {
            while true {
                do { try await Task.sleep(for: AgentWire.keepaliveInterval) } catch { return }
                try? await connection.write(AgentWire.encode(EngineMessage.keepalive))
            }
        }
        defer { keepalive?.cancel() }
        do {
            let outcome = try await conversation.run(request: agentRequest, input: input, backlog: request.inputBacklog, onEvent: reportEvent)
            keepalive?.cancel()
            await keepalive?.value
            // Over PID 1's stdin the run ends with our `endOfRun`: the agent discards what this run left unread up to it.
            if overStdio { try? await connection.write(AgentWire.encode(EngineMessage.endOfRun)) }
            // A shared stdin is handed to the next run only once the agent has read that far; if it does not say so,
            // the container cannot be trusted with another run and goes.
            if shared, !(await conversation.awaitRunClosed(timeout: Self.runClosedWait)) {
                await Task { try? await engine.removeContainer(containerID) }.value
            }
            enforcer.cancel()
            return await enforcer.value ? endedByEngine() : outcome
        } catch {
            enforcer.cancel()
            if await enforcer.value { return endedByEngine() }
            // The agent is gone (killed, crashed, out of memory) but what it started may not be: end the container, so
            // no program outlives its run.
            if case .streamLost = error { await Task { try? await engine.removeContainer(containerID) }.value }
            throw error
        }
    }

    /// How long past its start the engine lets a run go before it ends it itself: every stage's wall-clock limit plus
    /// `supervisorGrace`. nil when a stage has no limit.
    static func engineDeadline(for request: AgentRunRequest) -> Duration? {
        guard !request.stages.isEmpty, request.stages.allSatisfy({ $0.timeoutMilliseconds > 0 }) else { return nil }
        let total = request.stages.reduce(UInt64(0)) { $0 &+ $1.timeoutMilliseconds }
        return .milliseconds(Int64(clamping: total)) + supervisorGrace
    }

    /// How long a run over a shared stdin waits for the agent's `runClosed`.
    static let runClosedWait: Duration = .seconds(5)

    /// Time the agent has, past the limits, to stop a program and report (writing files, killing a process tree).
    static let supervisorGrace: Duration = .seconds(5)

    /// The stages of a run the engine ended at its own deadline: those the agent reported, then the one that was
    /// running (or the next one due), timed out.
    static func stagesEndedByEngine(_ progress: AgentConversation.Progress, request: AgentRunRequest, wall: Duration) -> [AgentStageResult] {
        let finished = progress.finishedStages
        let name = progress.currentStage ?? request.stages.dropFirst(finished.count).first?.name ?? "run"
        let total = UInt64(max(0, wall.microseconds))
        let earlier = finished.reduce(UInt64(0)) { $0 &+ $1.wallMicroseconds }
        let ended = AgentStageResult(
            name: name, exitCode: nil, signal: SIGKILL, wallMicroseconds: total > earlier ? total - earlier : 0,
            userCPUMicroseconds: 0, systemCPUMicroseconds: 0, maxResidentKiB: 0, timedOut: true, cpuLimitExceeded: false,
            outputLimitExceeded: false, memoryLimitExceeded: false, stopped: false)
        return finished + [ended]
    }

    /// The agent's view of a run: files, the stages with their commands and limits, the environment.
    func agentRequest(for request: RunRequest) -> AgentRunRequest {
        let manifest = request.runtime.manifest
        var environment = [
            "PATH=\(Self.basePath)", "HOME=\(Self.workdir)", "TMPDIR=/tmp", "LANG=C.UTF-8",
            "ENTRY=\(request.submission.entry)", "CODERUNNER_LANGUAGE=\(manifest.language)",
        ]
        environment.append(contentsOf: request.environment)
        let cpuSeconds = UInt32(min(Double(UInt32.max - 1), (Double(request.limits.timeout.microseconds) / 1e6 * max(request.limits.cpus, 1)).rounded(.up) + 1))
        var stages: [AgentStage] = []
        if let compile = manifest.compile {
            stages.append(AgentStage(
                name: "compile", argv: ["/bin/sh", "-c", compile, "coderunner"],
                timeoutMilliseconds: UInt64(request.limits.compileTimeout.milliseconds), cpuSeconds: 0, takesStdin: false))
        }
        stages.append(AgentStage(
            name: "run", argv: ["/bin/sh", "-c", manifest.run, "coderunner"] + request.arguments,
            timeoutMilliseconds: UInt64(request.limits.timeout.milliseconds), cpuSeconds: cpuSeconds, takesStdin: true))
        return AgentRunRequest(
            workdir: Self.workdir, clearWorkdir: request.fresh,
            files: request.submission.files.map { AgentFile(path: $0.path, contents: $0.contents, executable: $0.executable) },
            environment: environment, stages: stages, outputLimitBytes: request.limits.outputLimitBytes,
            maxFileSizeBytes: settings.maxFileSize, maxOpenFiles: UInt32(settings.maxOpenFiles))
    }

    /// Creates and starts a locked-down container for a runtime on the session's network, or with loopback only when
    /// `network` is nil (the security defaults of docs/threat-model.md;
    /// the adapter adds the capability and privilege settings that never vary).
    public func createContainer(for runtime: Runtime, limits: RunLimits, session: String, network: SessionNetwork?, ephemeral: Bool,
                                extraLabels: [String: String] = [:], name: String? = nil, start: Bool = true,
                                singleRun: Bool = false) async throws(EngineError) -> String {
        var command = [Self.agentPath, "idle", "--ttl", String(max(1, settings.containerTTL.microseconds / 1_000_000)), "--stdio"]
        if singleRun { command.append("--once") }
        if let service = runtime.manifest.service, !service.isEmpty { command += ["--service"] + service }
        var labels = [
            ResourceLabel.managed: "1", ResourceLabel.session: session, ResourceLabel.language: runtime.language,
            ResourceLabel.ownerPID: String(getpid()), ResourceLabel.ownerHost: SessionNetworks.hostName,
            ResourceLabel.created: String(Int(SessionNetworks.now())),
            ResourceLabel.ttl: String(settings.containerTTL.microseconds / 1_000_000), ResourceLabel.stdio: "1",
        ]
        if ephemeral { labels[ResourceLabel.ephemeral] = "1" }
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

    /// Removes a one-shot session. The container's removal (kill + delete, the slow part) and the network's
    /// (force-disconnect, then delete) run side by side instead of one after the other.
    func cleanUp(container: String?, network: SessionNetwork?) async {
        await cleanUp(containerID: container, networkID: network?.id)
        if let network { await networks.allocator.release(network.subnet) }
    }

    func cleanUp(containerID: String?, networkID: String?) async {
        let engine = self.engine
        await withTaskGroup(of: Void.self) { group in
            if let containerID {
                group.addTask { try? await engine.removeContainer(containerID) }
            }
            if let networkID {
                group.addTask {
                    if let containerID { try? await engine.disconnect(container: containerID, from: networkID) }
                    try? await engine.removeNetwork(networkID)
                }
            }
        }
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
            return RunResult(status: .internalError, language: language, exitCode: nil, signal: nil, stages: reports, truncated: false,
                             totalMilliseconds: totalMilliseconds, message: "the agent reported no stage", session: session)
        }
        let status: RunStatus
        var message: String?
        if last.stopped { status = .stopped }
        else if last.timedOut {
            status = .timeout
            message = "\(last.name) stage ran longer than \(Quantity.formatDuration(last.name == "compile" ? request.limits.compileTimeout : request.limits.timeout))"
        } else if last.memoryLimitExceeded {
            status = .memoryLimit
            message = "limit \(Quantity.formatBytes(request.limits.memoryBytes))"
        } else if last.outputLimitExceeded {
            status = .outputLimit
            message = "limit \(Quantity.formatBytes(request.limits.outputLimitBytes))"
        } else if last.cpuLimitExceeded { status = .cpuLimit }
        else if last.name == "compile", last.exitCode != 0 || last.signal != nil { status = .compileError }
        else if last.signal != nil { status = .signal }
        else if last.exitCode == 0 { status = .ok }
        else { status = .runtimeError }
        return RunResult(
            status: status, language: language, exitCode: last.exitCode, signal: last.signal, stages: reports,
            truncated: stages.contains { $0.outputLimitExceeded }, totalMilliseconds: totalMilliseconds, message: message, session: session)
    }
}
