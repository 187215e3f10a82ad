import AgentProtocol
import Testing

@testable import CodeRunnerCore

@Suite struct RunResultTests {
    static func stage(
        _ name: String = "run", exit: Int32? = 0, signal: Int32? = nil, timedOut: Bool = false, cpu: Bool = false,
        output: Bool = false, memory: Bool = false, stopped: Bool = false
    ) -> AgentStageResult {
        AgentStageResult(
            name: name, exitCode: exit, signal: signal, wallMicroseconds: 1500, userCPUMicroseconds: 700, systemCPUMicroseconds: 300,
            maxResidentKiB: 2048, timedOut: timedOut, cpuLimitExceeded: cpu, outputLimitExceeded: output,
            memoryLimitExceeded: memory, stopped: stopped)
    }

    static let request: RunRequest = {
        let manifest = ConfigurationTests.manifest
        let runtime = Runtime(manifest: manifest, directory: "/x", image: manifest.image)
        let submission = try! Submission(
            files: [SubmittedFile(path: "a.py", contents: [])], entry: "a.py",
            limits: SubmissionLimits(maxFileBytes: 10, maxFileCount: 1, maxTotalBytes: 10))
        let limits = RunLimits(
            timeout: .seconds(2), compileTimeout: .seconds(30), memoryBytes: 128 << 20, cpus: 1, pids: 64, outputLimitBytes: 1 << 20)
        return RunRequest(submission: submission, runtime: runtime, arguments: [], environment: [], limits: limits, session: nil, fresh: false)
    }()

    func outcome(_ stages: [AgentStageResult]) -> RunResult {
        CodeRunner.result(stages: stages, request: Self.request, totalMilliseconds: 5, session: nil)
    }

    @Test func statusesAndExitCodes() {
        let cases: [([AgentStageResult], RunStatus, Int32)] = [
            ([Self.stage()], .ok, 0),
            ([Self.stage(exit: 3)], .runtimeError, 3),
            ([Self.stage(exit: nil, signal: 11)], .signal, 139),
            ([Self.stage(exit: nil, signal: 9, timedOut: true)], .timeout, 124),
            ([Self.stage(exit: nil, signal: 9, memory: true)], .memoryLimit, 137),
            ([Self.stage(exit: nil, signal: 24, cpu: true)], .cpuLimit, 152),
            ([Self.stage(exit: nil, signal: 9, output: true)], .outputLimit, 137),
            ([Self.stage(exit: nil, signal: 9, stopped: true)], .stopped, 130),
            ([Self.stage("compile", exit: 1)], .compileError, 1),
            ([Self.stage("compile", exit: 0), Self.stage(exit: 0)], .ok, 0),
            ([], .internalError, 125),
        ]
        for (stages, status, code) in cases {
            let result = outcome(stages)
            #expect(result.status == status)
            #expect(result.processExitCode == code)
            #expect((result.summaryLine == nil) == (status == .ok))
        }
    }

    @Test func measurementsAreConverted() {
        let result = outcome([Self.stage(exit: nil, signal: 11)])
        #expect(result.signalName == "SIGSEGV")
        #expect(result.stages[0].wallMilliseconds == 1.5)
        #expect(result.stages[0].cpuMilliseconds == 1.0)
        #expect(result.stages[0].peakMemoryBytes == 2048 * 1024)
        #expect(outcome([Self.stage(exit: nil, signal: 9, output: true)]).truncated)
    }
}
