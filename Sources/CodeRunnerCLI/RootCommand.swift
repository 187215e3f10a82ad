import ArgumentParser

/// `coderunner`: the root of every command; `RootCommand.parseAsRoot(arguments)` parses a command line.
public struct RootCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "coderunner",
        abstract: "Run code in isolated containers and stream the output live.",
        discussion: """
            Every run gets a locked-down container (non-root, no capabilities, read-only root, memory/CPU/pids limits) \
            on its session's internal bridge network. The engine talks to the Docker Engine API directly \
            (unix socket by default; DOCKER_HOST is honoured).

            Examples:
              coderunner run hello.py
              coderunner runtimes
              coderunner images build
              coderunner config
            """,
        version: version,
        subcommands: [
            RunCommand.self, ServeCommand.self, SessionCommand.self, PoolCommand.self, NetCommand.self, RuntimesCommand.self, ImagesCommand.self,
            ConfigCommand.self, DoctorCommand.self, GenerateDocsCommand.self, BenchKernelCommand.self, StandbyCommand.self,
        ])
}
