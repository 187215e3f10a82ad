import CodeRunnerCore
import CodeRunnerServer

#if canImport(Glibc)
import Glibc
#endif

/// A `serve` instance in this process on a free port (port 0), for tests. Stopping it runs the graceful shutdown.
public final class TestServer: Sendable {
    public let server: CodeRunnerHTTPServer
    public let port: Int
    public let task: Task<Void, any Error>

    private init(server: CodeRunnerHTTPServer, port: Int, task: Task<Void, any Error>) {
        self.server = server
        self.port = port
        self.task = task
    }

    /// The server, not started: for tests that drive its application directly (HummingbirdTesting). Settings as `start`.
    public static func makeServer(
        runner: CodeRunner, catalog: RuntimeCatalog, configuration base: Configuration, overrides: [String: String] = [:]
    ) throws -> CodeRunnerHTTPServer {
        // No ready sessions (server.standby) unless a test asks: they hold containers and networks while the server
        // runs, which tests that check a closed connection left nothing behind would count.
        var values = ["server.host": "127.0.0.1", "server.port": "0", "server.logLevel": "warning", "server.standby": ""]
        for (key, value) in overrides { values[key] = value }
        var configuration = base
        for (key, value) in values { try configuration.set(key, value, source: .flag) }
        let settings = try ServerSettings(configuration)
        let context = ServerContext(
            runner: runner, catalog: catalog, configuration: configuration,
            settings: settings, logger: settings.makeLogger(label: "coderunner.serve.test"))
        return CodeRunnerHTTPServer(context: context)
    }

    /// A server on `runner` (a Docker engine, or `InMemoryEngine`) with the runtimes of `catalog`. `overrides` are
    /// server settings by key, e.g. ["server.token": "secret", "server.maxConcurrentRuns": "1"].
    public static func start(
        runner: CodeRunner, catalog: RuntimeCatalog, configuration base: Configuration,
        overrides: [String: String] = [:]
    ) async throws -> TestServer {
        signal(SIGPIPE, SIG_IGN)
        let server = try makeServer(runner: runner, catalog: catalog, configuration: base, overrides: overrides)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task {
            defer { continuation.finish() }  // a server that fails to start ends the wait below
            try await server.run { port in continuation.yield(port) }
        }
        var port = 0
        for await value in ports {
            port = value
            break
        }
        guard port > 0 else {
            try await task.value  // throws why it did not start
            throw TestFailure("the server did not start")
        }
        return TestServer(server: server, port: port, task: task)
    }

    public func stop() async throws {
        server.shutdown()
        try await task.value
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }
}
