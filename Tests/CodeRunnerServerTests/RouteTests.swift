import CodeRunnerTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import ServerTestSupport
import Testing

@testable import CodeRunnerCore
@testable import CodeRunnerServer

/// `serve`'s HTTP routes through HummingbirdTesting's router framework: requests go straight to the application the
/// server builds (`buildApplication`), no socket and no Docker (`InMemoryEngine`). WebSocket flows, which need a live
/// server, are in ServerFlowTests; the Host check (the router framework always sends `localhost`) in ServerCodecTests.
@Suite("serve routes (HummingbirdTesting)")
struct RouteTests {
    static func application(_ overrides: [String: String] = [:]) throws -> some ApplicationProtocol {
        try TestServer.makeServer(on: InMemoryEngine(), overrides: overrides).buildApplication(onListening: { _ in })
    }

    @Test func healthUnderBothNamesAndMetrics() async throws {
        try await Self.application().test(.router) { client in
            let health = try await client.execute(uri: "/health", method: .get)
            let apiHealth = try await client.execute(uri: "/api/health", method: .get)
            #expect(health.status == apiHealth.status)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(buffer: apiHealth.body)) as? [String: Any])
            #expect(body["engine"] as? String == "in-memory (API 1.41)", "\(body)")
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok && String(buffer: metrics.body).contains("coderunner_"))
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok && String(buffer: page.body).hasPrefix("<!doctype html>"))
        }
    }

    @Test func theTokenGuardsEveryRoute() async throws {
        try await Self.application(["server.token": "tok"]).test(.router) { client in
            let anonymous = try await client.execute(uri: "/health", method: .get)
            let wrong = try await client.execute(uri: "/health?token=nope", method: .get)
            let query = try await client.execute(uri: "/health?token=tok", method: .get)
            let bearer = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer tok"])
            #expect(anonymous.status == .unauthorized && wrong.status == .unauthorized)
            #expect(query.status != .unauthorized && bearer.status == .ok)
        }
    }

    @Test func restRunAndDrainNeedJSONAndAnAllowedOrigin() async throws {
        try await Self.application().test(.router) { client in
            for path in ["/api/run", "/admin/drain"] {
                let form = try await client.execute(
                    uri: path, method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "{}"))
                #expect(form.status == .unsupportedMediaType, "\(path)")
                let crossSite = try await client.execute(
                    uri: path, method: .post, headers: [.contentType: "application/json", .origin: "http://evil.example"],
                    body: ByteBuffer(string: "{}"))
                #expect(crossSite.status == .forbidden, "\(path)")
            }
            let bad = try await client.execute(
                uri: "/api/run", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{\"files\":"))
            #expect(bad.status == .badRequest, "a cut-off body is a bad request: \(bad.status)")
        }
    }
}
