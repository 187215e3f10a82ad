import ArgumentParser
import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// Renders the man page and the shell completion scripts from the command definitions themselves, so the
/// committed files in man/ and completions/ cannot drift from `--help` (GeneratedFilesTests compares them).
/// Hidden: it is a tool for maintainers and packagers (`.ci/generate-docs`), not for users.
struct GenerateDocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-docs",
        abstract: "Render the man page and the shell completion scripts.",
        discussion: """
            With --output-dir the files are written to DIR/man/coderunner.1 and DIR/completions/{coderunner.bash,\
            _coderunner,coderunner.fish}; otherwise the requested document is printed on stdout.

            Examples:
              coderunner generate-docs --man
              coderunner generate-docs --completions zsh
              coderunner generate-docs --output-dir .
            """,
        shouldDisplay: false)

    @Flag(help: "Print the man page (roff, man(7) macros).") var man = false
    @Option(
        help: ArgumentHelp("Print the completion script for a shell (bash, zsh, fish).", valueName: "shell"),
        completion: .list(["bash", "zsh", "fish"]))
    var completions: String?
    @Option(
        help: ArgumentHelp("Write every generated file below this folder (the repository root).", valueName: "dir"),
        completion: .directory)
    var outputDir: String?
    @Option(help: ArgumentHelp("Date printed in the man page; pinned so regenerating an unchanged page changes nothing.", valueName: "yyyy-mm-dd"))
    var date: String = ManualPage.pinnedDate

    func validate() throws {
        if !man && completions == nil && outputDir == nil {
            throw ValidationError("give --man, --completions <shell> or --output-dir <dir>")
        }
        if let completions, CompletionShell(rawValue: completions) == nil {
            throw ValidationError("--completions takes bash, zsh or fish")
        }
    }

    func run() throws {
        if man { Terminal.out(try ManualPage.render(date: date)) }
        if let completions, let shell = CompletionShell(rawValue: completions) { Terminal.out(RootCommand.completionScript(for: shell) + "\n") }
        guard let outputDir else { return }
        var files = [("man/coderunner.1", try ManualPage.render(date: date))]
        for (shell, name) in GeneratedFiles.completionFiles {
            files.append(("completions/" + name, RootCommand.completionScript(for: shell) + "\n"))
        }
        for (path, text) in files {
            let full = outputDir + "/" + path
            guard LocalFile.write(text, to: full) else {
                Terminal.err("coderunner: cannot write \(full); check that the folder exists and is writable\n")
                throw ExitCode(ExitStatus.internalFailure)
            }
            Terminal.err("wrote \(full)\n")
        }
    }
}

enum GeneratedFiles {
    /// Completion script file names, as bash-completion, zsh's fpath and fish look them up.
    static let completionFiles: [(CompletionShell, String)] = [(.bash, "coderunner.bash"), (.zsh, "_coderunner"), (.fish, "coderunner.fish")]
}
