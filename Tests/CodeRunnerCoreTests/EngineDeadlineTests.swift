import CodeRunnerTesting
import Testing

@testable import CodeRunnerCore

/// The engine's own deadline is absolute: a run whose agent never answers ends at its limits plus the supervisor's
/// grace, even when removing the container does not end the agent's stream (an overloaded engine, an attachment the
/// engine keeps open). Against `InMemoryEngine`, whose attachments never answer; takes about ten seconds (the grace
/// and the wait for the stream are the real ones).
struct EngineDeadlineTests {
    @Test func aSilentAgentsRunEndsAtTheDeadlineEvenIfItsStreamStaysOpen() async throws {
        let engine = InMemoryEngine(agents: .silent)
        let runner = try CodeRunner(engine: engine, settings: try NetworkLeaseTests.settings(ready: 0))
        var limits = SessionStandbyTests.limits
        limits.timeout = .milliseconds(200)
        limits.compileTimeout = .milliseconds(200)
        let container = try await runner.createContainer(
            for: SessionStandbyTests.runtime, limits: limits, session: "s", network: nil,
            ephemeral: true)
        let request = try Self.printOne(limits: limits)
        let started = ContinuousClock.now
        let outcome = try await runner.converse(containerID: container, request: request, channel: .attach(shared: true), input: nil) { _ in }
        let took = ContinuousClock.now - started
        guard case .finished(let stages) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(stages.last?.timedOut == true, "\(stages)")
        let bound = CodeRunner.engineDeadline(for: runner.agentRequest(for: request))! + CodeRunner.streamEndWait + .seconds(2)
        #expect(took < bound, "the run took \(took)")
        #expect(try await engine.containers(labeled: [ResourceLabel.session + "=s"]).isEmpty, "the container was not removed")
    }

    /// A container claimed as its agent left (idle past its TTL): the attachment says nothing, and the container no longer
    /// runs. The run is not waited out to its deadline and reported as a timeout; it fails as "went away" within a few
    /// seconds, so the caller takes another container.
    @Test func aRunOnAContainerThatStoppedFailsFastAsGoneNotAsATimeout() async throws {
        let engine = InMemoryEngine(agents: .silent)
        let runner = try CodeRunner(engine: engine, settings: try NetworkLeaseTests.settings(ready: 0))
        let limits = SessionStandbyTests.limits  // 10 s: the deadline is 15 s away
        let container = try await runner.createContainer(
            for: SessionStandbyTests.runtime, limits: limits, session: "s", network: nil,
            ephemeral: true, start: false)
        let request = try Self.printOne(limits: limits)
        let started = ContinuousClock.now
        do {
            let outcome = try await runner.converse(containerID: container, request: request, channel: .attach(shared: true), input: nil) { _ in }
            Issue.record("a run on a stopped container answered \(outcome)")
        } catch {
            #expect(CodeRunner.containerWentAway(error), "\(error)")
        }
        #expect(ContinuousClock.now - started < CodeRunner.answerWait * 2 + .seconds(1))
    }

    /// `print(1)` in session "s" with `limits`.
    static func printOne(limits: RunLimits) throws -> RunRequest {
        let submission = try Submission(
            files: [SubmittedFile(path: "a.py", contents: Array("print(1)\n".utf8))], entry: "a.py",
            limits: SubmissionLimits(maxFileBytes: 1 << 20, maxFileCount: 10, maxTotalBytes: 1 << 20))
        return RunRequest(
            submission: submission, runtime: SessionStandbyTests.runtime, arguments: [], environment: [], limits: limits, session: "s",
            fresh: true)
    }
}
