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
            RunCommand.self, ServeCommand.self, SessionCommand.self, PoolCommand.self, NetCommand.self, FleetCommand.self, RuntimesCommand.self,
            ImagesCommand.self,
            ConfigCommand.self, DoctorCommand.self, GenerateDocsCommand.self, BenchKernelCommand.self, StandbyCommand.self,
        ])
}

extension RootCommand {
    /// Parses a whole command line as the binary does: `parseAsRoot`, plus `run`'s program arguments after `--`, which
    /// are handed to the `RunCommand` (`programArguments`).
    public static func parseCommandLine(_ arguments: [String]) throws -> any ParsableCommand {
        // Split before parsing because ArgumentParser 1.8.2 has no declaration for a second positional list after
        // `run`'s files: `.postTerminator` next to another positional array fails its configuration check (in either
        // order, or grouped), and `.captureForPassthrough` would also take the options that follow the files.
        let own = CommandLine.ownArguments(arguments)
        let command = try parseAsRoot(own)
        guard var run = command as? RunCommand, own.count < arguments.count else { return command }
        run.programArguments = Array(arguments[(own.count + 1)...])
        return run
    }
}

extension CommandLine {
    /// The words coderunner parses: for `run`, those before the first `--` (the rest belong to the user's program).
    static func ownArguments(_ arguments: [String]) -> [String] {
        guard arguments.first == "run", let separator = arguments.firstIndex(of: "--") else { return arguments }
        return Array(arguments[..<separator])
    }
}
