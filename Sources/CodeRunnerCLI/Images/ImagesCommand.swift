import ArgumentParser
import CodeRunnerCore

struct ImagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Build the runtime images.",
        discussion: "Examples:\n  coderunner images build\n  coderunner images build python --force",
        subcommands: [ImagesBuildCommand.self])
}
