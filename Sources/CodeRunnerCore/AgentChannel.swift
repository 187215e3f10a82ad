import AgentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// One run's conversation with a container's agent: how it is reached (exec or attach), the engine's own deadline,
/// the end of a run over a shared stdin (`endOfRun`, `runClosed`, keepalives) and the request the agent gets.
extension CodeRunner {
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
            // The removal ends the agent's stream. Should it not (the removal failed under an overloaded engine, or
            // the engine kept the attachment open), the connection is dropped: a run never outlives its deadline.
            try? await Task.sleep(for: Self.streamEndWait)
            await connection.close()
            return true
        }
        defer { enforcer.cancel() }
        func endedByEngine() -> AgentConversation.Outcome {
            .finished(Self.stagesEndedByEngine(conversation.progress, request: agentRequest, wall: ContinuousClock.now - started))
        }
        // Over PID 1's stdin nothing tells the agent that we are gone (that stdin stays open for later runs): it hears
        // from us at least every `keepaliveInterval`, and stops the program after `engineSilenceLimit` of silence.
        let keepalive: Task<Void, Never>? =
            !overStdio
            ? nil
            : Task {
                while true {
                    do { try await Task.sleep(for: AgentWire.keepaliveInterval) } catch { return }
                    try? await connection.write(AgentWire.encode(EngineMessage.keepalive))
                }
            }
        defer { keepalive?.cancel() }
        // A container claimed just as its agent left (idle past its TTL) never takes the run: its attachment can stay
        // open without a word until the deadline. While the agent is silent, the container is looked at every
        // `answerWait`; once it no longer runs, the run, never begun there, goes to another container (the caller's
        // `containerWentAway`).
        let leftUnanswered = Locked(false)
        let watchdog: Task<Void, Never>? =
            !overStdio
            ? nil
            : Task {
                while !conversation.progress.heardFromAgent {
                    do { try await Task.sleep(for: Self.answerWait) } catch { return }
                    if conversation.progress.heardFromAgent { return }
                    if (try? await engine.isRunning(containerID)) == false {
                        leftUnanswered.withLock { $0 = true }
                        await connection.close()
                        return
                    }
                }
            }
        defer { watchdog?.cancel() }
        func neverBegun() -> EngineError {
            .notFound("container \(containerID) stopped before its agent took the run")
        }
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
            if shared { RunTrace.mark("run closed") }
            enforcer.cancel()
            return await enforcer.value ? endedByEngine() : outcome
        } catch {
            enforcer.cancel()
            if await enforcer.value { return endedByEngine() }
            watchdog?.cancel()
            if leftUnanswered.withLock({ $0 }) { throw neverBegun() }
            // The agent is gone (killed, crashed, out of memory) but what it started may not be: end the container, so
            // no program outlives its run.
            if case .streamLost = error {
                await Task { try? await engine.removeContainer(containerID) }.value
                // Gone before it said a word about this run: the run was never begun, and may go elsewhere.
                if overStdio, !conversation.progress.heardFromAgent { throw neverBegun() }
            }
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

    /// How long after the engine's removal of a container at the deadline the run waits for the agent's stream to end
    /// before it drops the connection itself.
    static let streamEndWait: Duration = .seconds(5)

    /// How often a run over a container's stdin checks, while the agent has not answered, that the container runs.
    static let answerWait: Duration = .seconds(2)

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
        let cpuSeconds = UInt32(
            min(Double(UInt32.max - 1), (Double(request.limits.timeout.microseconds) / 1e6 * max(request.limits.cpus, 1)).rounded(.up) + 1))
        var stages: [AgentStage] = []
        if let compile = manifest.compile {
            stages.append(
                AgentStage(
                    name: "compile", argv: ["/bin/sh", "-c", compile, "coderunner"],
                    timeoutMilliseconds: UInt64(request.limits.compileTimeout.milliseconds), cpuSeconds: 0, takesStdin: false))
        }
        stages.append(
            AgentStage(
                name: "run", argv: ["/bin/sh", "-c", manifest.run, "coderunner"] + request.arguments,
                timeoutMilliseconds: UInt64(request.limits.timeout.milliseconds), cpuSeconds: cpuSeconds, takesStdin: true))
        return AgentRunRequest(
            workdir: Self.workdir, clearWorkdir: request.fresh,
            files: request.submission.files.map { AgentFile(path: $0.path, contents: $0.contents, executable: $0.executable) },
            environment: environment, stages: stages, outputLimitBytes: request.limits.outputLimitBytes,
            maxFileSizeBytes: settings.maxFileSize, maxOpenFiles: UInt32(settings.maxOpenFiles))
    }
}
