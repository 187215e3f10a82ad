import CodeRunnerCore
import Hummingbird

/// `GET /health`: engine reachable and every runtime image present.
enum HealthCheck {
    struct Body: Encodable {
        var status: String
        var engine: String?
        var error: String?
        var images: [String: Bool]
        var sessions: Int
        /// `server.instance`, when named.
        var instance: String?
    }

    static func run(context: ServerContext) async -> (Bool, Body) {
        let engine = context.runner.engine
        let instance = context.runner.settings.instance
        var body = Body(
            status: "ok", engine: nil, error: nil, images: [:], sessions: context.metrics.liveSessions, instance: instance.isEmpty ? nil : instance)
        do {
            let info = try await engine.info()
            body.engine = "\(info.version) (API \(info.apiVersion))"
            for runtime in context.catalog.runtimes {
                body.images[runtime.language] = (try await engine.image(runtime.image)) != nil
            }
        } catch {
            body.status = "unhealthy"
            body.error = "container engine unreachable: \(error)"
            return (false, body)
        }
        if body.images.values.contains(false) {
            body.status = "degraded"
            body.error =
                "missing images for: \(body.images.filter { !$0.value }.keys.sorted().joined(separator: ", ")); run `coderunner images build`"
            return (false, body)
        }
        return (true, body)
    }
}
