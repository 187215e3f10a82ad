import AgentProtocol

/// What the caller of a run receives while it runs.
public enum RunEvent: Sendable, Equatable {
    case stageStarted(String)
    case output(ProgramStream, [UInt8])
}

/// Which of a program's output streams a chunk came from.
public enum ProgramStream: String, Sendable, Codable { case stdout, stderr }

/// What the caller may send into a running program.
public enum RunInput: Sendable, Equatable {
    case data([UInt8])
    case end
    case stop
}

/// Program input a caller has handed to a run that has not yet gone to the agent. The agent takes at most its stdin
/// window (`AgentWire.stdinWindowBytes`) ahead of the program, so input for a program that does not read piles up on
/// the caller's side: callers count what they yield (`add`) and hold back (the CLI) or refuse (`serve`) past a bound.
public final class InputBacklog: Sendable {
    private let count = Locked(0)
    public init() {}
    /// Bytes handed over and not yet sent to the agent.
    public var bytes: Int { count.withLock { $0 } }
    public func add(_ bytes: Int) { count.withLock { $0 += bytes } }
    func sent(_ bytes: Int) { count.withLock { $0 = max(0, $0 - bytes) } }
}

/// One `coderunner-agent run` over an exec connection: send the request, relay input, collect output and stage results.
struct AgentConversation {
    enum Outcome {
        case finished([AgentStageResult])
        case busy
        case failed(String, [AgentStageResult])
    }

    /// What the agent reported so far, readable while the conversation runs: when the engine must end a run itself
    /// (its own deadline), this says which stage was running and which had finished.
    final class Progress: Sendable {
        private let state = Locked<(current: String?, finished: [AgentStageResult], heard: Bool)>((nil, [], false))
        var currentStage: String? { state.withLock { $0.current } }
        var finishedStages: [AgentStageResult] { state.withLock { $0.finished } }
        /// Whether the agent has said anything since the request (until then it has not begun the run).
        var heardFromAgent: Bool { state.withLock { $0.heard } }
        func heard() { state.withLock { $0.heard = true } }
        func started(_ name: String) { state.withLock { $0.current = name } }
        func finished(_ result: AgentStageResult) {
            state.withLock {
                $0.finished.append(result)
                $0.current = nil
            }
        }
    }

    let connection: any ExecConnection
    var progress = Progress()

    func run(
        request: AgentRunRequest,
        input: AsyncStream<RunInput>?,
        backlog: InputBacklog?,
        onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws(EngineError) -> Outcome {
        do {
            try await connection.write(AgentWire.encode(EngineMessage.run(request)))
            RunTrace.mark("request sent")
        } catch {
            throw error
        }
        let connection = self.connection
        let window = StdinWindow(bytes: AgentWire.stdinWindowBytes)
        // Input flows on its own task, started with the first stage: a busy container answers before that,
        // and must not swallow input meant for the container that takes the run instead.
        var inputTask: Task<Void, Never>?
        func startInput() {
            guard inputTask == nil else { return }
            inputTask = Task { await Self.forward(input, to: connection, window: window, backlog: backlog) }
        }
        let outcome: Result<Outcome, EngineError>
        do {
            outcome = .success(try await receive(window: window, startInput: startInput, onEvent: onEvent))
        } catch {
            outcome = .failure(error)
        }
        // The relay has written its last frame before this returns: over the container's own stdin, the caller's
        // `endOfRun` must come after everything of this run.
        inputTask?.cancel()
        window.cancel()
        await inputTask?.value
        return try outcome.get()
    }

    /// After `endOfRun` over a shared stdin: waits for the agent's `runClosed`, which says that nothing of this run is
    /// left there. False when it does not come within `timeout` (the channel's state is then unknown).
    func awaitRunClosed(timeout: Duration) async -> Bool {
        let connection = self.connection
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                var decoder = AgentMessageDecoder()
                do {
                    for try await chunk in connection.stdout {
                        decoder.append(chunk)
                        while let message = try decoder.next() {
                            if case .runClosed = message { return true }
                        }
                    }
                } catch {}
                return false
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let closed = await group.next() ?? false
            group.cancelAll()
            return closed
        }
    }

