import CodeRunnerCore
import CodeRunnerDocker
import CodeRunnerServer

#if canImport(Glibc)
import Glibc
#endif

/// Configuration, runtimes and the engine, loaded once per command in the documented order
/// (defaults < config file < CODERUNNER_* environment < flags).
struct AppContext {
    var configuration: Configuration
    var catalog: RuntimeCatalog
    var runtimesDirectory: String
    var environment: [String: String]

    static func load(options: GlobalOptions) throws(CommandFailure) -> AppContext {
        let environment = Terminal.environment()
        var configuration: Configuration
        do {
            configuration = try Configuration.load(explicitFile: options.config, environment: environment, manifests: [])
        } catch {
            throw .usage(error.description)
        }
        let directory: String
        let catalog: RuntimeCatalog
        do {
            let explicit = configuration.string("runtimes.dir")
            directory = try RuntimeCatalog.locateDirectory(explicit: explicit.isEmpty ? nil : explicit, executablePath: Terminal.executablePath())
            var overrides: [String: String] = [:]
            for (key, entry) in configuration.sortedEntries where key.hasPrefix("runtime.") && key.hasSuffix(".image") {
                overrides[String(key.dropFirst(8).dropLast(6))] = entry.value
            }
            catalog = try RuntimeCatalog.load(from: directory, imageOverrides: overrides)
        } catch {
            throw .internalFailure(error.description)
        }
        configuration.addRuntimeDefaults(catalog.runtimes.map(\.manifest))
        return AppContext(configuration: configuration, catalog: catalog, runtimesDirectory: directory, environment: environment)
    }

    func settings() throws(CommandFailure) -> EngineSettings {
        do { return try EngineSettings(configuration) } catch { throw .usage(error.description) }
    }

    func containerEngine() throws(CommandFailure) -> DockerContainerEngine {
        do {
            // Errors name the address and, when it was not the default, what chose it (DOCKER_HOST, the config file).
            let host = configuration.string("docker.host")
            var description = host
            if let entry = configuration.entry("docker.host"), entry.source != .defaultValue {
                description += ", set by \(entry.origin ?? entry.source.description)"
            }
            return try DockerContainerEngine(
                host: host, requestTimeout: try configuration.duration("engine.timeout"), description: description)
        } catch let error as ConfigurationError {
            throw .usage(error.description)
        } catch {
            throw .usage("\(error)")
        }
    }

    /// Checks every effective value exactly as the commands that use it do (the engine's settings, each runtime's
    /// limits, the server's settings, the Docker host and timeout) and fails with the same message, so `config` and
    /// `doctor` report a bad value where `run` or `serve` would refuse it.
    func validateEveryValue() throws(CommandFailure) {
        let settings = try settings()
        _ = try containerEngine()
        for runtime in catalog.runtimes {
            do { _ = try settings.limits(for: runtime, configuration: configuration) } catch { throw .usage(error.description) }
        }
        do { _ = try ServerSettings(configuration) } catch { throw .usage(error.description) }
    }

    /// The engine; `join` lets it run in named sessions another user or job created (`--join`).
    func codeRunner(join: Bool = false, containerTTL: Duration? = nil) throws(CommandFailure) -> CodeRunner {
        do {
            var settings = try settings()
            settings.sessionCreator = SessionCreator.current(environment: environment)
            settings.joinOtherCreators = join
            if let containerTTL { settings.containerTTL = containerTTL }
            return try CodeRunner(engine: try containerEngine(), settings: settings)
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw .usage("\(error)")
        }
    }

    /// A runtime by name or alias and its configured default limits; an unknown name is a usage error.
    func runtimeWithDefaultLimits(_ language: LanguageArgument, runner: CodeRunner) throws(CommandFailure) -> (runtime: Runtime, limits: RunLimits) {
        do {
            let runtime = try language.runtime(in: catalog)
            return (runtime, try runner.settings.limits(for: runtime, configuration: configuration))
        } catch { throw .usage("\(error)") }
    }

    /// The static agent binary copied into runtime images: $CODERUNNER_AGENT, next to the installed binary, or the checkout's build.
    func agentBinaryPath() -> String {
        if let explicit = environment["CODERUNNER_AGENT"], !explicit.isEmpty { return explicit }
        var candidates: [String] = []
        if let exe = Terminal.executablePath() {
            let bin = FilePath.directory(of: exe)
            candidates.append(bin + "/../lib/coderunner/coderunner-agent")
        }
        candidates.append(FilePath.directory(of: runtimesDirectory) + "/.build-agent/release/coderunner-agent")
        for candidate in candidates where access(candidate, X_OK) == 0 { return FilePath.normalize(candidate) }
        return FilePath.normalize(candidates.last!)
    }

    func baseImage() -> String? {
        if let base = environment["CODERUNNER_BASE_IMAGE"] { return base.isEmpty ? nil : base }
        return "coderunner/base:bookworm"
    }
}
