import AgentProtocol
import Synchronization

@testable import CodeRunnerCore

/// The `coderunner-agent` of an `InMemoryEngine` container, in process: it speaks the real wire protocol
/// (`AgentWire`), over an exec (`coderunner-agent run`) or over the container's own stdio (`idle --stdio`, with
/// `--once` for a one-shot container), so the engine's run paths can be tested without Docker.
///
/// Its "programs" are scripts, one directive a line, in the run's entry file (`FakeProgram`).
public actor FakeAgent {
    let containerID: String
    let servesStdio: Bool
    let once: Bool
    private let onExit: @Sendable () async -> Void
    /// The container's work directory, by relative path.
    public private(set) var files: [String: [UInt8]] = [:]
    /// Every request the agent received, in order.
    public private(set) var requests: [AgentRunRequest] = []
    private var runHeld = false
    private var exited = false
    /// Over stdio: the container's stdin, shared by every attachment, and the attachments that hear its stdout.
    private let stdin: AsyncStream<EngineMessage>
    private let stdinInput: AsyncStream<EngineMessage>.Continuation
    private var attachments: [ObjectIdentifier: FakeConnection] = [:]
    private var stdioRun: RunInbox?
    private var awaitingEndOfRun = false
    private var pump: Task<Void, Never>?
    private var execRuns: [RunInbox] = []

    init(containerID: String, command: [String], onExit: @escaping @Sendable () async -> Void) {
        self.containerID = containerID
        servesStdio = command.contains("--stdio")
        once = command.contains("--once")
        self.onExit = onExit
        (stdin, stdinInput) = AsyncStream<EngineMessage>.makeStream()
    }

    /// The container started: PID 1 reads its stdin (what attachments wrote before the start waits there).
    func start() {
        guard servesStdio, pump == nil else { return }
        pump = Task { await self.pumpStdin() }
    }

    /// `docker attach`: writes go to the container's stdin; the agent's answers from now on come out here.
    func attach() -> FakeConnection {
        let input = stdinInput
        let connection = FakeConnection(deliver: { input.yield($0) }, endOfInput: {})
        if exited { connection.end() } else { attachments[ObjectIdentifier(connection)] = connection }
        return connection
    }

    /// `docker exec coderunner-agent run`: a run of its own over the exec's stdin and stdout.
    func exec() -> FakeConnection {
        let (messages, input) = AsyncStream<EngineMessage>.makeStream()
        let connection = FakeConnection(deliver: { input.yield($0) }, endOfInput: { input.finish() })
        Task { await self.serveExec(messages, over: connection) }
        return connection
    }

    /// PID 1 exits (its idle TTL, or a `crash`): every attachment ends and the engine is told.
    func exit() async {
        guard !exited else { return }
        end()
        await onExit()
    }

    /// The container was removed: what runs in it is stopped and every stream ends.
    func kill() { end() }

    private func end() {
        exited = true
        for run in execRuns + [stdioRun].compactMap({ $0 }) { run.update { $0.engineGone = true } }
        for connection in attachments.values { connection.end() }
        attachments = [:]
        stdinInput.finish()
        pump?.cancel()
    }

    private func broadcast(_ message: AgentMessage) {
        for connection in attachments.values { connection.send(message) }
    }

    private func pumpStdin() async {
        for await message in stdin {
            switch message {
            case .run(let request):
                guard stdioRun == nil, !awaitingEndOfRun else { continue }
                let run = RunInbox()
                stdioRun = run
                Task {
                    self.broadcast(.hello(version: AgentWire.version))
                    let end = await self.serve(request, inbox: run) { await self.broadcast($0) }
                    await self.stdioRunEnded(end)
                }
            case .endOfRun:
                guard awaitingEndOfRun else { continue }
                awaitingEndOfRun = false
                broadcast(.runClosed)
                if once { await exit() }
            default:
                if let run = stdioRun { Self.apply(message, to: run) { self.broadcast($0) } }
            }
        }
    }

    private func stdioRunEnded(_ end: RunEnd) async {
        stdioRun = nil
        if end == .crashed {
            await exit()
            return
        }
        awaitingEndOfRun = true
    }

    private func serveExec(_ messages: AsyncStream<EngineMessage>, over connection: FakeConnection) async {
        let run = RunInbox()
        execRuns.append(run)
        defer { execRuns.removeAll { $0 === run } }
        connection.send(.hello(version: AgentWire.version))
        var iterator = messages.makeAsyncIterator()
        guard case .run(let request)? = await iterator.next() else {
            connection.send(.failed("the engine's first message was not a run request"))
            connection.end()
            return
        }
        let pumping = Task {
            while let message = await iterator.next() { Self.apply(message, to: run) { connection.send($0) } }
            run.update { $0.engineGone = true }  // the exec's stdin closed: the engine is gone
        }
        let end = await serve(request, inbox: run) { connection.send($0) }
        pumping.cancel()
        connection.end()
        if end == .crashed { await exit() }
    }

    private static func apply(_ message: EngineMessage, to run: RunInbox, say: (AgentMessage) -> Void) {
        switch message {
        case .stdin(let bytes):
            run.update { $0.stdin += bytes }
            say(.stdinConsumed(UInt64(bytes.count)))
        case .closeStdin: run.update { $0.stdinClosed = true }
        case .stop: run.update { $0.stopped = true }
        default: break
        }
    }

    enum RunEnd { case finished, busy, crashed }

    /// One run: the busy check, the files, the stages in order until one does not succeed.
    private func serve(_ request: AgentRunRequest, inbox: RunInbox, say: @escaping @Sendable (AgentMessage) async -> Void) async -> RunEnd {
        requests.append(request)
        guard !runHeld else {
            await say(.busy)
            return .busy
        }
        runHeld = true
        defer { runHeld = false }
        if request.clearWorkdir { files = [:] }
        for file in request.files { files[file.path] = file.contents }
        for stage in request.stages {
            await say(.stageStarted(stage.name))
            guard let result = await FakeProgram.run(stage, of: request, files: files, inbox: inbox, say: say) else { return .crashed }
            await say(.stageFinished(result))
            if !result.succeeded { break }
        }
        await say(.finished)
        return .finished
    }
}

