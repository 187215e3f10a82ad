import CodeRunnerCore
import FoundationEssentials
import Synchronization

/// Batches each cell's output like a run's (`OutputBatcher`), one batcher per cell.
final class KernelOutputRouter: Sendable {
    let batchers = Mutex<[UInt32: OutputBatcher]>([:])

    func batcher(cell: UInt32, make: () -> OutputBatcher) -> OutputBatcher {
        batchers.withLock { table in
            if let existing = table[cell] { return existing }
            let created = make()
            table[cell] = created
            return created
        }
    }

    func finish(cell: UInt32) {
        let batcher = batchers.withLock { $0.removeValue(forKey: cell) }
        batcher?.finish()
    }

    func finishAll() {
        let all = batchers.withLock { table -> [OutputBatcher] in
            defer { table = [:] }
            return Array(table.values)
        }
        for batcher in all { batcher.finish() }
    }
}

/// The REPL side of a session: one kernel (persistent interpreter) per connection, in the session's own container.
extension ClientSession {
    /// Starts (or replaces) the connection's kernel in the background; the reply is `kernel.started` or an `error`.
    func kernelStart(language: String, files: [SubmittedFile]) throws(ProtocolError) {
        if closed { throw ProtocolError(code: "session-closed", message: closeReason ?? "this session was ended; open a new connection") }
        guard !kernelStarting, !kernelBusy else {
            throw ProtocolError(code: "kernel-busy", message: "the kernel is starting or running a cell; wait or interrupt it")
        }
        kernelStarting = true
        kernelTask = Task {
            do throws(ProtocolError) { try await self.startKernelNow(language: language, files: files) } catch { self.sendError(run: nil, error) }
            self.kernelStarting = false
        }
    }

    private func startKernelNow(language: String, files: [SubmittedFile]) async throws(ProtocolError) {
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
        if let old = kernel {
            kernel = nil
            kernelOutput.finishAll()
            await old.shutdown()
        }
        touchedEngine = true
        let outbox = self.outbox
        let encoder = self.encoder
        let router = self.kernelOutput
        let started = ContinuousClock.now
        let engineSession = await engineSession(runtime: nil, limits: nil)
        do {
            let session = try await KernelSession.start(
                runner: context.runner, session: engineSession, runtime: runtime, files: files, limits: limits, processOwned: true
            ) { event in
                switch event {
                case .output(let cell, let stream, let bytes):
                    router.batcher(cell: cell) {
                        OutputBatcher { stream, text in
                            if let message = encoder.kernel(.output(cell: cell, stream: stream, text: text)) { outbox.send(message) }
                        }
                    }.append(stream, bytes)
                    await outbox.waitForRoom()
                case .display(let cell, let mime, let data):
                    router.finish(cell: cell)
                    let text =
                        mime.hasPrefix("text/") || mime.hasSuffix("json") ? String(decoding: data, as: UTF8.self) : Data(data).base64EncodedString()
                    if let message = encoder.kernel(.display(cell: cell, mime: mime, data: text)) { outbox.send(message) }
                case .exited(let reason):
                    router.finishAll()
                    if let message = encoder.kernel(.exited(reason)) { outbox.send(message) }
                }
            }
            context.releaseRun()
            if closed {
                await session.shutdown()
                return
            }
            kernel = session
            logger.info("kernel started", metadata: ["language": "\(runtime.language)", "ms": "\(Int(milliseconds(ContinuousClock.now - started)))"])
            if let message = encoder.kernel(.started(language: runtime.language)) { outbox.send(message) }
        } catch {
            context.releaseRun()
            logger.warning("kernel did not start", metadata: ["language": "\(runtime.language)", "error": "\(error)"])
            throw ProtocolError(code: "kernel-failed", message: "\(error)")
        }
    }

    /// Runs a cell in the background (so `kernel.interrupt` can arrive meanwhile); the reply is `kernel.result`.
    func kernelExecute(code: String, ref: String?) throws(ProtocolError) {
        guard !kernelStarting else {
            throw ProtocolError(code: "kernel-busy", message: "the kernel is still starting; send the cell after kernel.started")
        }
        guard let kernel else { throw ProtocolError(code: "no-kernel", message: "no kernel is running; send kernel.start first") }
        guard !kernelBusy else { throw ProtocolError(code: "kernel-busy", message: "a cell is still running; interrupt it or wait for its result") }
        kernelBusy = true
        kernelTask = Task {
            do throws(ProtocolError) { try await self.executeNow(kernel: kernel, code: code, ref: ref) } catch { self.sendError(run: nil, error) }
            self.kernelBusy = false
        }
    }

    private func executeNow(kernel: KernelSession, code: String, ref: String?) async throws(ProtocolError) {
        let timeout = (try? context.limits(for: kernel.runtime, requested: nil).timeout) ?? .seconds(10)
        do {
            let result = try await kernel.execute(code, timeout: timeout)
            kernelOutput.finish(cell: result.cell)
            logger.debug(
                "cell ran", metadata: ["cell": "\(result.cell)", "status": "\(result.status.rawValue)", "ms": "\(Int(result.wallMilliseconds))"])
            if let message = encoder.kernel(
                .result(cell: result.cell, status: result.status.rawValue, milliseconds: result.wallMilliseconds, ref: ref))
            {
                outbox.send(message)
            }
        } catch {
            kernelOutput.finishAll()
            throw ProtocolError(code: "kernel-failed", message: "\(error)")
        }
    }

    func kernelInterrupt() async throws(ProtocolError) {
        guard let kernel else { throw ProtocolError(code: "no-kernel", message: "no kernel is running") }
        await kernel.interrupt()
        if let message = encoder.kernel(.interrupted) { outbox.send(message) }
    }

    func kernelRestart() async throws(ProtocolError) {
        guard let kernel else { throw ProtocolError(code: "no-kernel", message: "no kernel is running; send kernel.start first") }
        guard !kernelBusy else { throw ProtocolError(code: "kernel-busy", message: "a cell is running; send kernel.interrupt first") }
        kernelOutput.finishAll()
        do { try await kernel.restart() } catch {
            throw ProtocolError(code: "kernel-failed", message: "\(error)")
        }
        if let message = encoder.kernel(.restarted) { outbox.send(message) }
    }

    func kernelShutdown() async {
        if let kernel {
            self.kernel = nil
            kernelOutput.finishAll()
            await kernel.shutdown()
        }
        if let message = encoder.kernel(.shutdown) { outbox.send(message) }
    }
}
