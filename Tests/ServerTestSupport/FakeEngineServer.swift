import CodeRunnerCore
import CodeRunnerServer
import CodeRunnerTesting

/// The set-up every `serve` test on `InMemoryEngine` shares: the fake Python runtime, pools 10.64.0.0/12 and no ready
/// networks, unless `settings` (engine settings by key, e.g. `server.instance`) says otherwise; `overrides` are the
/// server's settings, as in `TestServer.start`.
extension TestServer {
    public static func start(
        on engine: InMemoryEngine, settings: [String: String] = [:], overrides: [String: String] = [:]
    ) async throws -> TestServer {
        let (runner, configuration) = try fakeEngineRunner(engine, settings: settings)
        return try await start(runner: runner, catalog: fakeCatalog, configuration: configuration, overrides: overrides)
    }

    /// The server on `engine`, not started (HummingbirdTesting drives its application).
    public static func makeServer(
        on engine: InMemoryEngine, settings: [String: String] = [:], overrides: [String: String] = [:]
    ) throws -> CodeRunnerHTTPServer {
        let (runner, configuration) = try fakeEngineRunner(engine, settings: settings)
        return try makeServer(runner: runner, catalog: fakeCatalog, configuration: configuration, overrides: overrides)
    }

    static var fakeCatalog: RuntimeCatalog { RuntimeCatalog(runtimes: [FakeRuntimes.python]) }

    static func fakeEngineRunner(_ engine: InMemoryEngine, settings: [String: String]) throws -> (CodeRunner, Configuration) {
        var configuration = Configuration()
        configuration.addRuntimeDefaults([FakeRuntimes.python.manifest])
        let values = ["network.pools": "10.64.0.0/12", "network.ready": "0"].merging(settings) { _, asked in asked }
        for (key, value) in values { try configuration.set(key, value, source: .environment) }
        return (try CodeRunner(engine: engine, settings: try EngineSettings(configuration)), configuration)
    }
}