/// What the engine has sent to one run so far; its program reads it.
final class RunInbox: Sendable {
    struct State {
        var stdin: [UInt8] = []
        var stdinClosed = false
        var stopped = false
        var engineGone = false
    }
    private let state = Mutex(State())
    func update<T>(_ body: (inout State) -> T) -> T { state.withLock { body(&$0) } }
}

/// One side of a conversation with a `FakeAgent`: what the engine writes is decoded and delivered to the agent, what
/// the agent says comes out on `stdout` as wire frames.
public final class FakeConnection: ExecConnection {
    public let stdout: AsyncThrowingStream<[UInt8], any Error>
    private let output: AsyncThrowingStream<[UInt8], any Error>.Continuation
    private let decoder = Mutex(EngineMessageDecoder())
    private let closed = Mutex(false)
    private let deliver: @Sendable (EngineMessage) -> Void
    private let endOfInput: @Sendable () -> Void

    init(deliver: @escaping @Sendable (EngineMessage) -> Void, endOfInput: @escaping @Sendable () -> Void) {
        (stdout, output) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        self.deliver = deliver
        self.endOfInput = endOfInput
    }

    public func diagnostics() async -> String { "" }

    public func write(_ bytes: [UInt8]) async throws(EngineError) {
        guard !closed.withLock({ $0 }) else { throw .streamLost("the connection is closed") }
        let messages: [EngineMessage]
        do {
            messages = try decoder.withLock { decoder throws(AgentProtocolError) in
                decoder.append(bytes)
                var messages: [EngineMessage] = []
                while let message = try decoder.next() { messages.append(message) }
                return messages
            }
        } catch {
            throw .streamLost("the fake agent cannot read what was sent: \(error)")
        }
        messages.forEach(deliver)
    }

    public func closeWrite() async { endOfInput() }

    public func close() async {
        closed.withLock { $0 = true }
        endOfInput()
        output.finish()
    }

    func send(_ message: AgentMessage) { output.yield(AgentWire.encode(message)) }
    func end() { output.finish() }
}
