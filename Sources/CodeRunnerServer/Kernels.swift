import CodeRunnerCore
import FoundationEssentials

/// The REPL side of a session: kernels (persistent interpreters) in the session's own containers. The native protocol
/// has one per connection (`KernelRef.native`); Socket.IO clients have one per notebook, named by a `kernelId` that
/// only this connection can use.
extension ClientSession {
    /// Kernels one connection may hold at once: each is a process in a session container, under its limits.
    static let maxKernels = 8

    func send(_ notice: KernelNotice) {
        for message in encoder.kernel(notice) { outbox.send(message) }
    }

    /// Reports a failed kernel request with the ids it concerns (`kernel:error` for Socket.IO, `error` natively).
    func sendKernelFailure(
        _ kernel: KernelRef?, kernelID: String? = nil, cellRef: String? = nil, notebook: String? = nil, _ error: ProtocolError
    ) {
        context.metrics.protocolError()
        let kernelID = kernelID ?? kernel?.id
        context.recentErrors.record(session: name, client: client, code: error.code, message: "kernel: " + error.message)
        logger.info("kernel request refused", metadata: ["kernel": "\(kernelID ?? "-")", "code": "\(error.code)", "reason": "\(error.message)"])
        send(.failed(kernelID: kernelID, notebook: notebook ?? kernel?.notebook, cellRef: cellRef, error: error))
    }

    /// Whether `id` names one of this connection's kernels (Socket.IO refuses every other id as not its own).
    func ownsKernel(_ id: String) -> Bool { kernels[id] != nil }

    /// The kernel serving `notebook`, if this connection has one.
    func kernel(forNotebook notebook: String) -> KernelRef? {
        kernels.values.first { $0.ref.notebook == notebook }?.ref
    }

    /// Starts a kernel in the background; the reply is `started` or a failure. Natively it replaces the connection's
    /// kernel; with a `notebook`, a second start for the same notebook answers with the kernel it already has.
    func kernelStart(language: String, files: [SubmittedFile], notebook: String? = nil) throws(ProtocolError) {
        if closed { throw ProtocolError(code: "session-closed", message: closeReason ?? "this session was ended; open a new connection") }
        let ref: KernelRef
        if let notebook {
            if let existing = kernels.values.first(where: { $0.ref.notebook == notebook }) {
                if let kernel = existing.kernel, !existing.starting { send(.started(existing.ref, language: kernel.runtime.language)) }
                return  // still starting: its `started` is on the way
            }
            guard kernels.count < Self.maxKernels else {
                throw ProtocolError(
                    code: "too-many-kernels", message: "this connection has \(Self.maxKernels) kernels already; shut one down (kernel:shutdown) first"
                )
            }
            ref = KernelRef(id: "k-" + SessionName.randomHex(16), notebook: notebook)
        } else {
            if let existing = kernels[KernelRef.native.id], existing.starting || existing.busy {
                throw ProtocolError(code: "kernel-busy", message: "the kernel is starting or running a cell; wait or interrupt it")
            }
            ref = .native
        }
        kernelGenerations += 1
        let generation = kernelGenerations
        let replaced = kernels[ref.id]
        kernels[ref.id] = KernelSlot(ref: ref, generation: generation)
        send(.starting(ref))
        kernels[ref.id]?.task = Task {
            if let replaced {
                replaced.output.finishAll()
                await replaced.kernel?.shutdown()
            }
            do throws(ProtocolError) {
                try await self.startKernelNow(ref: ref, generation: generation, language: language, files: files)
            } catch {
                if self.kernels[ref.id]?.generation == generation { self.kernels[ref.id] = nil }
                self.sendKernelFailure(ref, error)
            }
        }
    }

