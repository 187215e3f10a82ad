import ArgumentParser
import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// The process's entry point: `Sources/coderunner/main.swift` calls `main()` and nothing else. (Not a `main()` on
/// RootCommand: ArgumentParser's synchronous `ParsableCommand.main()` would win the overload from main.swift.)
public enum Entrypoint {
    /// Parses the process's arguments once, with `RootCommand.parseCommandLine` (parsing is a noticeable share of a
    /// warm run), runs the command and exits with its code. Usage mistakes get the same single `coderunner: …` line
    /// as every other failure (exit 64); --help, --version and completion requests, and the commands' own exit codes,
    /// go through ArgumentParser's exit.
    public static func main() async {
        RunTrace.mark("main")
        let arguments = Array(CommandLine.arguments.dropFirst())
        let own = CommandLine.ownArguments(arguments)
        JSONOutput.requested = own.contains("--json")
        if let mistake = CommandNames.unknownCommand(in: own) {
            Terminal.err("coderunner: \(mistake)\n")
            if JSONOutput.requested { Terminal.out(JSONOutput.error(message: mistake, exitCode: 64) + "\n") }
            exit(64)
        }
        var command: any ParsableCommand
        do {
            command = try RootCommand.parseCommandLine(arguments)
        } catch {
            if RootCommand.exitCode(for: error).rawValue == 64 {
                let path = CommandNames.path(of: own)
                let scope = path.isEmpty ? "" : path.joined(separator: " ") + " "
                let message = "\(RootCommand.message(for: error)); see `coderunner \(scope)--help`"
                Terminal.err("coderunner: \(message)\n")
                if JSONOutput.requested { Terminal.out(JSONOutput.error(message: message, exitCode: 64) + "\n") }
                exit(64)
            }
            RootCommand.exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            RootCommand.exit(withError: error)
        }
    }
}

/// Subcommand names, for a mistyped one (`coderunner rnu`, `coderunner help rnu`): ArgumentParser would call the
/// words "unexpected arguments" or print the top-level help; we name the nearest command instead.
enum CommandNames {
    static var visible: [String] {
        RootCommand.configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
    }
    static var all: [String] {
        RootCommand.configuration.subcommands.flatMap { [$0._commandName] + $0.configuration.aliases } + ["help"]
    }

    /// The command a command line names (`["pool", "warm"]` for `pool warm python …`), so a usage error points at the
    /// help of the command that refused it (`validate()` of a subcommand included).
    static func path(of arguments: [String]) -> [String] {
        var path: [String] = []
        var candidates = RootCommand.configuration.subcommands
        for word in arguments {
            guard let command = candidates.first(where: { $0._commandName == word || $0.configuration.aliases.contains(word) }) else { break }
            path.append(command._commandName)
            candidates = command.configuration.subcommands
        }
        return path
    }

    /// The message for a first word (or `help`'s topic) that names no command, or nil.
    static func unknownCommand(in arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
        if first == "help" {
            guard arguments.count > 1, !arguments[1].hasPrefix("-"), !all.contains(arguments[1]) else { return nil }
            return "no help topic '\(arguments[1])'; \(hint(for: arguments[1]))"
        }
        guard !all.contains(first) else { return nil }
        if access(first, F_OK) == 0 { return "unknown command '\(first)'; to run a file: coderunner run \(arguments.joined(separator: " "))" }
        return "unknown command '\(first)'; \(hint(for: first))"
    }

    static func hint(for word: String) -> String {
        let scored = visible.map { ($0, Configuration.editDistance($0, word.lowercased())) }.sorted { $0.1 < $1.1 }
        if let best = scored.first, best.1 <= 2 { return "did you mean `coderunner \(best.0)`? (`coderunner --help` lists the commands)" }
        return "the commands are \(visible.joined(separator: ", ")) (`coderunner --help`)"
    }
}
