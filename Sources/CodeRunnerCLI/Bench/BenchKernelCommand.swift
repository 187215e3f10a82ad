import ArgumentParser
import CodeRunnerCore

/// `coderunner bench-kernel`: times trivial cells in a warm kernel (the session shell's per-input cost), engine included.
/// Hidden: it is a measuring tool for `.ci/bench`, not part of the everyday interface.
struct BenchKernelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernel",
        abstract: "Time trivial cells in a warm kernel (used by .ci/bench).",
        discussion: "Examples:\n  coderunner bench-kernel --cells 200 python",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Language.") var language = LanguageArgument("python")
    @Option(help: "Cells to time.") var cells = 200
    @Option(help: "The cell's code.") var code = "1+1"

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            let runner = try context.codeRunner()
            let (runtime, limits) = try context.runtimeWithDefaultLimits(language, runner: runner)
            let session = "bench-" + String(SessionName.ephemeral().dropFirst(4))
            let startClock = ContinuousClock.now
            let kernel: KernelSession
            do {
                kernel = try await KernelSession.start(runner: runner, session: session, runtime: runtime, limits: limits, processOwned: true) { _ in
                }
            } catch { throw CommandFailure.internalFailure("\(error)") }
            let startup = Double((ContinuousClock.now - startClock).microseconds) / 1000
            var samples: [Double] = []
            for index in 0..<(cells + 10) {
                let began = ContinuousClock.now
                let result = try await kernel.execute(code)
                let elapsed = Double((ContinuousClock.now - began).microseconds) / 1000
                guard result.status == .ok else { throw CommandFailure.internalFailure("cell \(index) ended with \(result.status.rawValue)") }
                if index >= 10 { samples.append(elapsed) }  // the first cells warm up caches
            }
            await kernel.shutdown()
            try? await runner.endSession(session)
            samples.sort()
            func percentile(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count - 1) * p))] }
            Terminal.out(
                "language=\(runtime.language) cells=\(samples.count) code=\(code) kernel_start_ms=\(Format.fixed(startup, digits: 0)) "
                    + "median_ms=\(Format.fixed(percentile(0.5), digits: 2)) p90_ms=\(Format.fixed(percentile(0.9), digits: 2)) "
                    + "min_ms=\(Format.fixed(samples.first ?? 0, digits: 2)) max_ms=\(Format.fixed(samples.last ?? 0, digits: 2))\n")
        }
    }
}