    private func startKernelNow(ref: KernelRef, generation: Int, language: String, files: [SubmittedFile]) async throws(ProtocolError) {
        let runtime = try context.runtime(language: language, entry: "")
        guard runtime.manifest.kernel?.isEmpty == false else {
            let available = context.catalog.runtimes.filter { $0.manifest.kernel?.isEmpty == false }.map(\.language)
            throw ProtocolError(code: "no-kernel", message: KernelError.noKernel(language: runtime.language, available: available).description)
        }
        for (index, file) in files.enumerated() {
            do { try Submission.validate(path: file.path) } catch {
                throw ProtocolError(code: "bad-request", message: "files[\(index)]: \(error.description)")
            }
        }
        let limits = try context.limits(for: runtime, requested: nil)
        if let refusal = context.admitRun() { throw ProtocolError(code: refusal.code, message: refusal.message) }
        guard let router = kernels[ref.id]?.output else {
            context.releaseRun()
            return  // shut down before it started
        }
        touchedEngine = true
        let outbox = self.outbox
        let encoder = self.encoder
        let started = ContinuousClock.now
        let engineSession = await engineSession(runtime: nil, limits: nil)
        do {
            let session = try await KernelSession.start(
                runner: context.runner, session: engineSession, runtime: runtime, files: files, limits: limits, processOwned: true
            ) { event in
                @Sendable func send(_ notice: KernelNotice) { for message in encoder.kernel(notice) { outbox.send(message) } }
                switch event {
                case .output(let cell, let stream, let bytes):
                    router.batcher(cell: cell) {
                        let cellRef = router.runningCellRef.withLock { $0 }
                        return OutputBatcher { stream, text in send(.output(ref, cell: cell, cellRef: cellRef, stream: stream, text: text)) }
                    }.append(stream, bytes)
                    await outbox.waitForRoom()
                case .display(let cell, let mime, let data):
                    router.finish(cell: cell)
                    let text =
                        mime.hasPrefix("text/") || mime.hasSuffix("json") ? String(decoding: data, as: UTF8.self) : Data(data).base64EncodedString()
                    send(.display(ref, cell: cell, cellRef: router.runningCellRef.withLock { $0 }, mime: mime, data: text))
                case .exited(let reason):
                    router.finishAll()
                    send(.exited(ref, reason: reason))
                }
            }
            context.releaseRun()
            guard !closed, kernels[ref.id]?.generation == generation else {
                await session.shutdown()  // the connection ended, or the kernel was shut down, while it started
                return
            }
            kernels[ref.id]?.kernel = session
            kernels[ref.id]?.starting = false
            logger.info("kernel started", metadata: ["language": "\(runtime.language)", "ms": "\(Int(milliseconds(ContinuousClock.now - started)))"])
            send(.started(ref, language: runtime.language))
        } catch {
            context.releaseRun()
            logger.warning("kernel did not start", metadata: ["language": "\(runtime.language)", "error": "\(error)"])
            throw ProtocolError(code: "kernel-failed", message: "\(error)")
        }
    }

    /// The running kernel `id` names, or why there is none.
    private func runningKernel(_ id: String) throws(ProtocolError) -> (slot: KernelSlot, kernel: KernelSession) {
        guard let slot = kernels[id] else { throw ProtocolError(code: "no-kernel", message: "no kernel is running; send kernel.start first") }
        guard !slot.starting, let kernel = slot.kernel else {
            throw ProtocolError(code: "kernel-busy", message: "the kernel is still starting; send the cell after kernel.started")
        }
        return (slot, kernel)
    }

