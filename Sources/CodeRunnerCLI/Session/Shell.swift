// Over 400 lines on purpose: the shell is one state machine (kernel, language, input mode, history) whose meta commands
// all read and change that state; its output and file helpers live in ShellOutput.swift.

import CodeRunnerCore
import Dispatch
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The session shell: reads cells (libedit on a terminal, stdin otherwise), runs them on a kernel, handles meta commands.
final class Shell: @unchecked Sendable {
    let runner: CodeRunner
    let catalog: RuntimeCatalog
    let configuration: Configuration
    var limits: RunLimits
    let sessionName: String
    let keepSession: Bool
    let interactive: Bool
    var showTiming: Bool
    let environment: [String: String]
    /// Piped input runs meta commands only when asked (`--meta-commands`), and then its file commands are confined
    /// to the current folder: a cell file from someone else must not read or write the host's files.
    let pipedMetaCommands: Bool
    var confineFiles: Bool { !interactive }
    var kernel: KernelSession?
    var runtime: Runtime?
    /// Every language's kernel started so far, kept for the life of the shell: `:lang` back to one finds its state.
    var kernels: [String: KernelSession] = [:]
    var anyFailed = false
    let output = ShellOutput()
    /// Ctrl-C while a cell runs: interrupt; a second one within 2 s: restart the kernel.
    var lastInterrupt: ContinuousClock.Instant?

    init(
        runner: CodeRunner, catalog: RuntimeCatalog, configuration: Configuration, limits: RunLimits, sessionName: String,
        keepSession: Bool, interactive: Bool, showTiming: Bool, environment: [String: String], pipedMetaCommands: Bool
    ) {
        self.runner = runner
        self.catalog = catalog
        self.configuration = configuration
        self.limits = limits
        self.sessionName = sessionName
        self.keepSession = keepSession
        self.interactive = interactive
        self.showTiming = showTiming
        self.environment = environment
        self.pipedMetaCommands = pipedMetaCommands
    }

    static let metaCommands = [":help", ":lang", ":load", ":put", ":get", ":files", ":reset", ":time", ":run", ":quit"]