    /// Reads the agent's messages until the run's end.
    private func receive(
        window: StdinWindow, startInput: () -> Void, onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws(EngineError) -> Outcome {
        var decoder = AgentMessageDecoder()
        do {
            for try await chunk in connection.stdout {
                decoder.append(chunk)
                while let message = try decoder.next() {
                    switch message {
                    case .hello, .kernelReady, .display, .cellFinished, .kernelExited, .runClosed, .completions: break
                    default: progress.heard()
                    }
                    switch message {
                    case .hello:
                        continue
                    case .busy:
                        return .busy
                    case .stageStarted(let name):
                        progress.started(name)
                        startInput()
                        await onEvent(.stageStarted(name))
                    case .output(let stream, let bytes):
                        await onEvent(.output(stream == .stdout ? .stdout : .stderr, bytes))
                    case .stageFinished(let result):
                        RunTrace.mark("stage ended")
                        progress.finished(result)
                    case .stdinConsumed(let count):
                        window.release(Int(clamping: count))
                    case .failed(let reason):
                        return .failed(reason, progress.finishedStages)
                    case .finished:
                        return .finished(progress.finishedStages)
                    case .kernelReady, .display, .cellFinished, .kernelExited, .runClosed, .completions:
                        continue  // kernel messages, or the end of an earlier run; not part of this one
                    }
                }
            }
        } catch let error as AgentProtocolError {
            throw .streamLost("the agent sent bad data (\(error))")
        } catch let error as EngineError {
            throw error
        } catch {
            throw .streamLost("\(error)")
        }
        let diagnostics = await connection.diagnostics()
        let detail = diagnostics.isEmpty ? "" : ": " + diagnostics.split(separator: "\n").suffix(3).joined(separator: " | ")
        throw .streamLost("the in-container agent ended before the run finished (container removed or engine restarted?)\(detail)")
    }

    /// Relays the caller's input. Program bytes go out only as far as the agent's stdin window allows, so a program
    /// that never reads its stdin holds the sender back instead of filling the agent's memory; a `stop` never waits
    /// behind them (it is written at once, and the agent, which always reads its channel, acts on it at once).
    static func forward(_ input: AsyncStream<RunInput>?, to connection: any ExecConnection, window: StdinWindow, backlog: InputBacklog?) async {
        guard let input else {
            try? await connection.write(AgentWire.encode(EngineMessage.closeStdin))
            return
        }
        let (queue, queued) = AsyncStream<RunInput>.makeStream()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Program bytes and the end of input, in order, each chunk after its credit.
                for await item in queue {
                    switch item {
                    case .data(let bytes):
                        var offset = 0
                        while offset < bytes.count {
                            let chunk = Array(bytes[offset..<min(bytes.count, offset + AgentWire.maxStdinChunkBytes)])
                            guard await window.acquire(chunk.count) else { return }
                            try? await connection.write(AgentWire.encode(EngineMessage.stdin(chunk)))
                            backlog?.sent(chunk.count)
                            offset += chunk.count
                        }
                    case .end:
                        try? await connection.write(AgentWire.encode(EngineMessage.closeStdin))
                    case .stop:
                        continue
                    }
                }
            }
            for await item in input {
                if case .stop = item {
                    try? await connection.write(AgentWire.encode(EngineMessage.stop))
                } else {
                    queued.yield(item)
                }
            }
            queued.finish()
            await group.waitForAll()
        }
    }
}

/// Credit for program stdin in flight to the agent (`AgentWire.stdinWindowBytes`): taken before a chunk is sent,
/// given back by the agent's `stdinConsumed`. One waiter at a time (the input relay).
final class StdinWindow: Sendable {
    private struct State {
        var available: Int
        var cancelled = false
        var waiter: (needed: Int, continuation: CheckedContinuation<Bool, Never>)?
    }
    private let state: Locked<State>

    init(bytes: Int) { state = Locked(State(available: bytes)) }

    /// Waits until `count` bytes of credit are free and takes them; false once the conversation is over.
    func acquire(_ count: Int) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow: Bool? = state.withLock { state in
                    if state.cancelled { return false }
                    if state.available >= count {
                        state.available -= count
                        return true
                    }
                    state.waiter = (count, continuation)
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            cancel()
        }
    }

    func release(_ count: Int) {
        let waiter: CheckedContinuation<Bool, Never>? = state.withLock { state in
            state.available += count
            guard let waiter = state.waiter, state.available >= waiter.needed else { return nil }
            state.available -= waiter.needed
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: true)
    }

    /// Ends every wait (the run is over or the relay was cancelled).
    func cancel() {
        let waiter: CheckedContinuation<Bool, Never>? = state.withLock { state in
            state.cancelled = true
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume(returning: false)
    }
}
