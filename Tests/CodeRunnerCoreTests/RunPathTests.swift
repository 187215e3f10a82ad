import AgentProtocol
import CodeRunnerTesting
import Testing

@testable import CodeRunnerCore

/// `CodeRunner.run`'s set-up and clean-up paths, on `InMemoryEngine` with its fake agent (no Docker): one-shot runs
/// with and without a network, set-up failures, an agent that dies, limits the agent reports, named sessions, and
/// one-shot standbys. After every run, nothing of it may be left: no container, no lease.
struct RunPathTests {
    static let runtime = SessionStandbyTests.runtime
    static let compiled: Runtime = {
        var manifest = ConfigurationTests.manifest
        manifest.language = "fakec"
        manifest.compile = "cc \"$ENTRY\""
        return Runtime(manifest: manifest, directory: "/nonexistent", image: "coderunner/fakec:latest")
    }()

    static func runner(_ engine: InMemoryEngine, network: Bool = false, standby: Int = 0, readyNetworks: Int = 0) throws -> CodeRunner {
        var configuration = Configuration()
        try configuration.set("network.pools", "10.64.0.0/12", source: .environment)
        try configuration.set("network.ready", String(readyNetworks), source: .environment)
        try configuration.set("run.network", network ? "session" : "none", source: .environment)
        try configuration.set("run.standby", String(standby), source: .environment)
        return try CodeRunner(engine: engine, settings: try EngineSettings(configuration))
    }

    static func request(
        _ script: String, runtime: Runtime = runtime, session: String? = nil, fresh: Bool = false,
        timeout: Duration = .seconds(10), outputLimit: UInt64 = 1 << 20, arguments: [String] = [],
        file: String = "main.py"
    ) throws -> RunRequest {
        let submission = try Submission(
            files: [SubmittedFile(path: file, contents: Array(script.utf8))], entry: file,
            limits: SubmissionLimits(maxFileBytes: 1 << 20, maxFileCount: 10, maxTotalBytes: 1 << 20))
        var limits = SessionStandbyTests.limits
        limits.timeout = timeout
        limits.outputLimitBytes = outputLimit
        var request = RunRequest(
            submission: submission, runtime: runtime, arguments: arguments, environment: [], limits: limits,
            session: session, fresh: fresh)
        request.useStandby = true
        return request
    }

    /// What a run printed, by stream.
    final class Printed: Sendable {
        private let text = Locked<[ProgramStream: String]>([:])
        func add(_ event: RunEvent) {
            if case .output(let stream, let bytes) = event { text.withLock { $0[stream, default: ""] += String(decoding: bytes, as: UTF8.self) } }
        }
        var stdout: String { text.withLock { $0[.stdout] ?? "" } }
        var stderr: String { text.withLock { $0[.stderr] ?? "" } }
    }

    static func run(_ runner: CodeRunner, _ request: RunRequest, input: AsyncStream<RunInput>? = nil) async -> (RunResult, Printed) {
        let printed = Printed()
        let result = await runner.run(request, input: input) { printed.add($0) }
        return (result, printed)
    }

