import ArgumentParser
import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a program in a container and stream its output.",
        usage: "coderunner run [<options>] <file> ... [-- <program-argument> ...]",
        discussion: """
            The language comes from --lang or the entry file's extension. Several files or a folder may be given; \
            they keep their paths relative to the folder that holds them all. For a folder, the language is the one \
            language among its source files and the entry the file with a main, else the usual name (main.py, \
            index.js, Main.java, main.c). Symlinks leading out of the folder (for named files, out of the current \
            directory) are refused unless --follow-symlinks; FIFOs, sockets and devices are refused. \
            --memory and --cpus may not exceed the engine host's memory and CPU count. Program arguments follow `--`. \
            stdin is passed through (piped, or typed when stdin is a terminal). A Jupyter notebook (.ipynb) runs its code \
            cells in order in one Python kernel and prints their outputs; --output writes it back with the outputs. The exit code is the program's own, \
            124 on timeout, 128+N when killed by signal N (137 for the memory limit), the compiler's on a compile error, \
            125 when coderunner itself fails and 64 on bad usage.

            Without --session every run gets a fresh session (network and container) that is removed when it ends, \
            by a detached process right after the result is reported; \
            it takes the standby container the one-shot run before it left started, when one with the same container \
            limits is ready (run.standby; 0 turns standby containers off). \
            With --session NAME (or CODERUNNER_SESSION) the session's warm container is reused while it lives \
            (container.ttl after its last use), so repeated runs skip container start-up; its files stay between runs \
            unless --fresh is given. A named session another user or job created (CODERUNNER_JOB tells jobs apart) \
            is only joined with --join.

            On a terminal the program's output is filtered: colours and ordinary formatting pass, sequences that act \
            outside the output (clipboard, window title, hyperlinks, device queries) are dropped; --raw keeps them. \
            Piped output and --json are never changed. coderunner's own status lines come after the program's output, \
            on a colour terminal behind a reverse-video 'coderunner' badge programs cannot print; --json is the \
            machine-readable result. A notebook cell's status is what the kernel process reports about itself, and \
            the code in the cell runs in that process and can lie about it: grade with `coderunner run` on a program \
            file, whose status comes from the process's own exit. Notebook outputs and figures never replace an \
            existing file (or follow a symlink) unless --force is given.

            Examples:
              coderunner run hello.py
              echo world | coderunner run greet.js
              coderunner run src/ --entry Main.java -- arg1 arg2
              coderunner run submission/            (language and entry inferred)
              coderunner run --timeout 2s --memory 64m --json bomb.c
              coderunner run --session ci main.py
              coderunner run analysis.ipynb --output analysis.out.ipynb
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(
        help: ArgumentHelp("Source files or folders to upload; the first file is the entry unless --entry says otherwise.", valueName: "file"),
        completion: .file())
    var files: [String] = []

    @Option(
        name: [.short, .long],
        help: ArgumentHelp("Language (python, javascript, java, cpp, sql, or an alias); default: from the entry's extension.", valueName: "language"))
    var lang: LanguageArgument?

    @Option(help: ArgumentHelp("The file to run, relative to the uploaded folder.", valueName: "path"), completion: .file())
    var entry: String?

    // `.unconditional`: a value such as `-1` is taken as the value (and refused with the allowed range), not as an option.
    @Option(
        parsing: .unconditional, help: ArgumentHelp("Wall-clock limit of the run stage, e.g. 500ms, 2s, 1m.", valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var timeout: DurationArgument?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Memory limit, from 6m to the engine host's memory, e.g. 128m, 1g (swap is not added).", valueName: "size"),
        transform: MemoryLimitArgument.init(parsing:))
    var memory: MemoryLimitArgument?

    @Option(
        parsing: .unconditional, help: ArgumentHelp("CPU quota in CPUs, from 0.01 to the engine host's CPU count, e.g. 0.5.", valueName: "cpus"),
        transform: CPUCountArgument.init(parsing:))
    var cpus: CPUCountArgument?

    @Option(
        name: .customLong("output-limit"), parsing: .unconditional,
        help: ArgumentHelp("Stop the program after this much output, e.g. 1m.", valueName: "size"),
        transform: ByteSizeArgument.init(parsing:))
    var outputLimit: ByteSizeArgument?

    @Option(name: [.short, .customLong("env")], help: ArgumentHelp("Environment variable for the program (repeatable).", valueName: "key=value"))
    var env: [String] = []

    @Option(help: ArgumentHelp("Run in a named session, reusing its warm container and files.", valueName: "name"))
    var session: String?

    @Flag(help: "Empty the session's work dir before running.")
    var fresh = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "With --session: how long the session's new containers stay after their last run, e.g. 10m (default container.ttl, 60s; at most 24h).",
            valueName: "duration"),
        transform: DurationArgument.init(parsing:))
    var ttl: DurationArgument?

    @Flag(help: "Print one JSON object (status, exit code, timings, output) instead of streaming.")
    var json = false

    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "For a notebook (.ipynb): write it back here with the outputs filled in (nbformat 4); plots are saved as PNG files next to it.",
            valueName: "out.ipynb"),
        completion: .file(extensions: ["ipynb"]))
    var output: String?

    @Flag(
        name: .customLong("follow-symlinks"),
        help: "Read symlinks that lead outside the submitted folder (or, for named files, the current directory); refused by default.")
    var followSymlinks = false

    @Flag(help: "For a notebook: replace existing output and figure files (a symlink is replaced, never written through).")
    var force = false

    @Flag(help: "Pass the program's terminal control sequences through unfiltered (clipboard, title, queries).")
    var raw = false

    @Flag(help: "Run in a named session that another user or job (CODERUNNER_JOB) created.")
    var join = false

    /// The program's arguments, after `--`: not parsed by ArgumentParser but set by `RootCommand.parseCommandLine`.
    var programArguments: [String] = []

    /// One `.ipynb` file: it runs in a kernel, so --output and --force apply to it and the options for programs
    /// (--entry, --env, --ttl) do not (they are ignored, and so not checked).
    var runsNotebook: Bool { files.count == 1 && FilePath.extensionWithDot(files[0]).lowercased() == ".ipynb" }

    /// Mistakes visible in the command line alone, refused (exit 64) right after parsing, before the config file, the
    /// engine or any file is read. What depends on those (the files, --memory against the host, the language) is
    /// checked in `execute()`.
    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give a file to run, e.g. `coderunner run hello.py`") }
        if !runsNotebook {
            if output != nil || force { throw ValidationError("--output and --force are for notebooks (.ipynb)") }
            if let entry {
                do { try Submission.validate(path: entry.hasPrefix("./") ? String(entry.dropFirst(2)) : entry) } catch {
                    throw ValidationError(error.description)
                }
            }
        }
        if let timeout, timeout.value <= .zero {
            throw ValidationError("--timeout \(timeout.text) is too short: use a duration above 0, such as 500ms or 2s")
        }
        if outputLimit?.value == 0 { throw ValidationError("--output-limit 0 would stop every program at once: use a size such as 64k or 1m") }
        guard !runsNotebook else { return }
        for pair in env {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex, !pair.utf8.contains(0) else {
                throw ValidationError("--env takes KEY=VALUE, got '\(pair)'")
            }
        }
        if let ttl {
            guard Self.sessionName(session, environment: Terminal.environment()) != nil else {
                throw ValidationError("--ttl is for a named session (--session NAME): a one-shot run's container ends with it")
            }
            guard ttl.value >= .seconds(1), ttl.value <= .seconds(86_400) else {
                throw ValidationError("--ttl must be between 1s and 24h, not \(ttl.text)")
            }
        }
    }

    /// `--session`, else CODERUNNER_SESSION when it is set and not empty; nil for a one-shot run.
    static func sessionName(_ flag: String?, environment: [String: String]) -> String? {
        flag ?? environment["CODERUNNER_SESSION"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func run() async throws {
        RunTrace.mark("cli started")
        var exitCode: Int32 = 0
        try await withFailureHandling {
            exitCode = try await execute()
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// The limits asked for on the command line, checked before any file is read: `--memory` and `--cpus` against the
    /// engine host's size (when the engine answers; otherwise the run reports the engine's problem).
    func checkedLimits(context: AppContext) async throws(CommandFailure) -> RequestedLimits {
        var requested = RequestedLimits(timeout: timeout?.value, outputLimit: outputLimit?.value)
        if memory != nil || cpus != nil {
            let host = try? await context.containerEngine().hostCapacity()
            do {
                requested.memory = try memory?.checked(against: host)
                requested.cpus = try cpus?.checked(against: host)
            } catch { throw .usage(error.description) }
        }
        return requested
    }

    struct RequestedLimits {
        var timeout: Duration?
        var outputLimit: UInt64?
        var memory: UInt64?
        var cpus: Double?
    }

    func execute() async throws(CommandFailure) -> Int32 {
        let context = try AppContext.load(options: global)
        let settings = try context.settings()
        Terminal.filterProgramOutput(raw: raw || json)
        if runsNotebook {
            // The same checks as for programs (`--memory` and `--cpus` against the host; zero limits were refused in validate()).
            let requested = try await checkedLimits(context: context)
            return try await NotebookCommandRunner(path: files[0], output: output, force: force, json: json, context: context, requested: requested)
                .run()
        }
        let requested = try await checkedLimits(context: context)
        // The files first (lstat only, then the limits, then reading), then the language and entry they mean.
        let local: LocalSubmission
        do { local = try LocalSubmission.read(files, limits: settings.submissionLimits, followSymlinks: followSymlinks) } catch {
            // `run app.js one`: a later word that is no file is most likely meant for the program.
            if case .missingFile(let missing) = error, missing != files[0], FileSystem.isFile(files[0]) {
                throw .usage(
                    "\(error.description); arguments for the program go after `--`: coderunner run \(files[0]) -- \(files.dropFirst().joined(separator: " "))"
                )
            }
            throw .usage(error.description)
        }
        let choice: EntryChoice
        do { choice = try local.choose(catalog: context.catalog, language: lang?.name, entry: entry) } catch { throw .usage(error.description) }
        if let note = choice.note { Terminal.err("coderunner: \(note) (--entry chooses another)\n") }
        let runtime = choice.runtime
        let submission: Submission
        do { submission = try Submission(files: local.files, entry: choice.entry, limits: settings.submissionLimits) } catch {
            throw .usage(error.description)
        }
        let defaultLimits: RunLimits
        do { defaultLimits = try settings.limits(for: runtime, configuration: context.configuration) } catch { throw .usage(error.description) }
        var limits = defaultLimits
        if let value = requested.timeout { limits.timeout = value }
        if let value = requested.outputLimit { limits.outputLimitBytes = value }
        if let value = requested.memory { limits.memoryBytes = value }
        if let value = requested.cpus { limits.cpus = value }
        guard limits.memoryBytes >= LimitOptions.minimumMemoryBytes else {
            throw .usage(
                "the memory limit \(Quantity.formatBytes(limits.memoryBytes)) (runtime.\(runtime.language).memory) is under Docker's minimum of 6m")
        }
        if let zero = limits.zeroLimit { throw .usage("\(zero) is not a limit: give a value above 0 (--timeout 2s, --output-limit 1m)") }
        let sessionName = Self.sessionName(session, environment: context.environment)
        if let sessionName {
            do { try SessionName.validate(sessionName) } catch { throw .usage(error.description) }
        }
        // --ttl was checked in validate() (only with a session, 1s to 24h).
        let runner = try context.codeRunner(join: join, containerTTL: ttl?.value)
        RunTrace.mark("settings and submission loaded")
        var request = RunRequest(
            submission: submission, runtime: runtime, arguments: programArguments, environment: env,
            limits: limits, session: sessionName, fresh: fresh, useStandby: sessionName == nil)
        let backlog = InputBacklog()
        request.inputBacklog = backlog
        request.onNotice = { notice in Terminal.status("coderunner: \(notice)") }
        // Only standbys with the runtime's default container limits are kept (a run with other limits starts cold).
        let keepsStandby =
            sessionName == nil && runner.settings.standbyCount > 0
            && defaultLimits.memoryBytes == limits.memoryBytes && defaultLimits.cpus == limits.cpus && defaultLimits.pids == limits.pids
        // The next standby is prepared as soon as this run has its container, while the program runs, so that a CI
        // loop's next run finds it ready; the keeper keeps as many as recent runs need (`StandbyDemand`).
        let keeperStarted = Locked(false)
        if keepsStandby {
            StandbyDemand(language: runtime.language).recordRun()
            let language = runtime.language
            let configPath = global.config
            request.whenContainerReady = {
                let spawned = StandbyCommand.spawnKeeper(language: language, configPath: configPath, finishedRun: nil, keep: true)
                keeperStarted.withLock { $0 = spawned }
            }
        }

        signal(SIGPIPE, SIG_IGN)
        let (input, continuation) = AsyncStream<RunInput>.makeStream()
        let stdinReader = StdinForwarder(continuation: continuation, backlog: backlog)
        stdinReader.start()
        let interrupts = InterruptForwarder(continuation: continuation)
        interrupts.start()
        defer { interrupts.stop() }

        let collector = OutputCollector()
        let json = self.json
        // The end of what the build and program wrote on stderr, for `MissingFileHint`.
        let stderrTail = Locked<[UInt8]>([])
        // A one-shot run's container and network are removed by the detached keeper after this process has reported
        // the result (so the user sees it sooner); if the keeper cannot be started, they are removed here.
        let (result, leftToRemove) = await runner.run(request, input: input, deferringCleanup: sessionName == nil) { event in
            guard case .output(let stream, let bytes) = event else { return }
            if stream == .stderr {
                stderrTail.withLock { tail in
                    tail += bytes
                    if tail.count > 65536 { tail.removeFirst(tail.count - 65536) }
                }
            }
            if json {
                await collector.append(stream, bytes)
            } else {
                Terminal.program(bytes, to: stream == .stdout ? 1 : 2)
            }
        }
        continuation.finish()
        // A run that never got its container started no keeper: one starts now (to keep a standby unless coderunner
        // itself failed); the one started earlier only keeps standbys, so this run's container and network need another.
        let keep = keepsStandby && result.status != .internalError && !keeperStarted.withLock { $0 }
        if keep || leftToRemove != nil {
            let spawned = StandbyCommand.spawnKeeper(language: runtime.language, configPath: global.config, finishedRun: leftToRemove, keep: keep)
            if !spawned, let leftToRemove { await runner.removeOneShotResources(leftToRemove) }
        }
        if json {
            Terminal.out(await collector.json(result: result) + "\n")
        } else if let line = result.summaryLine {
            Terminal.status(line)
        }
        if !json, result.status == .compileError || result.status == .runtimeError, files.allSatisfy(FileSystem.isFile) {
            let entryPath = files.first { FilePath.baseName($0) == FilePath.baseName(submission.entry) } ?? files[0]
            let folder = FilePath.directory(of: entryPath)
            if let hint = MissingFileHint.hint(
                stderr: String(decoding: stderrTail.withLock { $0 }, as: UTF8.self), language: runtime.language,
                entry: FilePath.baseName(entryPath), sent: files, folderEntries: Set(FileSystem.listDirectory(folder)), folder: folder)
            {
                Terminal.status("coderunner: \(hint)")
            }
        }
        RunTrace.mark("result reported")
        return result.processExitCode
    }
}
