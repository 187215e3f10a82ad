import CodeRunnerCore

/// Removes the engine resources of closed connections' sessions: a few at a time, and again later when it fails.
///
/// A class leaving at the bell closes hundreds of sessions within a second. Sent to dockerd all at once, their
/// removals queue there until its calls time out, and a session whose removal failed would keep its network leased
/// for as long as the server runs. So at most `width` sessions are ended at once (the rest wait here, in order), and
/// a session that could not be ended is kept and tried again by the server's periodic sweep and at shutdown.
actor SessionCleanups {
    private let runner: CodeRunner
    private let slots: AsyncSlots
    /// Sessions whose clean-up failed, to try again.
    private(set) var pending: Set<String> = []

    init(runner: CodeRunner, width: Int = 8) {
        self.runner = runner
        slots = AsyncSlots(width: width)
    }

    /// Ends `session` (its containers, then its lease); on failure it is kept for `retryPending` and the error thrown.
    func end(_ session: String) async throws(EngineError) {
        await slots.acquire()
        defer { slots.release() }
        do {
            try await runner.endSession(session)
            pending.remove(session)
        } catch {
            pending.insert(session)
            throw error
        }
    }

    /// Tries the failed clean-ups again; returns how many are still pending.
    @discardableResult
    func retryPending() async -> Int {
        for session in pending.sorted() { try? await end(session) }
        return pending.count
    }
}

extension CodeRunnerHTTPServer {
    /// Collects what a killed server (or CLI) left: containers of dead owners, orphaned networks.
    func sweep(initial: Bool) async {
        let collector = GarbageCollector(
            engine: context.runner.engine, settings: context.runner.settings, claimImages: context.catalog.runtimes.map(\.image))
        do {
            let outcomes = try await collector.collect(all: false, dryRun: false)
            let removed = outcomes.filter { $0.failed == nil }
            let failed = outcomes.filter { $0.failed != nil }
            if !failed.isEmpty {
                context.metrics.cleanupError()
                context.recentErrors.record(
                    session: nil, code: "sweep-failed", message: "\(failed.count) not removed, first \(failed[0].name): \(failed[0].failed ?? "")")
                context.logger.warning(
                    "sweep could not remove some networks; will retry",
                    metadata: [
                        "failed": "\(failed.count)", "first": "\(failed[0].name): \(failed[0].failed ?? "")",
                    ])
            }
            if !removed.isEmpty || initial {
                context.logger.info(
                    initial ? "start-up sweep" : "sweep",
                    metadata: [
                        "removed": "\(removed.count)",
                        "items": "\(removed.prefix(10).map { "\($0.kind) \($0.name) (\($0.reason))" }.joined(separator: "; "))",
                    ])
            }
        } catch {
            context.metrics.cleanupError()
            context.recentErrors.record(session: nil, code: "sweep-failed", message: "\(error)")
            context.logger.warning("sweep failed; will retry", metadata: ["error": "\(error)"])
        }
    }
}
