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