    func run(startLanguage: Runtime) async throws -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        try await switchLanguage(to: startLanguage)
        let interrupts = installInterruptHandler()
        defer { interrupts.cancel() }
        if interactive {
            Terminal.err(
                Terminal.paint(
                    "coderunner session: \(startLanguage.manifest.displayName) in session \(sessionName). :help for commands, Ctrl-D to leave.", "2",
                    fd: 2) + "\n")
            try await interactiveLoop()
        } else {
            try await pipedLoop()
        }
        await finish()
        // Scripts learn about failed cells from the exit code; an interactive user saw them already.
        return anyFailed && !interactive ? 1 : 0
    }

    func interactiveLoop() async throws {
        let historyPath = historyFile()
        guard let editor = LineEditor(programName: "coderunner", historyPath: historyPath) else {
            throw CommandFailure.internalFailure("cannot initialise libedit")
        }
        LineEditor.completer = { [catalog, self] line in
            if line.hasPrefix(":") || kernel == nil {
                let word = String(line.split(separator: " ", omittingEmptySubsequences: false).last ?? "")
                return (word, Shell.completions(for: line, languages: catalog.languageNames))
            }
            return (Shell.codeWord(line), kernelCompletions(line))
        }
        var lines: [String] = []
        while true {
            let language = runtime?.language ?? "?"
            let prompt = lines.isEmpty ? "\(language)> " : String(repeating: " ", count: max(0, language.count - 2)) + "... "
            guard let line = await editor.readLine(prompt: prompt) else {
                if !lines.isEmpty {
                    lines = []
                    Terminal.out("\n")
                    continue
                }
                Terminal.out("\n")
                return
            }
            if lines.isEmpty && line.trimmingCharacters(in: " \t").hasPrefix(":") {
                editor.remember(line)
                if try await meta(line) == .quit { return }
                continue
            }
            lines.append(line)
            let splitter = CellSplitter(language: language)
            if splitter.needsMore(lines) { continue }
            let cell = lines.joined(separator: "\n")
            lines = []
            if cell.trimmingCharacters(in: " \t\n").isEmpty { continue }
            editor.remember(cell)
            await execute(cell)
        }
    }

    func pipedLoop() async throws {
        var input: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            input += buffer[0..<count]
        }
        // Cells are cut one at a time, as typing would cut them (meta commands, when on, are lines of their own). The
        // rest of the stream is the cell's stdin, as for a REPL reading a pipe: what the cell reads (`input()`) is
        // its input, and the shell goes on after it.
        var rest = input[...]
        while let unit = CellSplitter(language: runtime?.language ?? "python").next(in: &rest, metaCommands: pipedMetaCommands) {
            switch unit {
            case .meta(let line):
                if try await meta(line) == .quit { return }
            case .cell(let cell):
                let read = await execute(cell, input: .given(Array(rest.prefix(KernelSession.maxCellInputBytes))))
                rest = rest.dropFirst(Int(clamping: read))
            }
        }
    }

    /// Runs a cell; returns how many bytes of `input` it read. Without `input` the interactive shell's cell reads
    /// what the user types while it runs (piped, it reads EOF).
    @discardableResult
    func execute(_ code: String, input: KernelSession.CellInput? = nil) async -> UInt64 {
        guard let kernel else {
            Terminal.status("coderunner: no kernel is running; use :lang or :reset")
            anyFailed = true
            return 0
        }
        await output.begin()
        let cellInput = input ?? (interactive ? .live : .none)
        let relay = input == nil && interactive ? CellInputRelay() : nil
        let relaying = relay?.start(kernel: kernel)
        let outcome: Result<CellResult, any Error>
        do {
            outcome = .success(try await kernel.execute(code, timeout: limits.timeout, input: cellInput))
        } catch {
            outcome = .failure(error)
        }
        await relay?.stop()
        await relaying?.value
        let result: CellResult
        switch outcome {
        case .success(let value): result = value
        case .failure(let error):
            Terminal.status("coderunner: \(error)")
            anyFailed = true
            return 0
        }
        await output.end()
        switch result.status {
        case .ok: break
        case .error: anyFailed = true
        case .interrupted:
            anyFailed = true
            if interactive { Terminal.err(Terminal.paint("interrupted", "33", fd: 2) + "\n") }
        case .timeout:
            anyFailed = true
            Terminal.status(
                "coderunner: the cell ran longer than \(Quantity.formatDuration(limits.timeout)) and was stopped (the kernel was restarted if it did not stop)"
            )
        case .outputLimit:
            anyFailed = true
            Terminal.status(
                "coderunner: the cell printed more than \(Quantity.formatBytes(limits.outputLimitBytes)) (text and rich output together); its output was cut"
            )
        case .kernelDied:
            anyFailed = true
            Terminal.status("coderunner: the kernel died; it restarts with the next input (state is lost)")
        }
        if showTiming { Terminal.err(Terminal.paint("[\(Format.fixed(result.wallMilliseconds, digits: 1)) ms]", "2", fd: 2) + "\n") }
        return result.inputBytesRead
    }

    enum MetaOutcome { case handled, quit }

    func meta(_ line: String) async throws -> MetaOutcome {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let argument = parts.dropFirst().joined(separator: " ")
        switch parts.first ?? "" {
        case ":quit", ":q", ":exit":
            return .quit
        case ":help", ":h", ":?":
            Terminal.out(
                """
                :help             this list
                :lang LANGUAGE    switch language; each language keeps its kernel and state (\(catalog.runtimes.filter { $0.manifest.kernel != nil }.map(\.language).joined(separator: ", ")))
                :load FILE        run a local file's contents in the kernel
                :put FILE [AS]    copy a local file into the session's workspace
                :get FILE [TO]    copy a file from the workspace to the local directory
                :files            list the workspace
                :run FILE         run a local program file as `coderunner run` would, in the kernel's work dir (:files sees what it wrote)
                :reset            restart the kernel (state is lost, files stay)
                :time             toggle per-cell timing
                :quit             leave (also Ctrl-D)

                """)
        case ":time":
            showTiming.toggle()
            Terminal.out("timing \(showTiming ? "on" : "off")\n")
        case ":reset":
            do {
                try await kernel?.restart()
                Terminal.out("kernel restarted\n")
            } catch { fail("\(error)") }
        case ":lang":
            do {
                let target = try catalog.runtime(named: argument)
                let resumed = kernels[target.language] != nil && target.language != runtime?.language
                try await switchLanguage(to: target)
                Terminal.out("now \(runtime?.manifest.displayName ?? argument)\(resumed ? " (its kernel kept its state)" : "")\n")
            } catch { fail("\(error)") }
        case ":load":
            guard let path = localPath(argument), let bytes = readLocal(path) else { return .handled }
            await execute(String(decoding: bytes, as: UTF8.self))
        case ":put":
            guard parts.count >= 2, let kernel, let path = localPath(parts[1]), let bytes = readLocal(path) else {
                if parts.count < 2 { fail(":put FILE [AS]") }
                return .handled
            }
            let target = parts.count >= 3 ? parts[2] : FilePath.baseName(parts[1])
            do {
                try Submission.validate(path: target)
                try await Workspace(engine: runner.engine, containerID: kernel.containerID).put(target, contents: bytes)
                Terminal.out("put \(target) (\(bytes.count) bytes)\n")
            } catch { fail("\(error)") }
        case ":get":
            guard parts.count >= 2, let kernel else {
                fail(":get FILE [TO]")
                return .handled
            }
            do {
                try Submission.validate(path: parts[1])
                let bytes = try await Workspace(engine: runner.engine, containerID: kernel.containerID).get(parts[1])
                let target = parts.count >= 3 ? parts[2] : FilePath.baseName(parts[1])
                let destination = confineFiles ? try ConfinedPath.newFile(target) : target
                try HostFile.create(destination, bytes)
                Terminal.out("got \(target) (\(bytes.count) bytes)\n")
            } catch { fail("\(error)") }
        case ":files":
            guard let kernel else { return .handled }
            do {
                let entries = try await Workspace(engine: runner.engine, containerID: kernel.containerID).list()
                if entries.isEmpty { Terminal.out("(the workspace is empty)\n") }
                for entry in entries { Terminal.out("\(entry.size)\t\(entry.path)\n") }
            } catch { fail("\(error)") }
        case ":run":
            guard let path = localPath(argument) else { return .handled }
            // A folder's files are read following their symlinks (Submission), so confined input runs single files.
            if confineFiles && FileSystem.isDirectory(path) {
                fail("with piped input :run takes one file, not a folder")
                return .handled
            }
            await runFile(path)
        default:
            fail("unknown command \(parts.first ?? line); :help lists them")
        }
        return .handled
    }

    func runFile(_ path: String) async {
        do {
            let settings = runner.settings
            let runtime = try catalog.runtime(forFile: path)
            let submission = try Submission.fromLocalPaths([path], limits: settings.submissionLimits)
            var limits = try settings.limits(for: runtime, configuration: configuration)
            limits.memoryBytes = max(limits.memoryBytes, self.limits.memoryBytes)
            let request = RunRequest(
                submission: submission, runtime: runtime, arguments: [], environment: [], limits: limits,
                session: sessionName, fresh: false, processOwned: !keepSession)
            let show: @Sendable (RunEvent) async -> Void = { event in
                if case .output(let stream, let bytes) = event { Terminal.program(bytes, to: stream == .stdout ? 1 : 2) }
            }
            // A file of the current kernel's language runs in its container, so `:files` and `:get` see what it wrote.
            let result: RunResult
            if let kernel, runtime.language == self.runtime?.language {
                result = await runner.runBesideKernel(request, containerID: kernel.containerID, input: nil, onEvent: show)
            } else {
                result = await runner.run(request, input: nil, onEvent: show)
            }
            if let line = result.summaryLine {
                Terminal.status(line)
                anyFailed = true
            }
        } catch {
            fail("\(error)")
        }
    }

    func fail(_ message: String) {
        Terminal.status("coderunner: \(message)")
        anyFailed = true
    }

    /// A local file a meta command names; with piped input it must resolve inside the current folder.
    func localPath(_ path: String) -> String? {
        guard !path.isEmpty else {
            fail("give a file name")
            return nil
        }
        guard confineFiles else { return path }
        do { return try ConfinedPath.existing(path) } catch {
            fail("\(error)")
            return nil
        }
    }

    func readLocal(_ path: String) -> [UInt8]? {
        guard !path.isEmpty else {
            fail("give a file name")
            return nil
        }
        guard let bytes = FileSystem.readFile(path, limit: 256 << 20) else {
            fail("cannot read \(path)")
            return nil
        }
        return bytes
    }

    func switchLanguage(to newRuntime: Runtime) async throws {
        guard newRuntime.manifest.kernel != nil else {
            throw CommandFailure.usage(
                KernelError.noKernel(
                    language: newRuntime.language, available: catalog.runtimes.filter { $0.manifest.kernel != nil }.map(\.language)
                ).description)
        }
        // The current kernel keeps running (and its state) while another language is used.
        if let kept = kernels[newRuntime.language] {
            kernel = kept
            runtime = newRuntime
            return
        }
        kernel = nil
        var languageLimits = limits
        if let defaults = try? runner.settings.limits(for: newRuntime, configuration: configuration) {
            languageLimits.memoryBytes = max(limits.memoryBytes, defaults.memoryBytes)
        }
        let output = self.output
        do {
            let started = try await KernelSession.start(
                runner: runner, session: sessionName, runtime: newRuntime, limits: languageLimits, processOwned: !keepSession
            ) { event in await output.handle(event) }
            kernel = started
            kernels[newRuntime.language] = started
        } catch {
            throw CommandFailure.internalFailure("\(error)")
        }
        runtime = newRuntime
    }

    func installInterruptHandler() -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in
            guard let self else { return }
            Task { await self.interrupted() }
        }
        source.resume()
        return source
    }

    func interrupted() async {
        guard let kernel, await output.isRunning else { return }
        let now = ContinuousClock.now
        if let last = lastInterrupt, now - last < .seconds(2) {
            Terminal.err("\nrestarting the kernel\n")
            try? await kernel.restart()
        } else {
            await kernel.interrupt()
            // A program that ignores the interrupt keeps running: say what the second Ctrl-C does.
            let cell = await output.cellNumber
            Task {
                try? await Task.sleep(for: .milliseconds(500))
                if await self.output.isRunning(cell: cell), self.lastInterrupt == now {
                    Terminal.err(
                        Terminal.paint("\nthe cell is still running; Ctrl-C again within 2 s restarts the kernel (its state is lost)", "33", fd: 2)
                            + "\n")
                }
            }
        }
        lastInterrupt = now
    }

    func finish() async {
        for kept in kernels.values { await kept.shutdown() }
        if !keepSession { try? await runner.endSession(sessionName) }
    }

    func historyFile() -> String? {
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        let directory = (environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/state") + "/coderunner"
        _ = FileSystem.makeDirectories(directory)
        return directory + "/history"
    }

    /// The identifier (with its attribute path) before the cursor: what a kernel's completions replace.
    static func codeWord(_ line: String) -> String {
        String(line.reversed().prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "$" }.reversed())
    }

    /// The kernel's names for the end of `line`, waited for on libedit's own thread (the kernel answers within a second).
    func kernelCompletions(_ line: String) -> [String] {
        guard let kernel else { return [] }
        let answer = Locked<[String]>([])
        let done = DispatchSemaphore(value: 0)
        Task {
            let names = await kernel.complete(line)
            answer.withLock { $0 = names }
            done.signal()
        }
        _ = done.wait(timeout: .now() + .milliseconds(1500))
        return answer.withLock { $0 }
    }

    static func completions(for line: String, languages: [String]) -> [String] {
        let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if words.count <= 1 { return line.hasPrefix(":") ? metaCommands : [] }
        switch words[0] {
        case ":lang": return languages
        case ":load", ":put", ":run": return LocalFiles.completions(for: words.last ?? "")
        default: return []
        }
    }
}
