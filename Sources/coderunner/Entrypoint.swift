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
        await RootCommand.main(arguments)
    }
}

/// The arguments after `--` of `coderunner run`; written once in `main` before any command runs, read-only afterwards.
enum ProgramArguments {
    nonisolated(unsafe) static var value: [String] = []
}
