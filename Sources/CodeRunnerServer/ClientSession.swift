import CodeRunnerCore
import Logging

/// How a protocol (native JSON or Socket.IO) spells the session's events as WebSocket text messages.
protocol SessionEncoder: Sendable {
    func output(run: String, stream: ProgramStream, text: String) -> String
    func exit(run: String, result: RunResult) -> [String]
    func error(run: String?, code: String, message: String) -> String
    /// The messages for one kernel happening, in order (none when the protocol has no such message).
    func kernel(_ event: KernelNotice) -> [String]
}

/// A run as a client describes it, parsed but not yet checked against limits.
struct RunSpec: Sendable {
    var id: String
    var language: String?
    var files: [SubmittedFile]
    var entry: String?
    var stdin: [UInt8]?
    var arguments: [String] = []
    var environment: [String] = []
    var limits: RequestedLimits?
    var fresh = true
}

/// One browser connection = one session. Owns the connection's runs and, lazily, its engine session (network and
/// containers are created by the first run, so a page that never runs anything costs nothing); closing removes them at once.
actor ClientSession: LiveSession {
    nonisolated let name: String
    nonisolated let client: String
    let context: ServerContext
    nonisolated let outbox: Outbox
    nonisolated let encoder: any SessionEncoder
    let logger: Logger

    struct ActiveRun {
        var input: AsyncStream<RunInput>.Continuation
        var task: Task<Void, Never>
        /// Input the program has not taken yet; `input` messages past `maxInputBacklogBytes` are refused.
        var backlog: InputBacklog
    }
    /// Input a client may have sent ahead of its program (beyond the agent's own 1 MiB window). Without a bound, a
    /// client that keeps sending to a program that never reads would fill the server's memory.
    static let maxInputBacklogBytes = 1 << 20
    var runs: [String: ActiveRun] = [:]
    var recentStarts = RunRate()
    var closed = false
    var closeReason: String?
    /// The cleanup started by the first `end`.
    private var ending: Task<Void, Never>?
    /// Set once a run reached the engine: only then can the session have a network or containers to remove.
    var touchedEngine = false
    /// The engine session this connection runs in, chosen by its first run or kernel: a standby session
    /// (`server.standby`) when one of the run's language is ready, else one named after the connection.
    private var sessionBinding: Task<String, Never>?
    /// Whether a run of this connection has finished (the first one is measured on its own: /metrics).
    var ranBefore = false
    /// The connection's kernels by id: the native protocol's one (`KernelRef.native`), or one per notebook (Socket.IO).
    var kernels: [String: KernelSlot] = [:]
    var kernelGenerations = 0
    nonisolated let opened = ContinuousClock.now
    /// The engine session `sessionBinding` chose, once it did.
    private var boundEngineSession: String?

    init(context: ServerContext, client: String, outbox: Outbox, encoder: any SessionEncoder, logger: Logger) {
        name = "ws-" + SessionName.randomHex(12)
        self.client = client
        self.context = context
        self.outbox = outbox
        self.encoder = encoder
        var logger = logger
        logger[metadataKey: "session"] = "\(name)"
        logger[metadataKey: "client"] = "\(client)"
        self.logger = logger
    }

    func sendError(run: String?, _ error: ProtocolError) {
        context.metrics.protocolError()
        logger.info("request refused", metadata: ["run": "\(run ?? "-")", "code": "\(error.code)", "reason": "\(error.message)"])
        context.recentErrors.record(session: name, client: client, code: error.code, message: error.message)
        outbox.send(encoder.error(run: run, code: error.code, message: error.message))
    }

    var isClosed: Bool { closed }

    /// Sends a message as is (replies that are not tied to a run).
    nonisolated func notify(_ text: String) { outbox.send(text) }

    /// Validates and starts a run; problems come back as an `error` message for that run id.
    /// With `replace`, a run with the same id is stopped first (the Socket.IO clients re-run a console that way).
    func startRun(_ spec: RunSpec, replace: Bool = false) async {
        if replace, let previous = runs[spec.id] {
            previous.input.yield(.stop)
            await previous.task.value
        }
        do throws(ProtocolError) {
            let task = try prepare(spec)
            _ = task
        } catch {
            sendError(run: spec.id, error)
        }
    }

    private func prepare(_ spec: RunSpec) throws(ProtocolError) -> Task<Void, Never> {
        if closed {
            throw ProtocolError(code: "session-closed", message: closeReason ?? "this session was ended; open a new connection to run more programs")
        }
        guard !spec.id.isEmpty, spec.id.utf8.count <= 128 else {
            throw ProtocolError(code: "bad-request", message: "run.id must be a non-empty string of at most 128 bytes")
        }
        guard runs[spec.id] == nil else {
            throw ProtocolError(code: "duplicate-id", message: "run \(spec.id) is still going; use a new id or stop it first")
        }
        let settings = context.settings
        guard runs.count < settings.maxRunsPerSession else {
            context.metrics.busyRejected()
            throw ProtocolError(
                code: "busy", message: "this session already has \(runs.count) runs going (server.maxRunsPerSession); stop one or wait for it")
        }
        var rate = recentStarts
        if let refusal = rate.admit(now: .now, settings: settings) {
            context.metrics.busyRejected()
            throw refusal
        }
        let (runtime, entry) = try context.runtimeAndEntry(for: spec)
        let submission: Submission
        do {
            submission = try Submission(files: spec.files, entry: entry, limits: context.runner.settings.submissionLimits)
        } catch {
            throw ProtocolError(code: error.isTooMany ? "too-many-files" : "bad-request", message: error.description)
        }
        let limits = try context.limits(for: runtime, requested: spec.limits)
        if let refusal = context.admitRun() { throw ProtocolError(code: refusal.code, message: refusal.message) }
        recentStarts = rate
        touchedEngine = true

        var request = RunRequest(
            submission: submission, runtime: runtime, arguments: spec.arguments, environment: spec.environment, limits: limits,
            session: name, fresh: spec.fresh, processOwned: true)
        let backlog = InputBacklog()
        request.inputBacklog = backlog
        let (input, continuation) = AsyncStream<RunInput>.makeStream()
        if let stdin = spec.stdin {
            // Bounded by the message size; counted so that later `input` is refused until the program has read it.
            if !stdin.isEmpty {
                backlog.add(stdin.count)
                continuation.yield(.data(stdin))
            }
            continuation.yield(.end)
        }
        let id = spec.id
        let task = Task { await self.execute(id: id, request: request, input: input, continuation: continuation) }
        runs[id] = ActiveRun(input: continuation, task: task, backlog: backlog)
        return task
    }

    /// The connection's engine session (see `sessionBinding`); the first caller chooses it, later ones wait for that choice.
    func engineSession(runtime: Runtime?, limits: RunLimits?) async -> String {
        if let sessionBinding { return await sessionBinding.value }
        let standbys = context.standbys
        let own = name
        let logger = self.logger
        let binding = Task { () -> String in
            guard let runtime, let limits, let taken = await standbys.take(language: runtime.language, limits: limits) else { return own }
            logger.debug("first run takes a ready session", metadata: ["engineSession": "\(taken)"])
            return taken
        }
        sessionBinding = binding
        let bound = await binding.value
        boundEngineSession = bound
        return bound
    }

    func summary() async -> LiveSessionSummary {
        LiveSessionSummary(
            kind: "websocket", ageSeconds: seconds(ContinuousClock.now - opened), runs: Array(runs.keys), kernels: kernels.count,
            touchedEngine: touchedEngine, engineSession: boundEngineSession)
    }

    private func execute(id: String, request: RunRequest, input: AsyncStream<RunInput>, continuation: AsyncStream<RunInput>.Continuation) async {
        var request = request
        request.session = await engineSession(runtime: request.runtime, limits: request.limits)
        let outbox = self.outbox
        let encoder = self.encoder
        let batcher = OutputBatcher { stream, text in outbox.send(encoder.output(run: id, stream: stream, text: text)) }
        let runLogger = logger
        runLogger.info(
            "run started",
            metadata: [
                "run": "\(id)", "language": "\(request.runtime.language)", "files": "\(request.submission.files.count)",
                "entry": "\(request.submission.entry)", "engineSession": "\(request.session ?? name)",
            ])
        let result = await context.runner.run(request, input: input) { event in
            guard case .output(let stream, let bytes) = event else { return }
            batcher.append(stream, bytes)
            await outbox.waitForRoom()
        }
        continuation.finish()
        let outputBytes = batcher.finish()
        if result.capacityFull {
            // Every session network is held: the server is full, which is `busy`, not a failure of this run.
            context.metrics.busyRejected()
            context.recentErrors.record(session: name, client: client, code: "busy", message: result.message ?? "every session network is in use")
            outbox.send(encoder.error(run: id, code: "busy", message: result.message ?? "every session network is in use; try again shortly"))
        } else {
            for message in encoder.exit(run: id, result: result) { outbox.send(message) }
        }
        context.releaseRun()
        context.metrics.recordRun(
            language: request.runtime.language, status: result.status.rawValue, seconds: result.totalMilliseconds / 1000,
            firstOfConnection: !ranBefore)
        ranBefore = true
        var metadata: Logger.Metadata = [
            "run": "\(id)", "language": "\(request.runtime.language)", "status": "\(result.status.rawValue)",
            "ms": "\(Int(result.totalMilliseconds))", "outputBytes": "\(outputBytes)",
        ]
        if let code = result.exitCode { metadata["exitCode"] = "\(code)" }
        if let signal = result.signalName { metadata["signal"] = "\(signal)" }
        if let message = result.message { metadata["message"] = "\(message)" }
        if result.status == .internalError {
            runLogger.warning("run failed", metadata: metadata)
        } else {
            runLogger.info("run finished", metadata: metadata)
        }
        runs[id] = nil
    }

    func input(run id: String?, data: [UInt8], end: Bool) throws(ProtocolError) {
        let target: ActiveRun?
        if let id { target = runs[id] } else { target = runs.count == 1 ? runs.first?.value : nil }
        guard let target else {
            if let id { throw ProtocolError(code: "unknown-run", message: "no run \(id) is going; input is only taken while a program runs") }
            throw ProtocolError(
                code: "unknown-run", message: runs.isEmpty ? "no program is running to take the input" : "several runs are going; say which with id")
        }
        if !data.isEmpty {
            guard target.backlog.bytes == 0 || target.backlog.bytes + data.count <= Self.maxInputBacklogBytes else {
                throw ProtocolError(
                    code: "input-backlog",
                    message:
                        "the program has not read the \(target.backlog.bytes) bytes of input sent before; send more once it reads, or stop the run")
            }
            target.backlog.add(data.count)
            target.input.yield(.data(data))
        }
        if end { target.input.yield(.end) }
    }

    func stop(run id: String?) throws(ProtocolError) {
        if let id {
            guard let run = runs[id] else { throw ProtocolError(code: "unknown-run", message: "no run \(id) is going") }
            run.input.yield(.stop)
        } else {
            for run in runs.values { run.input.yield(.stop) }
        }
    }

    /// The run ids going now.
    var runIDs: [String] { Array(runs.keys) }

    /// Ends the session but keeps the connection: later runs are refused with `session-closed`.
    /// A second caller (a server shutdown while a disconnect is still cleaning up) waits for the first one's cleanup,
    /// so a drained server never exits with a session's containers half removed.
    /// `runsStopped` is called once the runs are stopped (their `exit`s sent) and before the engine's resources go:
    /// a shutdown closes the socket there, so the client reconnects elsewhere without waiting for the removal.
    func end(reason: String? = nil, runsStopped: (@Sendable () -> Void)? = nil) async {
        if let ending {
            await ending.value
            runsStopped?()
            return
        }
        closed = true
        closeReason = reason
        let cleanup = Task { await self.stopRunsAndRemoveResources(runsStopped: runsStopped) }
        ending = cleanup
        await cleanup.value
    }

    private func stopRunsAndRemoveResources(runsStopped: (@Sendable () -> Void)?) async {
        for run in runs.values { run.input.yield(.stop) }
        let tasks = runs.values.map(\.task)
        for task in tasks { await task.value }
        await shutDownAllKernels()
        runsStopped?()
        if touchedEngine {
            let started = ContinuousClock.now
            do {
                try await context.cleanups.end(await engineSession(runtime: nil, limits: nil))
                logger.info("session resources removed", metadata: ["ms": "\(Int(milliseconds(ContinuousClock.now - started)))"])
            } catch {
                context.metrics.cleanupError()
                context.recentErrors.record(session: name, client: client, code: "cleanup-failed", message: "\(error)")
                logger.error("could not remove the session's containers or network; the server's sweep will retry", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Server shutdown: tells the client, ends the session, closes the outgoing queue (which closes the socket).
    func shutDown(reason: String, closeCode: UInt16) async {
        if !closed { outbox.send(encoder.error(run: nil, code: "shutting-down", message: reason)) }
        let outbox = self.outbox
        await end(reason: reason) { outbox.finish(closeCode: closeCode) }
    }
}

extension SubmissionError {
    var isTooMany: Bool {
        if case .tooManyFiles = self { return true }
        return false
    }
}