    @Test(arguments: [false, true])
    func aOneShotRunReportsItsOutputAndExitCodeAndLeavesNothing(network: Bool) async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine, network: network)
        let (result, printed) = await Self.run(runner, try Self.request("print hello\neprint warning\nargs\nexit 3", arguments: ["a b", "c"]))
        #expect(result.status == .runtimeError && result.exitCode == 3, "\(result)")
        #expect(printed.stdout == "hello\na b\nc\n" && printed.stderr == "warning\n")
        await expectNothingLeft(engine)
        let networks = try await engine.networks(labeled: [ResourceLabel.managed])
        // With a network, it went back to the pool (ready for the next session), not away.
        #expect(networks.count == (network ? 1 : 0))
        #expect(try await runner.networks.occupancy().leased == 0)
    }

    @Test func aCompiledLanguageStopsAtACompileError() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine)
        let (failed, printed) = await Self.run(runner, try Self.request("compile-error\nprint never", runtime: Self.compiled, file: "main.c"))
        #expect(failed.status == .compileError && failed.stages.map(\.name) == ["compile"], "\(failed)")
        #expect(printed.stderr == "fake: compile error\n" && printed.stdout.isEmpty)
        let (ok, _) = await Self.run(runner, try Self.request("print built", runtime: Self.compiled, file: "main.c"))
        #expect(ok.status == .ok && ok.stages.map(\.name) == ["compile", "run"], "\(ok)")
        await expectNothingLeft(engine)
    }

    /// Every engine call of the set-up can fail; each failure is an internal error that names it, and leaves nothing.
    @Test(arguments: ["createNetwork", "createContainer", "attach", "startContainer"])
    func aSetUpFailureIsAnInternalErrorAndLeavesNothing(call: String) async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine, network: true)
        if call == "createContainer" {
            await engine.failNextProgramContainer(with: .api("\(call) refused by the test"))
        } else {
            await engine.failNext(call, with: .api("\(call) refused by the test"))
        }
        let (result, _) = await Self.run(runner, try Self.request("print hello"))
        #expect(result.status == .internalError && result.message?.contains("refused by the test") == true, "\(result)")
        await expectNothingLeft(engine)
        #expect(try await runner.networks.occupancy().leased == 0)
        // And the next run works.
        let (next, printed) = await Self.run(runner, try Self.request("print again"))
        #expect(next.status == .ok && printed.stdout == "again\n", "\(next)")
    }

    @Test func aContainerThatDiesUnderItsRunIsAnInternalErrorAndGoes() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine, network: true)
        let (result, printed) = await Self.run(runner, try Self.request("print before\ncrash\nprint after"))
        #expect(result.status == .internalError, "\(result)")
        #expect(printed.stdout == "before\n")
        await expectNothingLeft(engine)
        #expect(try await runner.networks.occupancy().leased == 0)
    }

    @Test func inputReachesTheProgramAndItsEndEndsTheProgram() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine)
        let (input, feed) = AsyncStream<RunInput>.makeStream()
        feed.yield(.data(Array("one\n".utf8)))
        feed.yield(.data(Array("two\n".utf8)))
        feed.yield(.end)
        let (result, printed) = await Self.run(runner, try Self.request("echo-input\nprint done"), input: input)
        feed.finish()
        #expect(result.status == .ok, "\(result)")
        #expect(printed.stdout == "one\ntwo\ndone\n")
    }

    @Test func theAgentsLimitsAndAStopAreReported() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine)
        let (timedOut, _) = await Self.run(runner, try Self.request("hang", timeout: .milliseconds(100)))
        #expect(timedOut.status == .timeout, "\(timedOut)")
        let (cut, printed) = await Self.run(runner, try Self.request("print 0123456789\nprint more", outputLimit: 5))
        #expect(cut.status == .outputLimit && cut.truncated && printed.stdout == "01234", "\(cut) \(printed.stdout)")
        let (input, feed) = AsyncStream<RunInput>.makeStream()
        let stopper = Task {
            try await Task.sleep(for: .milliseconds(50))
            feed.yield(.stop)
        }
        let (stopped, _) = await Self.run(runner, try Self.request("hang"), input: input)
        feed.finish()
        try await stopper.value
        #expect(stopped.status == .stopped, "\(stopped)")
        await expectNothingLeft(engine)
    }

    @Test func aNamedSessionKeepsItsContainerAndFilesAndFreshEmptiesThem() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine)
        let (first, _) = await Self.run(runner, try Self.request("print one", session: "notes", file: "a.py"))
        #expect(first.status == .ok && first.session == "notes", "\(first)")
        let (second, listed) = await Self.run(runner, try Self.request("files", session: "notes", file: "b.py"))
        #expect(second.status == .ok && listed.stdout == "a.py\nb.py\n", "\(second) \(listed.stdout)")
        let (fresh, relisted) = await Self.run(runner, try Self.request("files", session: "notes", fresh: true, file: "c.py"))
        #expect(fresh.status == .ok && relisted.stdout == "c.py\n", "\(relisted.stdout)")
        #expect(await engine.programContainersMade == 1, "a session's runs share its container")
        #expect(try await runner.networks.occupancy().leased == 1)
        try await runner.endSession("notes")
        await expectNothingLeft(engine)
        #expect(try await runner.networks.occupancy().leased == 0)
    }

    /// Two runs in a session at once: one waits for the other, or takes a second container; neither sees the other's
    /// input or output.
    @Test func twoRunsInOneSessionAtOnceBothFinishWithTheirOwnOutput() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine)
        async let a = Self.run(runner, try Self.request("sleep 50\nprint a", session: "pair", file: "a.py"))
        async let b = Self.run(runner, try Self.request("sleep 50\nprint b", session: "pair", file: "b.py"))
        let ((resultA, printedA), (resultB, printedB)) = try await (a, b)
        #expect(resultA.status == .ok && printedA.stdout == "a\n", "\(resultA)")
        #expect(resultB.status == .ok && printedB.stdout == "b\n", "\(resultB)")
        try await runner.endSession("pair")
        await expectNothingLeft(engine)
    }

    @Test func aStandbyIsTakenByExactlyOneRunAndNeverUsedTwice() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine, network: true, standby: 1)
        let standby = try await runner.makeStandby(runtime: Self.runtime, limits: SessionStandbyTests.limits)
        let agent = try #require(await engine.agent(of: standby.containerID))
        let results = await withTaskGroup(of: RunResult.self) { group in
            for index in 0..<4 { group.addTask { await Self.run(runner, try! Self.request("print \(index)")).0 } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.status == .ok }, "\(results)")
        let taken = await agent.requests.count
        #expect(taken == 1, "the standby took \(taken) runs")
        #expect(await engine.programContainersMade == 4, "one standby and three cold containers")
        await expectNothingLeft(engine)
        #expect(try await runner.networks.occupancy().leased == 0)
    }

    @Test func anExpiredStandbyIsNotTakenAndTheRunStartsCold() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine, network: true, standby: 1)
        let standby = try await runner.makeStandby(runtime: Self.runtime, limits: SessionStandbyTests.limits)
        await engine.expire(standby.containerID)
        let (result, printed) = await Self.run(runner, try Self.request("print cold"))
        #expect(result.status == .ok && printed.stdout == "cold\n", "\(result)")
        #expect(await engine.programContainersMade == 2)
        // The expired standby's network is its keeper's to return; the run's own went back.
        #expect(try await runner.networks.occupancy().leased == 1)
        await runner.removeOneShotResources(OneShotResources(containerID: nil, networkID: standby.network?.id))
        #expect(try await runner.networks.occupancy().leased == 0)
    }

    /// A standby of other container settings (another memory limit) is never taken.
    @Test func aStandbyOfOtherLimitsIsLeftAlone() async throws {
        let engine = InMemoryEngine()
        let runner = try Self.runner(engine, standby: 1)
        var other = SessionStandbyTests.limits
        other.memoryBytes *= 2
        let standby = try await runner.makeStandby(runtime: Self.runtime, limits: other)
        let (result, _) = await Self.run(runner, try Self.request("print mine"))
        #expect(result.status == .ok)
        #expect(await engine.agent(of: standby.containerID)?.requests.isEmpty == true)
        await expectNothingLeft(engine, keeping: [standby.containerID])
    }
}
