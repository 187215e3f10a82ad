import CodeRunnerCore
import FoundationEssentials
import Hummingbird

#if canImport(Glibc)
import Glibc
#endif

/// Token check on every route (header `Authorization: Bearer T` or `?token=T`, which browsers' WebSockets need),
/// and refusal of new requests while shutting down. Socket.IO clients may also send the token in their CONNECT auth.
struct GuardMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let context: ServerContext

    func handle(_ request: Request, context requestContext: ServerRequestContext, next: (Request, ServerRequestContext) async throws -> Response)
        async throws -> Response
    {
        // A draining node refuses new work with 503, except WebSocket upgrades: hummingbird-websocket can refuse an
        // upgrade only with a bare 400, which neither clients nor HAProxy retry, so those are accepted and closed at
        // once in the protocol with 1012 (service restart), and the client reconnects through the balancer.
        if context.isDraining, !(CodeRunnerHTTPServer.isUpgrade(request) && Self.isWebSocketRoute(request.uri.path)) {
            throw HTTPError(.serviceUnavailable, message: "the server is shutting down")
        }
        let host = request.head.authority
        guard HostCheck.isAllowed(host, settings: context.settings) else {
            context.metrics.protocolError()
            context.logger.info(
                "request for a foreign Host refused",
                metadata: [
                    "host": "\(host ?? "")", "path": "\(request.uri.path)", "client": "\(requestContext.clientAddress)",
                ])
            return CodeRunnerHTTPServer.json(
                CodeRunnerHTTPServer.RestError(
                    code: "wrong-host",
                    message: "this server does not answer to the name '\(HostCheck.hostName(host ?? ""))' (a guard against DNS rebinding); "
                        + "use localhost or its address, or add the name to server.allowedHosts"), status: .misdirectedRequest)
        }
        let token = context.settings.token
        if !token.isEmpty, !Self.hasValidToken(request, token: token) {
            // WebSocket upgrades are checked by their handlers, which can then say why in the protocol (a refused
            // upgrade can only be a bare 400 in hummingbird-websocket); Socket.IO may also authenticate in CONNECT.
            let isUpgrade = CodeRunnerHTTPServer.isUpgrade(request)
            if !(isUpgrade && Self.isWebSocketRoute(request.uri.path)) {
                var headers = HTTPFields()
                headers[.wwwAuthenticate] = "Bearer"
                headers[.contentType] = "application/json"
                context.logger.info(
                    "request without a valid token refused", metadata: ["path": "\(request.uri.path)", "client": "\(requestContext.clientAddress)"])
                context.recentErrors.record(
                    session: nil, client: "\(requestContext.clientAddress)", code: "unauthorized",
                    message: "\(request.method) \(request.uri.path.prefix(200)) without a valid token")
                return Response(
                    status: .unauthorized, headers: headers,
                    body: .init(
                        byteBuffer: ByteBuffer(
                            string:
                                "{\"code\":\"unauthorized\",\"message\":\"send the server token as 'Authorization: Bearer <token>' or ?token=<token>\"}"
                        )))
            }
        }
        return try await next(request, requestContext)
    }

    static func isWebSocketRoute(_ path: String) -> Bool { path == "/ws" || path.hasPrefix("/socket.io") }

    static func hasValidToken(_ request: Request, token: String) -> Bool {
        if token.isEmpty { return true }
        if let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            constantTimeEqual(String(header.dropFirst(7)).trimmingTrailingSpaces(), token)
        {
            return true
        }
        if let query = request.uri.queryParameters["token"], constantTimeEqual(String(query), token) { return true }
        return false
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}

/// The DNS rebinding guard: a page on an attacker's domain that resolves to 127.0.0.1 reaches the server with its own
/// name in `Host`. Answered: loopback names (`localhost`, `*.localhost`, which browsers never resolve through DNS), IP
/// literals (no DNS, so nothing to rebind), the configured `server.host`, and `server.allowedHosts` (`*`: any name).
/// A request without Host (HTTP/1.0, not a browser) passes.
enum HostCheck {
    static func isAllowed(_ authority: String?, settings: ServerSettings) -> Bool {
        guard let authority, !authority.isEmpty else { return true }
        let name = hostName(authority)
        if settings.allowedHosts.contains("*") || settings.allowedHosts.contains(name) { return true }
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        if isIPAddress(name) { return true }
        return !settings.host.isEmpty && name == hostName(settings.host)
    }

    /// The name of a Host value without its port and brackets, lowercased, without a trailing dot.
    static func hostName(_ authority: String) -> String {
        var name = Substring(authority.lowercased())
        if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
            // `[v6]` or `[v6]:port`; anything else after the bracket is no address, kept whole so it matches nothing.
            let rest = name[name.index(after: close)...]
            if rest.isEmpty || (rest.first == ":" && rest.dropFirst().allSatisfy(\.isNumber)) {
                name = name[name.index(after: name.startIndex)..<close]
            }
        } else if let colon = name.lastIndex(of: ":"), name.firstIndex(of: ":") == colon {
            name = name[..<colon]
        }
        while name.hasSuffix(".") { name = name.dropLast() }
        return String(name)
    }

    static func isIPAddress(_ name: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
