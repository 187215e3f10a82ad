import ArgumentParser
import CodeRunnerCore
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

struct SessionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "An interactive shell on a persistent kernel: state survives between inputs.",
        discussion: """
            python, javascript, java (jshell), sql (one connection: tables and variables survive) and cpp (each input \
            is compiled and run; declarations are kept for later inputs). A block continues while brackets are open or a \
            Python block is not finished, as in the language's own REPL. Ctrl-C interrupts the running cell (the kernel \
            survives; a second Ctrl-C restarts it); Ctrl-D or :quit leaves and removes the session's containers and \
            network, unless --session NAME keeps them for later. Type :help for the meta commands.

            When stdin is not a terminal, cells are read from stdin (split as the shell would split them), every cell \
            runs even after an error, nothing but the cells' output is printed, and the exit code is 1 if any cell failed. \
            Piped lines starting with ':' are code, not meta commands, unless --meta-commands is given; even then \
            :load, :put, :run and :get only use files inside the current folder (no absolute paths, '..' or symlinks \
            leading out). Figures are saved as coderunner-cell<N>-<k>.<ext>; an existing file is never replaced.

            Examples:
              coderunner session
              coderunner session javascript
              coderunner session sql --session class-db
              printf 'x = 41\\nx + 1\\n' | coderunner session python
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("Language of the kernel.", valueName: "language"))
    var language = LanguageArgument("python")

    @Option(help: ArgumentHelp("Use (and keep) a named session instead of a throwaway one.", valueName: "name"))
    var session: String?

    @Option(
        help: ArgumentHelp("Per-cell time limit, e.g. 30s (default: the runtime's timeout).", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var timeout: DurationArgument?

    @Option(help: ArgumentHelp("Memory limit of the session's containers, e.g. 256m.", valueName: "size"), transform: ByteSizeArgument.init(parsing:))
    var memory: ByteSizeArgument?

    @Flag(help: "Print each cell's wall time.") var time = false

    @Flag(
        name: .customLong("meta-commands"),
        help: "With piped input: treat lines starting with ':' as meta commands (file commands stay inside the current folder).")
    var metaCommands = false

    @Flag(help: "Pass the program's terminal control sequences through unfiltered (clipboard, title, queries).")
    var raw = false

    @Flag(help: "Run in a named session that another user or job (CODERUNNER_JOB) created.")
    var join = false

    func run() async throws {
        var exitCode: Int32 = 0
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            let runner = try context.codeRunner(join: join)
            Terminal.filterProgramOutput(raw: raw)
            let runtime: Runtime
            do { runtime = try language.runtime(in: context.catalog) } catch { throw CommandFailure.usage("\(error)") }
            var limits: RunLimits
            do {
                limits = try runner.settings.limits(for: runtime, configuration: context.configuration)
                if let timeout { limits.timeout = timeout.value }
                if let memory { limits.memoryBytes = memory.value }
                if let session { try SessionName.validate(session) }
            } catch {
                throw CommandFailure.usage("\(error)")
            }
            let shell = Shell(
                runner: runner, catalog: context.catalog, configuration: context.configuration, limits: limits,
                sessionName: session ?? "shell-" + String(SessionName.ephemeral().dropFirst(4)), keepSession: session != nil,
                interactive: Terminal.isTerminal(0), showTiming: time, environment: context.environment,
                pipedMetaCommands: metaCommands)
            exitCode = try await shell.run(startLanguage: runtime)
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}
