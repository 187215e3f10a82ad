import ArgumentParser
import CodeRunnerCore

struct ImagesBuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build runtime images through the Docker Engine API, skipping those that are current.",
        discussion: """
            Each image is built from runtimes/<folder>/Dockerfile with the in-container agent added, on the base image \
            in CODERUNNER_BASE_IMAGE (default coderunner/base:bookworm, which ./setup.sh creates with debootstrap when \
            no registry is reachable; set it to empty to use the Dockerfile's own default base). \
            After a build the runtime's example runs as a smoke test.

            Examples:
              coderunner images build
              coderunner images build python java --force
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Languages to build (default: all).", valueName: "language"))
    var languages: [LanguageArgument] = []
    @Flag(help: "Rebuild even when the image is current.") var force = false
    @Flag(help: "Skip the smoke test after building.") var noSmokeTest = false
    @Flag(help: "Show every line of Docker's build output.") var verbose = false

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            let engine = try context.containerEngine()
            let images = RuntimeImages(engine: engine, baseImage: context.baseImage(), agentBinaryPath: context.agentBinaryPath())
            var selected: [Runtime] = []
            do {
                selected = languages.isEmpty ? context.catalog.runtimes : try languages.map { try $0.runtime(in: context.catalog) }
            } catch {
                throw CommandFailure.usage("\(error)")
            }
            let runner = try context.codeRunner()
            for runtime in selected {
                let started = ContinuousClock.now
                Terminal.err("==> \(runtime.language): \(runtime.image)\n")
                let verbose = self.verbose
                let built: Bool
                do {
                    built = try await images.build(runtime, force: force) { line in
                        let trimmed = String(line.drop { $0 == "\n" }.reversed().drop { $0 == "\n" }.reversed())
                        if verbose || trimmed.hasPrefix("Step ") { Terminal.err("    \(trimmed)\n") }
                    }
                } catch {
                    throw CommandFailure.internalFailure("building \(runtime.image) failed: \(error)")
                }
                let seconds = Double((ContinuousClock.now - started).microseconds) / 1e6
                Terminal.err(built ? "    built in \(Format.fixed(seconds, digits: 1)) s\n" : "    current, not rebuilt\n")
                if !noSmokeTest && built {
                    do {
                        try await SmokeTest.run(runtime, runner: runner, context: context)
                    } catch {
                        // A broken image must not look current to the next `images build`.
                        try? await engine.removeImage(runtime.image)
                        throw error
                    }
                }
            }
        }
    }
}
