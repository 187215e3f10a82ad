import CodeRunnerCore

/// Runs a runtime's example and checks its exact output, so a broken image is caught when it is built.
enum SmokeTest {
    static func run(_ runtime: Runtime, runner: CodeRunner, context: AppContext) async throws(CommandFailure) {
        let examplePath = runtime.directory + "/" + runtime.manifest.example
        let settings = try context.settings()
        let submission: Submission
        do {
            submission = try Submission.fromLocalPaths([examplePath], limits: settings.submissionLimits, followSymlinks: true)
        } catch {
            throw .internalFailure("smoke test of \(runtime.language): \(error)")
        }
        var limits: RunLimits
        do { limits = try settings.limits(for: runtime, configuration: context.configuration) } catch { throw .usage(error.description) }
        limits.timeout = .seconds(60)
        let collector = OutputCollector()
        let result = await runner.run(
            RunRequest(submission: submission, runtime: runtime, arguments: [], environment: [], limits: limits, session: nil, fresh: false),
            input: nil
        ) { event in
            if case .output(let stream, let bytes) = event { await collector.append(stream, bytes) }
        }
        let output = String(decoding: await collector.stdout, as: UTF8.self)
        guard result.status == .ok, output == runtime.manifest.exampleOutput else {
            let stderr = String(decoding: await collector.stderr, as: UTF8.self)
            throw .internalFailure(
                "smoke test of \(runtime.language) failed: status \(result.status.rawValue), output \(output.debugDescription), stderr \(stderr.prefix(500).debugDescription) \(result.message ?? "")"
            )
        }
        Terminal.err("    smoke test ok (\(Format.fixed(result.totalMilliseconds, digits: 0)) ms)\n")
    }
}
