import ArgumentParser
import CodeRunnerCore
import FoundationEssentials

struct RuntimesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtimes",
        abstract: "List the language runtimes and whether their images are built and current.",
        discussion: """
            A runtime is a folder under runtimes/ with a Dockerfile and a runtime.json manifest. \
            `current` means the image was built from the present folder and agent; `outdated` means \
            `coderunner images build` would rebuild it.

            Examples:
              coderunner runtimes
              coderunner runtimes --json
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON for scripts.") var json = false

    struct Row: Encodable {
        var language: String, displayName: String, extensions: [String], image: String, state: String
    }

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            let images = RuntimeImages(
                engine: try context.containerEngine(), baseImage: context.baseImage(), agentBinaryPath: context.agentBinaryPath())
            var rows: [Row] = []
            var engineProblem: String?
            for runtime in context.catalog.runtimes {
                let state: String
                if engineProblem != nil {
                    state = "unknown"
                } else {
                    do { state = try await images.state(of: runtime).rawValue } catch let error as RuntimeImages.ImageError {
                        // Without the agent binary at hand we can still say whether the image exists.
                        _ = error
                        state = (try? await images.engine.image(runtime.image)) == nil ? "missing" : "present"
                    } catch let error as EngineError {
                        // The languages are known without Docker; only the images' state is not.
                        engineProblem = error.description
                        state = "unknown"
                    } catch {
                        throw CommandFailure.internalFailure("\(error)")
                    }
                }
                rows.append(
                    Row(
                        language: runtime.language, displayName: runtime.manifest.displayName,
                        extensions: runtime.manifest.extensions, image: runtime.image, state: state))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                Terminal.out(String(decoding: try encoder.encode(rows), as: UTF8.self) + "\n")
                return
            }
            var table = [["LANGUAGE", "NAME", "EXTENSIONS", "IMAGE", "STATE"]]
            for row in rows {
                table.append([row.language, row.displayName, row.extensions.joined(separator: " "), row.image, row.state])
            }
            Terminal.out(TextTable.render(table))
            if let engineProblem {
                Terminal.status("coderunner: the images' state is unknown: \(engineProblem)")
            } else if rows.contains(where: { $0.state != "current" && $0.state != "present" }) {
                Terminal.out("\nBuild missing or outdated images with `coderunner images build`.\n")
            }
        }
    }
}

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Build the runtime images.",
        discussion: "Examples:\n  coderunner images build\n  coderunner images build python --force",
        subcommands: [ImagesBuildCommand.self])
}

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
    @Argument(
        help: ArgumentHelp("Languages to build (default: all).", valueName: "language"),
        completion: .list(["python", "javascript", "java", "cpp", "sql"]))
    var languages: [String] = []
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
                selected = languages.isEmpty ? context.catalog.runtimes : try languages.map { try context.catalog.runtime(named: $0) }
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

/// Plain aligned columns for terminal listings.
enum TextTable {
    static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        var widths = header.map(\.count)
        for row in rows { for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) } }
        var text = ""
        for row in rows {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }
            text += cells.joined(separator: "  ") + "\n"
        }
        return text
    }
}

enum Format {
    /// `12.3` style numbers without Foundation's String(format:).
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let fractionText = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }
}
