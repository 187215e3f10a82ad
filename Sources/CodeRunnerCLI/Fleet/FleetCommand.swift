import ArgumentParser

struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet", abstract: "Look at several `coderunner serve` nodes at once.",
        discussion:
            "Examples:\n  coderunner fleet status --nodes http://10.0.0.5:3000 http://10.0.0.6:3000\n  coderunner fleet status --nodes http://a:3000 --json",
        subcommands: [FleetStatusCommand.self])
}
