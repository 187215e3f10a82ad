import AgentProtocol

/// What the caller of a run receives while it runs.
public enum RunEvent: Sendable, Equatable {
    case stageStarted(String)
    case output(OutputStream, [UInt8])
}

public enum OutputStream: String, Sendable, Codable { case stdout, stderr }

/// What the caller may send into a running program.
public enum RunInput: Sendable, Equatable {
    case data([UInt8])
    case end
    case stop
}

/// One `coderunner-agent run` over an exec connection: send the request, relay input, collect output and stage results.
struct AgentConversation {
    enum Outcome {
        case finished([AgentStageResult])
        case busy
        case failed(String, [AgentStageResult])
    }

    let connection: any ExecConnection

    func run(
        request: AgentRunRequest,
        input: AsyncStream<RunInput>?,
        onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws(EngineError) -> Outcome {
        do {
            try await connection.write(AgentWire.encode(EngineMessage.run(request)))
        } catch {
            throw error
        }
        let connection = self.connection
        // Input flows on its own task, started with the first stage: a busy container answers before that,
        // and must not swallow input meant for the container that takes the run instead.
        var inputTask: Task<Void, Never>?
        defer { inputTask?.cancel() }
        func startInput() {
            guard inputTask == nil else { return }
            inputTask = Task {
                guard let input else {
                    try? await connection.write(AgentWire.encode(EngineMessage.closeStdin))
                    return
                }
                for await item in input {
                    switch item {
                    case .data(let bytes):
                        try? await connection.write(AgentWire.encode(EngineMessage.stdin(bytes)))
                    case .end:
                        try? await connection.write(AgentWire.encode(EngineMessage.closeStdin))
                    case .stop:
                        try? await connection.write(AgentWire.encode(EngineMessage.stop))
                    }
                }
            }
        }

        var decoder = AgentMessageDecoder()
        var stages: [AgentStageResult] = []
        do {
            for try await chunk in connection.stdout {
                decoder.append(chunk)
                while let message = try decoder.next() {
                    switch message {
                    case .hello:
                        continue
                    case .busy:
                        return .busy
                    case .stageStarted(let name):
                        startInput()
                        await onEvent(.stageStarted(name))
                    case .output(let stream, let bytes):
                        await onEvent(.output(stream == .stdout ? .stdout : .stderr, bytes))
                    case .stageFinished(let result):
                        stages.append(result)
                    case .failed(let reason):
                        return .failed(reason, stages)
                    case .finished:
                        return .finished(stages)
                    case .kernelReady, .display, .cellFinished, .kernelExited:
                        continue  // kernel messages; not part of a run
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
}
