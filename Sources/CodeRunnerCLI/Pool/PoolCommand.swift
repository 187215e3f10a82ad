import ArgumentParser
import CodeRunnerCore

struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Show subnet pools, sessions, containers and their TTLs; pre-warm or drain containers.",
        discussion: """
            Docker's own state is the source of truth: every process (CLI runs, `serve`) sees the same picture. \
            A pool gets a warning when it is not a private range, or overlaps a host route or another Docker network.

            Examples:
              coderunner pool
              coderunner pool --json
              coderunner pool warm python --session ci --count 2
              coderunner pool drain --session ci
              coderunner pool drain --all --yes
            """,
        subcommands: [PoolShowCommand.self, PoolWarmCommand.self, PoolDrainCommand.self],
        defaultSubcommand: PoolShowCommand.self)
}
