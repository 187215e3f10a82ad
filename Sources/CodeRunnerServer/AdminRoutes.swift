import CodeRunnerCore
import FoundationEssentials
import Hummingbird

/// Routes for whoever runs the server (behind `server.token` like every route): the engine's pool, the operator view's
/// data, draining a node for a rolling restart.
extension CodeRunnerHTTPServer {
    struct DrainAnswer: Encodable {
        var status = "draining"
        var graceSeconds: Double
        var sessions: Int
        var runs: Int
    }

    func addAdminRoutes(to router: Router<ServerRequestContext>) {
        let context = self.context
        // `GET /api/pool`: what `coderunner pool --json` says about this node's engine (`coderunner fleet status`).
        router.get("/api/pool") { _, _ in
            let inventory = Inventory(engine: context.runner.engine, settings: context.runner.settings)
            do {
                let report = try await inventory.report(withAgentStatus: false)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(report))))
            } catch {
                return Self.json(RestError(code: "engine", message: "the engine did not answer: \(error)"), status: .serviceUnavailable)
            }
        }
        // `GET /api/operator`: the operator view's data (live sessions with their containers, pool, node, runs, recent errors).
        router.get("/api/operator") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: JSON.encode(await context.operatorReport()))))
        }
        // `POST /admin/drain`: what SIGTERM does (stop taking sessions, let runs finish for server.drainGrace, close the
        // sessions with 1012, clean up, exit). JSON and the origin rule, like /api/run, so no web page can trigger it.
        router.post("/admin/drain") { request, _ in
            guard request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters().lowercased() == "application/json" else {
                return Self.json(
                    RestError(code: "bad-content-type", message: "send 'Content-Type: application/json' (the body may be {})"),
                    status: .unsupportedMediaType)
            }
            do throws(HTTPError) { try Self.checkOrigin(request, settings: context.settings) } catch {
                return Self.json(RestError(code: "forbidden-origin", message: error.body ?? "this origin may not use the server"), status: .forbidden)
            }
            let capacity = context.capacity(engineReachable: true)
            context.logger.notice("drain requested over HTTP", metadata: ["sessions": "\(capacity.sessions)", "runs": "\(capacity.runs)"])
            self.shutdown()
            let grace = context.settings.drainGrace.components
            return Self.json(
                DrainAnswer(
                    graceSeconds: Double(grace.seconds) + Double(grace.attoseconds) / 1e18, sessions: capacity.sessions, runs: capacity.runs),
                status: .accepted)
        }
    }
}
