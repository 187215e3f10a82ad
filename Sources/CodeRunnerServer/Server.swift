import CodeRunnerCore
import FoundationEssentials
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Request context of every route: Hummingbird's core storage, the WebSocket hook, and the peer's address (for the
/// per-client session limit).
public struct ServerRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    let webSocketHolder = WebSocketReferenceHolder()
    public var webSocket: WebSocketHandlerReference<Self> { webSocketHolder.reference }
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// Breaks a retain cycle in hummingbird-websocket 2.8.1: an upgraded route stores its handler together with a copy of the
/// request context in the box `webSocket` refers to, and that copy refers to the box again, so every WebSocket
/// connection's context (logger, metadata, channel info: about 1.3 KB) stayed in memory for the life of the server.
/// The context reaches the box only through this holder, and each WebSocket handler calls `release()` as it starts
/// (the upgrade has already taken the handler out of the box by then), which leaves nothing pointing back.
final class WebSocketReferenceHolder: Sendable {
    private let slot = Mutex<WebSocketHandlerReference<ServerRequestContext>?>(WebSocketHandlerReference())

    /// The box the router fills on upgrade; after `release()` an empty one (nothing reads it then).
    var reference: WebSocketHandlerReference<ServerRequestContext> {
        slot.withLock { $0 } ?? WebSocketHandlerReference()
    }

    func release() { slot.withLock { $0 = nil } }
}

/// `coderunner serve`: HTTP + WebSocket on the engine. Routes: `/` (web page), `/ws` (native protocol),
/// `/socket.io/` (Socket.IO v4 over WebSocket), `POST /api/run`, `GET /health`, `GET /metrics`.
public final class CodeRunnerHTTPServer: Sendable {
    public let context: ServerContext

    public init(context: ServerContext) {
        self.context = context
    }

    /// The service group of a running server (nil before `run` made it and after it returned), and whether
    /// `shutdown()` came before it existed.
    private let lifecycle = Mutex<(group: ServiceGroup?, shutdownRequested: Bool)>((nil, false))
    /// The agent-check responder while the server runs (`server.agentCheckPort`).
    private let agentCheck = Mutex<AgentCheckService?>(nil)

    /// The port HAProxy's agent-check is answered on, once listening (nil when `server.agentCheckPort` is unset).
    public var agentCheckPort: Int? { agentCheck.withLock { $0 }?.boundPort.withLock { $0 } }

    /// Asks a running server to shut down gracefully (SIGTERM does this): stop accepting, stop runs, clean up sessions.
    public func shutdown() {
        let group = lifecycle.withLock { state -> ServiceGroup? in
            state.shutdownRequested = true
            return state.group
        }
        Task { await group?.triggerGracefulShutdown() }
    }

    /// Serves until `shutdown()` or one of `gracefulShutdownSignals` (then drains and returns), or until the listener
    /// fails (then throws). `onListening` gets the bound port, which is how tests using port 0 find the server.
    ///
    /// The server is four services (five with the agent-check responder) in one `ServiceGroup`, which shuts them down in reverse order: the standby refill
    /// stops first, then every session is closed and cleaned up (`SessionDrainService`), then the sweeps stop, and
    /// last the HTTP server, which by then has no WebSocket left to wait for.
    public func run(
        gracefulShutdownSignals: [UnixSignal] = [], onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        try await checkPoolsAreThisInstances()
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: buildApplication(onListening: onListening))]
        if let port = context.settings.agentCheckPort {
            let responder = AgentCheckService(context: context, port: port)
            agentCheck.withLock { $0 = responder }
            services.append(.init(service: responder))  // before the drain service: it says `drain` until the end
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services + [
                    .init(service: MaintenanceService(server: self)),
                    .init(service: SessionDrainService(context: context)),
                    .init(service: StandbyRefillService(server: self)),
                ],
                gracefulShutdownSignals: gracefulShutdownSignals,
                logger: context.logger))
        let shutdownAlready = lifecycle.withLock { state in
            state.group = group
            return state.shutdownRequested
        }
        defer { lifecycle.withLock { $0.group = nil } }
        if shutdownAlready { await group.triggerGracefulShutdown() }
        do {
            try await group.run()
            context.logger.notice("stopped")
        } catch {
            await context.standbys.removeAll()
            throw error
        }
    }

    /// The Hummingbird application: routes, WebSocket upgrade and limits (the seam tests build on).
    func buildApplication(onListening: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let settings = context.settings
        let logger = context.logger
        let router = buildRouter()
        let frameLimit = settings.maxMessageBytes * 2 + 64 * 1024
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: router,
                configuration: .init(ws: .init(maxFrameSize: frameLimit, autoPing: .enabled(timePeriod: .seconds(30))))),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "coderunner"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice(
                    "listening", metadata: ["host": "\(settings.host)", "port": "\(port)", "token": "\(settings.token.isEmpty ? "off" : "on")"])
                await onListening(port)
            },
            logger: settings.makeLogger(label: logger.label, quietCancellation: true))
    }

    /// The background upkeep, until shutdown: sweeps for what dead processes left, retries of failed clean-ups, and the
    /// ready networks topped up.
    func maintain() async {
        // The first repeat comes soon: a killed server's containers may still be going away during the start-up
        // sweep, and Docker refuses to remove a network with an endpoint left.
        var interval = min(.seconds(5), context.runner.settings.cleanupInterval)
        // The start-up sweep (what a killed predecessor left) runs here, while the server already listens: with
        // hundreds of leftovers it takes a minute, and sessions lease only networks Docker says are free meanwhile.
        await sweep(initial: true)
        await topUpReadyNetworks()
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            interval = context.runner.settings.cleanupInterval
            if Task.isCancelled { break }
            await sweep(initial: false)
            await retryFailedCleanups()
            await topUpReadyNetworks()
        }
    }

    /// Keeps `server.standby` sessions ready until cancelled, one made at a time and only while the host is idle
    /// (`ServerContext.hostIsIdle`); each is made in a task of its own, so a shutdown never interrupts one half made
    /// (`SessionStandbys.removeAll` then removes it).
    func keepStandbysReady() async {
        let standbys = context.standbys
        guard !standbys.wanted.isEmpty else { return }
        var failures = 0
        // Background work takes only idle CPU: no ready session is made while runs keep coming (`hostIsIdle`).
        let cpus = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        while !Task.isCancelled {
            if !context.hostIsIdle(cpus: cpus) {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            let made = await Task { await standbys.refillOnce() }.value
            let failed = await standbys.statistics.failed
            if failed > failures {
                failures = failed
                let reason = await standbys.lastError ?? "?"
                context.logger.warning("could not make a ready session; will retry in 5 s", metadata: ["error": "\(reason)"])
                try? await Task.sleep(for: .seconds(5))
            } else if !made {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Closed connections' sessions whose removal failed (the sweep collects only dead processes' leftovers, and this
    /// server is alive): tried again every sweep, so a failed removal never keeps a network leased for good.
    func retryFailedCleanups() async {
        let left = await context.cleanups.retryPending()
        if left > 0 { context.logger.warning("session clean-ups still failing; will retry", metadata: ["sessions": "\(left)"]) }
    }

    /// Networks ready for the next connections (network.ready), so a connection's first run leases one at once. Called
    /// from the background loop (never before the server listens: making eight networks takes most of a second).
    func topUpReadyNetworks() async {
        do {
            let made = try await context.runner.networks.topUp(markerImage: context.catalog.markerImage)
            if made > 0 { context.logger.info("session networks made ready", metadata: ["made": "\(made)"]) }
        } catch {
            context.logger.warning("could not make session networks ready; will retry", metadata: ["error": "\(error)"])
        }
    }

    func buildRouter() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: GuardMiddleware(context: context))
        addAdminRoutes(to: router)
        let context = self.context

        router.get("/") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: WebPage.html(codemirror: WebPage.codemirrorInstalled))))
        }
        router.get("/favicon.ico") { _, _ in VendorFiles.favicon() }
        router.get("/vendor/**") { request, _ in VendorFiles.response(path: request.uri.path) }
        // `/api/health` is the original server's name for the same check (its deployments probe it).
        for path in ["/health", "/api/health"] {
            router.get(RouterPath(path)) { _, _ in
                let (healthy, body) = await HealthCheck.run(context: context)
                return Self.json(body, status: healthy ? .ok : .serviceUnavailable)
            }
        }
        router.get("/metrics") { _, _ in
            let engine = context.runner.engine
            var gauges = ServerMetrics.EngineGauges()
            if let containers = try? await engine.containers(labeled: [ResourceLabel.managed]) {
                gauges.containers =
                    containers.filter { $0.labels[ResourceLabel.lease] == nil && $0.labels[ResourceLabel.networkCreating] == nil }.count
                for standby in containers
                where standby.labels[ResourceLabel.standby] != nil && !standby.name.hasSuffix(CodeRunner.claimedSuffix)
                    && standby.labels[ResourceLabel.serveStandby] == nil
                {
                    gauges.standbys[standby.labels[ResourceLabel.language] ?? "?", default: 0] += 1
                }
            }
            gauges.subnets = try? await engine.networks(labeled: [ResourceLabel.managed]).count
            if let occupancy = try? await context.runner.networks.occupancy() {
                gauges.networksReady = occupancy.ready
                gauges.networksLeased = occupancy.leased
            }
            gauges.leases = await context.runner.networks.statistics
            gauges.networksCreating = await context.runner.networks.creating
            gauges.cleanupsPending = await context.cleanups.pending.count
            gauges.readySessions = await context.standbys.counts
            gauges.readySessionStatistics = await context.standbys.statistics
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: context.metrics.render(gauges))))
        }
        router.post("/api/run") { request, requestContext in
            // A browser sends a cross-site POST without asking first only with a "simple" content type (text/plain,
            // form data): requiring JSON makes it preflight, and the origin rule refuses what another site sends anyway.
            let contentType = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters().lowercased() }
            guard contentType == "application/json" else {
                context.metrics.protocolError()
                return Self.json(
                    RestError(code: "bad-content-type", message: "send the run as JSON with 'Content-Type: application/json'"),
                    status: .unsupportedMediaType)
            }
            do throws(HTTPError) { try Self.checkOrigin(request, settings: context.settings) } catch {
                context.metrics.protocolError()
                return Self.json(RestError(code: "forbidden-origin", message: error.body ?? "this origin may not use the server"), status: .forbidden)
            }
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: context.settings.maxMessageBytes) } catch {
                return Self.json(
                    RestError(
                        code: "too-large", message: "the request body is over server.maxMessageSize (\(context.settings.maxMessageBytes) bytes)"),
                    status: .contentTooLarge)
            }
            return RestRun.respond(body: Array(buffer: body), context: context, client: requestContext.clientAddress)
        }
        router.ws(
            "/ws",
            shouldUpgrade: { request, requestContext in
                guard Self.isUpgrade(request) else { return .dontUpgrade }
                try Self.checkOrigin(request, settings: context.settings)
                return .upgrade([:])
            },
            onUpgrade: { inbound, outbound, wsContext in
                wsContext.requestContext.webSocketHolder.release()
                await NativeConnection.serve(
                    inbound: inbound, outbound: outbound, context: context, client: wsContext.requestContext.clientAddress,
                    authorized: GuardMiddleware.hasValidToken(wsContext.request, token: context.settings.token))
            })
        router.ws(
            "/socket.io/",
            shouldUpgrade: { request, _ in
                guard Self.isUpgrade(request) else { return .dontUpgrade }
                try Self.checkOrigin(request, settings: context.settings)
                let query = request.uri.queryParameters
                guard query["EIO"] == "4" else {
                    throw HTTPError(.badRequest, message: "only Engine.IO v4 (Socket.IO v4) is supported: connect with EIO=4")
                }
                guard query["transport"] == "websocket" else {
                    throw HTTPError(.badRequest, message: "only the websocket transport is supported: connect with transports=['websocket']")
                }
                return .upgrade([:])
            },
            onUpgrade: { inbound, outbound, wsContext in
                wsContext.requestContext.webSocketHolder.release()
                await SocketIOConnection.serve(
                    inbound: inbound, outbound: outbound, context: context, client: wsContext.requestContext.clientAddress,
                    authorized: GuardMiddleware.hasValidToken(wsContext.request, token: context.settings.token))
            })
        return router
    }

    struct RestError: Encodable {
        var code: String
        var message: String
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: JSON.encode(value))))
    }

    /// Whether a request asks for a WebSocket. A plain GET of a WebSocket route is answered 405: accepting it would make
    /// hummingbird-websocket keep the request's context in the cycle `WebSocketReferenceHolder` exists to break.
    static func isUpgrade(_ request: Request) -> Bool {
        request.headers[.upgrade]?.lowercased() == "websocket"
    }

    /// Whether an Origin names the server the request came to. A Host without a port (a proxy such as nginx with
    /// `proxy_set_header Host $host` drops it) matches the origin's host name at any port.
    static func sameHost(origin: String, host: String) -> Bool {
        let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
        guard !host.isEmpty, !originHost.isEmpty else { return false }
        if originHost.lowercased() == host.lowercased() { return true }
        // `name:port` or `[v6]:port` (an IPv6 literal is always bracketed in Host).
        let hostHasPort = host.hasPrefix("[") ? host.contains("]:") : host.contains(":")
        return !hostHasPort && HostCheck.hostName(originHost) == HostCheck.hostName(host)
    }

    /// Browsers send Origin on WebSocket upgrades and do not apply CORS to them, so the server must check it; the same
    /// rule applies to `POST /api/run` (a cross-site form or fetch would otherwise start a run).
    /// Allowed: no Origin (not a browser), `*`, a listed origin, or an origin whose host matches Host (the server's own
    /// page; the list adds origins to it).
    static func checkOrigin(_ request: Request, settings: ServerSettings) throws(HTTPError) {
        guard let origin = request.headers[.origin], !origin.isEmpty else { return }
        let allowed = settings.allowedOrigins
        if allowed.contains("*") || allowed.contains(origin) { return }
        if sameHost(origin: origin, host: request.head.authority ?? "") { return }
        throw HTTPError(.forbidden, message: "origin \(origin) may not use this server; add it to server.allowedOrigins")
    }
}
