import AgentProtocol

/// A persistent interpreter in a session container, driven cell by cell through the agent (`coderunner-agent kernel`).
/// State survives between cells; output streams while a cell runs; interrupt stops the running cell without losing state.
public actor KernelSession {
    public nonisolated let runtime: Runtime
    public nonisolated let session: String
    /// The container hosting the kernel (its work dir is the session workspace the shell's :put/:get/:files use).
    public nonisolated let containerID: String
    let connection: any ExecConnection
    let onEvent: @Sendable (KernelEvent) async -> Void
    private var reader: Task<Void, Never>?
    private var nextCell: UInt32 = 1
    var pendingCell: (id: UInt32, continuation: CheckedContinuation<AgentCellResult?, Never>)?
    private var readyWaiter: CheckedContinuation<Bool, Never>?
    // The actor is re-entered while `execute` and `restart` are suspended sending their request, and a fast kernel
    // answers within that time (a `1+1` cell takes well under a millisecond): an answer that arrives before anyone
    // waits for it is kept here instead of being dropped, which would leave the caller waiting forever.
    /// The cell being sent, between `execute`'s start and its wait.
    var sendingCell: UInt32?
    /// How `sendingCell` ended when that came first: its result, or nil when the kernel went away.
    private var earlyResult: AgentCellResult??
    /// Set while `restart` sends its request; the first ready (true) or exit (false) that comes before it waits.
    private var restarting = false
    private var earlyReady: Bool?
    var alive = true
    private var shuttingDown = false
    /// The run's output limit; rich output counts against it too (0: no byte limit, the count cap still holds).
    let outputLimitBytes: UInt64
    /// What the running cell has produced so far (`display` is checked against these; see `KernelDisplay`).
    private var cellOutputBytes: UInt64 = 0
    private var cellDisplays = 0
    private var cellOverLimit = false
    /// `complete` requests waiting for their answer (`KernelCompletion.swift`), and the one being sent, whose answer
    /// may come before its caller waits (the actor is re-entered while it writes).
    var completionWaiters: [UInt32: CheckedContinuation<[String], Never>] = [:]
    var nextCompletion: UInt32 = 1
    var sendingCompletion: UInt32?
    var earlyCompletion: [String]?

    init(
        runtime: Runtime, session: String, containerID: String, connection: any ExecConnection, outputLimitBytes: UInt64 = 0,
        onEvent: @escaping @Sendable (KernelEvent) async -> Void
    ) {
        self.runtime = runtime
        self.session = session
        self.containerID = containerID
        self.connection = connection
        self.outputLimitBytes = outputLimitBytes
        self.onEvent = onEvent
    }

    /// Starts the runtime's kernel in `session` (reusing an idle session container or creating one), with `files` in its work dir.
    public static func start(
        runner: CodeRunner, session: String, runtime: Runtime, files: [SubmittedFile] = [], limits: RunLimits, processOwned: Bool,
        onEvent: @escaping @Sendable (KernelEvent) async -> Void
    ) async throws -> KernelSession {
        guard let argv = runtime.manifest.kernel, !argv.isEmpty else {
            throw KernelError.noKernel(language: runtime.language, available: [])
        }
        _ = limits
        var environment = [
            "PATH=\(CodeRunner.basePath)", "HOME=\(CodeRunner.workdir)", "TMPDIR=/tmp", "LANG=C.UTF-8", "CODERUNNER_LANGUAGE=\(runtime.language)",
        ]
        environment.append("PYTHONUNBUFFERED=1")
        let request = AgentKernelRequest(
            argv: argv, environment: environment, workdir: CodeRunner.workdir,
            files: files.map { AgentFile(path: $0.path, contents: $0.contents, executable: $0.executable) },
            outputLimitBytes: limits.outputLimitBytes, maxFileSizeBytes: runner.settings.maxFileSize,
            maxOpenFiles: UInt32(runner.settings.maxOpenFiles))
        return try await runner.withSessionContainer(session: session, runtime: runtime, limits: limits, processOwned: processOwned) {
            containerID, _ throws(EngineError) in
            let connection = try await runner.engine.exec(containerID, argv: [CodeRunner.agentPath, "kernel"])
            try await connection.write(AgentWire.encode(EngineMessage.startKernel(request)))
            let kernel = KernelSession(
                runtime: runtime, session: session, containerID: containerID, connection: connection,
                outputLimitBytes: limits.outputLimitBytes, onEvent: onEvent)
            switch await kernel.begin() {
            case .ready: return kernel
            case .busy:
                await connection.close()
                return nil
            case .failed(let reason):
                await connection.close()
                throw EngineError.api("the \(runtime.language) kernel did not start: \(reason)")
            }
        }
    }

    enum StartOutcome {
        case ready, busy
        case failed(String)
    }
    private var startWaiter: CheckedContinuation<StartOutcome, Never>?

    /// Starts reading the agent's messages and waits for the first answer: ready, busy, or a failure.
    func begin() async -> StartOutcome {
        let connection = self.connection
        reader = Task { [weak self] in
            var decoder = AgentMessageDecoder()
            do {
                for try await chunk in connection.stdout {
                    decoder.append(chunk)
                    while let message = try decoder.next() {
                        guard let self else { return }
                        await self.handle(message)
                    }
                }
            } catch {}
            await self?.connectionEnded()
        }
        return await withCheckedContinuation { startWaiter = $0 }
    }

    private func handle(_ message: AgentMessage) async {
        switch message {
        case .hello: break
        case .busy:
            startWaiter?.resume(returning: .busy)
            startWaiter = nil
        case .kernelReady:
            if let startWaiter {
                startWaiter.resume(returning: .ready)
                self.startWaiter = nil
            }
            readyFinished(true)
            alive = true
        case .failed(let reason):
            if let startWaiter {
                startWaiter.resume(returning: .failed(reason))
                self.startWaiter = nil
            } else {
                await onEvent(.exited("kernel failed: \(reason)"))
            }
        case .output(let stream, let bytes):
            cellOutputBytes += UInt64(bytes.count)
            await onEvent(.output(cell: pendingCell?.id ?? sendingCell ?? 0, stream: stream == .stdout ? .stdout : .stderr, bytes: bytes))
        case .display(let cell, let mime, let data):
            await display(cell: cell, mime: mime, data: data)
        case .cellFinished(let result):
            if let pending = pendingCell, pending.id == result.cell {
                pendingCell = nil
                pending.continuation.resume(returning: result)
            } else if sendingCell == result.cell {
                earlyResult = .some(result)
            }
        case .kernelExited(let exitCode, let signal, let memory):
            alive = false
            let reason =
                memory
                ? "the kernel ran out of memory (raise --memory)"
                : signal.map { "the kernel was killed by \(SignalNames.name(of: $0))" } ?? "the kernel exited with code \(exitCode ?? 0)"
            cellLost()
            readyFinished(false)
            if !shuttingDown { await onEvent(.exited(reason)) }
        case .completions(let request, let matches):
            completionsArrived(request: request, matches: matches)
        case .stageStarted, .stageFinished, .finished, .stdinConsumed, .runClosed:
            break
        }
    }

    /// Rich output comes from the kernel's own process, which runs the user's code: a cell can write `DISPLAY`
    /// records itself, of any MIME type and size. Only the running cell's displays with a well-formed MIME type pass,
    /// at most `KernelDisplay.maxPerCell` of them, and their bytes count against the output limit with the cell's
    /// printed output; past either the cell is interrupted and ends as `output-limit`.
    private func display(cell: UInt32, mime: String, data: [UInt8]) async {
        guard let running = pendingCell?.id ?? sendingCell, running == cell, !cellOverLimit else { return }
        cellDisplays += 1
        let total = cellOutputBytes + UInt64(data.count)
        if cellDisplays > KernelDisplay.maxPerCell || (outputLimitBytes > 0 && total > outputLimitBytes) {
            cellOverLimit = true
            let limit = outputLimitBytes > 0 ? Quantity.formatBytes(outputLimitBytes) : "no byte limit"
            await onEvent(
                .output(
                    cell: cell, stream: .stderr,
                    bytes: Array(
                        "coderunner: the cell's rich output passed the output limit (\(KernelDisplay.maxPerCell) displays, \(limit) with its text); the rest was dropped and the cell stopped\n"
                            .utf8)))
            await interrupt()
            return
        }
        cellOutputBytes = total
        guard KernelDisplay.isValidMIME(mime) else {
            await onEvent(.output(cell: cell, stream: .stderr, bytes: Array("coderunner: rich output with a malformed MIME type was dropped\n".utf8)))
            return
        }
        await onEvent(.display(cell: cell, mime: mime, data: data))
    }

    private func connectionEnded() async {
        let wasAlive = alive
        alive = false
        if let startWaiter {
            startWaiter.resume(returning: .failed("the agent closed the connection"))
            self.startWaiter = nil
        }
        cellLost()
        readyFinished(false)
        if wasAlive && !shuttingDown { await onEvent(.exited("the connection to the kernel was lost")) }
    }

    /// The running cell will not finish: its waiter (or, if it is still being sent, its sender) learns so.
    private func cellLost() {
        if let pending = pendingCell {
            pendingCell = nil
            pending.continuation.resume(returning: nil)
        } else if sendingCell != nil, earlyResult == nil {
            earlyResult = .some(nil)
        }
    }

    /// A kernel became ready (true) or went away (false): tells a waiting `restart`, or one still sending its request.
    private func readyFinished(_ ready: Bool) {
        if let readyWaiter {
            readyWaiter.resume(returning: ready)
            self.readyWaiter = nil
        } else if restarting, earlyReady == nil {
            earlyReady = ready
        }
    }

    /// Most input sent with a cell at once (`execute(input:)`); the agent holds no more for a cell.
    public static let maxCellInputBytes = 1 << 20

    /// What a cell's reads get.
    public enum CellInput: Sendable {
        /// EOF at once (notebooks, `serve`, benchmarks).
        case none
        /// These bytes, then EOF (the shell's piped mode: the rest of its stream).
        case given([UInt8])
        /// What `sendInput` sends while the cell runs, EOF at `closeInput` (the interactive shell).
        case live
    }

    /// Runs one cell. Output arrives through `onEvent` while it runs. A cell running past `timeout` is interrupted,
    /// and if it does not stop within 2 s the kernel is restarted (state is lost; the status says `timeout`).
    /// The result says how much of the input (at most `maxCellInputBytes` of it) the cell read.
    public func execute(_ code: String, timeout: Duration? = nil, input: CellInput = .none) async throws -> CellResult {
        if !alive { try await restart() }
        let cell = nextCell
        nextCell += 1
        let started = ContinuousClock.now
        sendingCell = cell
        earlyResult = nil
        cellOutputBytes = 0
        cellDisplays = 0
        cellOverLimit = false
        defer {
            sendingCell = nil
            earlyResult = nil
        }
        do {
            var message = AgentWire.encode(EngineMessage.execute(cell: cell, code: Array(code.utf8)))
            switch input {
            case .none:
                message += AgentWire.encode(EngineMessage.closeStdin)
            case .live:
                break
            case .given(let bytes):
                var rest = bytes.prefix(Self.maxCellInputBytes)[...]
                while !rest.isEmpty {
                    message += AgentWire.encode(EngineMessage.stdin(Array(rest.prefix(AgentWire.maxStdinChunkBytes))))
                    rest = rest.dropFirst(AgentWire.maxStdinChunkBytes)
                }
                message += AgentWire.encode(EngineMessage.closeStdin)
            }
            try await connection.write(message)
        } catch {
            alive = false
            throw KernelError.notRunning
        }
        var watchdog: Task<Void, Never>?
        if let timeout {
            watchdog = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled, let self else { return }
                await self.timeoutFired(cell: cell)
            }
        }
        let result: AgentCellResult?
        if let early = earlyResult {
            result = early
        } else {
            result = await withCheckedContinuation { continuation in pendingCell = (cell, continuation) }
        }
        watchdog?.cancel()
        let wall = Double((ContinuousClock.now - started).microseconds) / 1000
        if timedOutCells.remove(cell) != nil {
            return CellResult(cell: cell, status: .timeout, wallMilliseconds: wall)
        }
        guard let result else { return CellResult(cell: cell, status: .kernelDied, wallMilliseconds: wall) }
        let status: CellResult.Status =
            result.outputLimitExceeded || cellOverLimit ? .outputLimit : result.interrupted ? .interrupted : result.ok ? .ok : .error
        return CellResult(
            cell: cell, status: status, wallMilliseconds: Double(result.wallMicroseconds) / 1000,
            inputBytesRead: result.stdinBytesRead)
    }

    /// Input for the running cell, e.g. a line the user typed (the agent drops what comes while no cell runs).
    public func sendInput(_ bytes: [UInt8]) async {
        var rest = bytes[...]
        while !rest.isEmpty {
            try? await connection.write(AgentWire.encode(EngineMessage.stdin(Array(rest.prefix(AgentWire.maxStdinChunkBytes)))))
            rest = rest.dropFirst(AgentWire.maxStdinChunkBytes)
        }
    }

    /// EOF for the running cell's reads (Ctrl-D); the next cell's input starts afresh.
    public func closeInput() async {
        try? await connection.write(AgentWire.encode(EngineMessage.closeStdin))
    }

    private var timedOutCells: Set<UInt32> = []

    private func timeoutFired(cell: UInt32) async {
        guard pendingCell?.id == cell else { return }
        timedOutCells.insert(cell)
        await interrupt()
        try? await Task.sleep(for: .seconds(2))
        if pendingCell?.id == cell {
            // Still running after the interrupt: restart; the pending cell ends with `timeout`.
            cellLost()
            try? await restart()
        }
    }

    /// Interrupts the running cell (SIGINT inside the container); the kernel and its state survive.
    public func interrupt() async {
        try? await connection.write(AgentWire.encode(EngineMessage.interrupt))
    }

    /// Restarts the kernel: state is lost, files in the work dir stay.
    public func restart() async throws {
        cellLost()
        restarting = true
        earlyReady = nil
        defer {
            restarting = false
            earlyReady = nil
        }
        do {
            try await connection.write(AgentWire.encode(EngineMessage.restartKernel))
        } catch {
            throw KernelError.notRunning
        }
        let ready: Bool
        if let early = earlyReady { ready = early } else { ready = await withCheckedContinuation { readyWaiter = $0 } }
        guard ready else { throw KernelError.notRunning }
        alive = true
    }

    /// Stops the kernel and closes the connection. The session's container stays (TTL) unless the session is ended.
    public func shutdown() async {
        shuttingDown = true
        try? await connection.write(AgentWire.encode(EngineMessage.stop))
        try? await Task.sleep(for: .milliseconds(50))
        await connection.close()
        reader?.cancel()
        reader = nil
        alive = false
    }

    public var isAlive: Bool { alive }
}