    /// Runs a cell in the background (so an interrupt can arrive meanwhile); the reply is `result`.
    func kernelExecute(kernelID: String = KernelRef.native.id, code: String, ref cellRef: String?) throws(ProtocolError) {
        let (slot, kernel) = try runningKernel(kernelID)
        guard !slot.busy else { throw ProtocolError(code: "kernel-busy", message: "a cell is still running; interrupt it or wait for its result") }
        let count = slot.executionCount + 1
        kernels[kernelID]?.busy = true
        kernels[kernelID]?.executionCount = count
        slot.output.runningCellRef.withLock { $0 = cellRef }
        send(.executing(slot.ref, cellRef: cellRef, count: count))
        kernels[kernelID]?.task = Task {
            do throws(ProtocolError) {
                try await self.executeNow(slot: slot, kernel: kernel, code: code, cellRef: cellRef)
            } catch {
                if self.kernels[kernelID]?.generation == slot.generation { self.sendKernelFailure(slot.ref, cellRef: cellRef, error) }
            }
            if self.kernels[kernelID]?.generation == slot.generation { self.kernels[kernelID]?.busy = false }
        }
    }

    private func executeNow(slot: KernelSlot, kernel: KernelSession, code: String, cellRef: String?) async throws(ProtocolError) {
        let timeout = (try? context.limits(for: kernel.runtime, requested: nil).timeout) ?? .seconds(10)
        do {
            let result = try await kernel.execute(code, timeout: timeout)
            slot.output.finish(cell: result.cell)
            logger.debug(
                "cell ran", metadata: ["cell": "\(result.cell)", "status": "\(result.status.rawValue)", "ms": "\(Int(result.wallMilliseconds))"])
            send(.result(slot.ref, cell: result.cell, cellRef: cellRef, status: result.status, milliseconds: result.wallMilliseconds))
        } catch {
            slot.output.finishAll()
            throw ProtocolError(code: "kernel-failed", message: "\(error)")
        }
    }

    func kernelInterrupt(kernelID: String = KernelRef.native.id) async throws(ProtocolError) {
        guard let slot = kernels[kernelID], let kernel = slot.kernel else { throw ProtocolError(code: "no-kernel", message: "no kernel is running") }
        await kernel.interrupt()
        send(.interrupted(slot.ref))
    }

    func kernelRestart(kernelID: String = KernelRef.native.id) async throws(ProtocolError) {
        let (slot, kernel) = try runningKernel(kernelID)
        guard !slot.busy else { throw ProtocolError(code: "kernel-busy", message: "a cell is running; send kernel.interrupt first") }
        slot.output.finishAll()
        send(.starting(slot.ref))
        do { try await kernel.restart() } catch {
            throw ProtocolError(code: "kernel-failed", message: "\(error)")
        }
        if kernels[kernelID]?.generation == slot.generation { kernels[kernelID]?.executionCount = 0 }
        send(.restarted(slot.ref))
    }

    /// Tab completion for a client's REPL: the names the kernel's live state offers for the end of `code` (none while a
    /// cell runs or without a kernel). Answered in the background, so other messages are not held up meanwhile.
    func kernelComplete(kernelID: String = KernelRef.native.id, code: String, requestID: String?) {
        guard let slot = kernels[kernelID], let kernel = slot.kernel, !slot.busy, !slot.starting else {
            send(.completions(kernels[kernelID]?.ref ?? .native, requestID: requestID, matches: []))
            return
        }
        Task {
            let matches = await kernel.complete(String(code.suffix(4096)))
            self.send(.completions(slot.ref, requestID: requestID, matches: matches))
        }
    }

    /// Stops a kernel and forgets it; the reply comes even when there was none (shutting down is idempotent).
    func kernelShutdown(kernelID: String = KernelRef.native.id) async {
        let ref = kernels[kernelID]?.ref ?? (kernelID == KernelRef.native.id ? .native : KernelRef(id: kernelID))
        await shutDownKernel(kernelID)
        send(.shutdown(ref))
    }

    private func shutDownKernel(_ id: String) async {
        guard let slot = kernels.removeValue(forKey: id) else { return }
        slot.output.finishAll()
        await slot.kernel?.shutdown()
        await slot.task?.value  // a start in progress sees its slot gone and stops the kernel it made
    }

    /// Every kernel of the connection, when it ends.
    func shutDownAllKernels() async {
        for id in Array(kernels.keys) { await shutDownKernel(id) }
    }
}
