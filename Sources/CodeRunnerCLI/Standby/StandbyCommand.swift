import ArgumentParser
import CodeRunnerCore
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// `coderunner standby LANGUAGE`: the process a one-shot `run` leaves behind. It first removes the container and network
/// of the run that started it (`--remove-container`, `--remove-network`: the run reported its result without waiting
/// for that) and what killed runs and keepers left (`GarbageCollector.collectWhatDeadProcessesLeft`), then, unless
/// `--no-keep`, makes the standby containers of `run.standby` for the runtime's default limits
/// (see CodeRunnerCore's Standby.swift), waits until each is claimed and removed or has expired, and removes its
/// network. Hidden: `run` starts it, detached; a person never needs to.
struct StandbyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "standby",
        abstract: "Clean up after a one-shot run and keep a started container ready for the next one (started by `run`).",
        shouldDisplay: false)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Language.") var language: LanguageArgument
    @Option(help: "A finished one-shot run's container to remove first.") var removeContainer: String?
    @Option(help: "A finished one-shot run's network to remove first.") var removeNetwork: String?
    @Flag(help: "Only remove the finished run's container and network; keep no standby.") var noKeep = false

    func run() async throws {
        // Preparing the next run's container must not take CPU from the programs running now.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            let runner = try context.codeRunner()
            let finishedRun = OneShotResources(containerID: removeContainer, networkID: removeNetwork)
            let keep = !noKeep
            let language = self.language
            // Told to stop (a CI runner cleaning up, a logout): finish removing the run's resources (in a task of its
            // own, so the stop does not cancel those engine calls) and remove the unclaimed standbys instead of leaving
            // their networks behind.
            let keeping = Task {
                await Task {
                    await runner.removeOneShotResources(finishedRun)
                    // Then what killed runs and keepers left (see collectWhatDeadProcessesLeft).
                    _ = try? await GarbageCollector(engine: runner.engine, settings: runner.settings)
                        .collectWhatDeadProcessesLeft(olderThan: runner.settings.containerTTL)
                }.value
                guard keep, !Task.isCancelled else { return [String]() }
                let (runtime, limits) = try context.runtimeWithDefaultLimits(language, runner: runner)
                return try await runner.keepStandby(runtime: runtime, limits: limits)
            }
            let stops = [SIGTERM, SIGHUP, SIGINT].map { signalNumber in
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber)
                source.setEventHandler { keeping.cancel() }
                source.resume()
                return source
            }
            defer { stops.forEach { $0.cancel() } }
            do { _ = try await keeping.value } catch {
                throw CommandFailure.internalFailure("could not prepare a standby container: \(error)")
            }
        }
    }

    /// Starts a keeper for `language` in its own session (no terminal, no signals from ours), with stdio on /dev/null,
    /// and does not wait for it. Returns false when it could not be started (the caller then removes `finishedRun`
    /// itself; without a standby the next run simply starts cold).
    static func spawnKeeper(language: String, configPath: String?, finishedRun: OneShotResources?, keep: Bool) -> Bool {
        var arguments = ["coderunner", "standby", language]
        if let configPath { arguments += ["--config", configPath] }
        if let container = finishedRun?.containerID { arguments += ["--remove-container", container] }
        if let network = finishedRun?.networkID { arguments += ["--remove-network", network] }
        if !keep { arguments.append("--no-keep") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in Int32(0)...2 {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        // Nothing else may pass to the keeper: a caller's pipe end inherited without close-on-exec (Foundation's
        // Process leaves such descriptors in its children) would keep that caller waiting for end-of-file until the
        // keeper exits. This process starts no other program, so marking all its descriptors close-on-exec costs nothing.
        markDescriptorsCloseOnExec()
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc 2.26+) is only declared under _GNU_SOURCE, which Swift's Glibc module does not set.
        let setSID: Int32 = 0x80
        posix_spawnattr_setflags(&attributes, Int16(setSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        // SIGINT, SIGTERM and SIGHUP stay ignored, as `run` has them: a stop that arrives before the keeper has set up its
        // own handling must not kill it before it has removed the finished run's container and network.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        return posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, environ) == 0
    }

    static func markDescriptorsCloseOnExec() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name), fd > 2, fd != own else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}
