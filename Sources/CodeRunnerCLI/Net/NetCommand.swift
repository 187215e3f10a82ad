import ArgumentParser
import CodeRunnerCore

struct NetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net", abstract: "Manage session networks.",
        discussion: "Examples:\n  coderunner net gc --dry-run\n  coderunner net gc",
        subcommands: [NetGCCommand.self])
}
