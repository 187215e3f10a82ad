import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

@main
enum Entrypoint {
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        // Program arguments after `--` belong to the user's program, not to us. ArgumentParser cannot take a second
        // positional list after `run`'s files, so they are split off here, before parsing.
        if arguments.first == "run", let separator = arguments.firstIndex(of: "--") {
            ProgramArguments.value = Array(arguments[(separator + 1)...])
            arguments = Array(arguments[..<separator])
        }
        // Usage mistakes get the same single `coderunner: …` line as every other failure (exit 64);
        // --help, --version and completion requests fall through to ArgumentParser.
        do {
            _ = try RootCommand.parseAsRoot(arguments)
        } catch {
            if RootCommand.exitCode(for: error).rawValue == 64 {
                let subcommands = RootCommand.configuration.subcommands.map { $0._commandName }
                let scope = arguments.first.flatMap { subcommands.contains($0) ? "\($0) " : nil } ?? ""
                Terminal.err("coderunner: \(RootCommand.message(for: error)); see `coderunner \(scope)--help`\n")
                exit(64)
            }
        }
        await RootCommand.main(arguments)
    }
}

/// The arguments after `--` of `coderunner run`; written once in `main` before any command runs, read-only afterwards.
enum ProgramArguments {
    nonisolated(unsafe) static var value: [String] = []
}
