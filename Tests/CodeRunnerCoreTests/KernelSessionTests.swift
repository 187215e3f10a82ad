import AgentProtocol
import Testing

@testable import CodeRunnerCore

/// An agent that answers each request before the engine's `write` has returned, as a fast kernel does (a `1+1` cell
/// takes well under a millisecond) while the engine is still suspended sending: the answer must reach the caller.
/// Its answers to a cell can be anything a kernel (or user code forging kernel events) may send.
final class InstantlyAnsweringAgent: ExecConnection, @unchecked Sendable {
    let stdout: AsyncThrowingStream<[UInt8], any Error>
    private let output: AsyncThrowingStream<[UInt8], any Error>.Continuation
    /// What the agent sends for a cell, in order.
    let cellAnswer: @Sendable (UInt32) -> [AgentMessage]
    /// How many `interrupt` messages the engine sent.
    let interrupts = Locked(0)

    static func finished(_ cell: UInt32) -> AgentMessage {
        .cellFinished(AgentCellResult(cell: cell, ok: true, interrupted: false, outputLimitExceeded: false, wallMicroseconds: 100))
    }

    init(cellAnswer: @escaping @Sendable (UInt32) -> [AgentMessage] = { [InstantlyAnsweringAgent.finished($0)] }) {
        (stdout, output) = AsyncThrowingStream.makeStream()
        self.cellAnswer = cellAnswer
        output.yield(AgentWire.encode(AgentMessage.kernelReady))
    }

    func diagnostics() async -> String { "" }

    func write(_ bytes: [UInt8]) async throws(EngineError) {
        var decoder = EngineMessageDecoder()
        decoder.append(bytes)
        while let message = try? decoder.next() {
            switch message {
            case .execute(let cell, _): for message in cellAnswer(cell) { output.yield(AgentWire.encode(message)) }
            case .restartKernel: output.yield(AgentWire.encode(AgentMessage.kernelReady))
            case .interrupt: interrupts.withLock { $0 += 1 }
            default: break
            }
        }
        // Stay "in the middle of sending" long enough for the session's reader to handle the answer.
        try? await Task.sleep(for: .milliseconds(30))
    }

    func closeWrite() async {}
    func close() async { output.finish() }
}

@Suite struct KernelSessionTests {
    static func session(_ agent: InstantlyAnsweringAgent) async throws -> KernelSession {
        let manifest = ConfigurationTests.manifest
        let kernel = KernelSession(
            runtime: Runtime(manifest: manifest, directory: "/x", image: manifest.image), session: "s",
            containerID: "c", connection: agent
        ) { _ in }
        guard case .ready = await kernel.begin() else { throw TestFailure("the kernel did not become ready") }
        return kernel
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    /// Waits at most `seconds` for `body`: a lost answer leaves it suspended on a continuation that no cancellation can
    /// end, so it runs in a task of its own that a failing test leaves behind.
    static func withinSeconds<T: Sendable>(_ seconds: Int, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let finished = Locked(false)
        let task = Task {
            defer { finished.withLock { $0 = true } }
            return try await body()
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !finished.withLock({ $0 }) {
            guard ContinuousClock.now < deadline else { throw TestFailure("no answer within \(seconds) s: the kernel's reply was lost") }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try await task.value
    }

    @Test func aCellAnsweredWhileStillBeingSentFinishes() async throws {
        let kernel = try await Self.session(InstantlyAnsweringAgent())
        for _ in 0..<3 {
            let result = try await Self.withinSeconds(5) { try await kernel.execute("1+1") }
            #expect(result.status == .ok)
        }
    }

    @Test func aKernelThatDiesWhileTheCellIsBeingSentEndsTheCell() async throws {
        let kernel = try await Self.session(InstantlyAnsweringAgent { _ in [.kernelExited(exitCode: nil, signal: 9, memoryLimitExceeded: true)] })
        let result = try await Self.withinSeconds(5) { try await kernel.execute("x = ' ' * 10**10") }
        #expect(result.status == .kernelDied)
    }

    @Test func aRestartAnsweredWhileStillBeingSentCompletes() async throws {
        let kernel = try await Self.session(InstantlyAnsweringAgent())
        try await Self.withinSeconds(5) { try await kernel.restart() }
        #expect(await kernel.isAlive)
    }
}

/// Completion names come from the kernel process, which runs user code: nothing a terminal would act on gets through.
@Test func forgedCompletionNamesAreFiltered() {
    let forged = ["ok_name", "with\u{1B}[2Jescape", "bell\u{07}", "c1\u{9B}x", "", "ok_name", String(repeating: "n", count: 300), "os.path"]
    #expect(KernelSession.safeCompletions(forged) == ["ok_name", "os.path"])
    #expect(KernelSession.safeCompletions((0..<900).map { "name\($0)" }).count == 500)
}
