import ArgumentParser
import CodeRunnerCore
import CodeRunnerServer
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the engine over HTTP and WebSocket: web page, JSON protocol, Socket.IO, REST, health and metrics.",
        discussion: """
            Routes: / (the web page), /ws (native JSON protocol), /socket.io/?EIO=4&transport=websocket (Socket.IO v4 with \
            the original implementation's events), POST /api/run (one-shot run, `run --json` fields), GET /health, GET /metrics \
            (Prometheus). The protocol is documented in Sources/CodeRunnerServer/PROTOCOL.md.

            One WebSocket connection is one session: its network and containers are created by its first run and removed \
            as soon as it disconnects. Resources of a server that was killed are collected by the next server's start-up \
            sweep (and by `coderunner net gc`). SIGTERM or Ctrl-C shuts down gracefully: no new connections, runs stopped, \
            every session cleaned up; a second signal exits at once.

            Protection: server.token (CODERUNNER_SERVER_TOKEN) requires `Authorization: Bearer <token>` or ?token= on every \
            route and socket; server.allowedOrigins lists the web origins allowed to open sockets; per-client, per-session \
            and global caps answer with a `busy` error instead of queueing.

            Examples:
              coderunner serve
              coderunner serve --host 0.0.0.0 --port 8080
              CODERUNNER_SERVER_TOKEN=secret coderunner serve
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Address to listen on (default: server.host, 127.0.0.1).", valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("Port to listen on; 0 picks a free one (default: server.port, 8080).", valueName: "port"))
    var port: Int?

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port takes 0...65535") }
    }

    func run() async throws {
        try await withFailureHandling { try await serve() }
    }

    func serve() async throws(CommandFailure) {
        signal(SIGPIPE, SIG_IGN)
        let context = try AppContext.load(options: global)
        var settings: ServerSettings
        do { settings = try ServerSettings(context.configuration) } catch { throw .usage(error.description) }
        if let host { settings.host = host }
        if let port { settings.port = port }
        let unknown = ServerContext.unknownStandbyLanguages(settings, catalog: context.catalog)
        if !unknown.isEmpty {
            throw .usage(
                "server.standby names \(unknown.joined(separator: ", ")), which no runtime answers to; languages: "
                    + context.catalog.runtimes.map(\.language).joined(separator: ", "))
        }
        let runner = try context.codeRunner()
        let logger = settings.makeLogger()
        let server = CodeRunnerHTTPServer(
            context: ServerContext(
                runner: runner, catalog: context.catalog, configuration: context.configuration, settings: settings, logger: logger))
        let escalation = SecondSignalExit()
        escalation.start()
        defer { escalation.stop() }
        let shownHost = settings.host.contains(":") ? "[\(settings.host)]" : settings.host
        do {
            try await server.run(gracefulShutdownSignals: [.sigterm, .sigint]) { port in
                Terminal.out("coderunner serve: listening on http://\(shownHost):\(port)/\n")
            }
        } catch {
            throw .internalFailure("the server could not run: \(error); is the port already in use? pick another with --port")
        }
    }
}
