import Foundation
import ServerTestSupport
import Testing

/// `serve` for the original React client (socket.io-client 4.8): its notebook events, deployments and heartbeat,
/// driven by python-socketio sending exactly what that client sends.
@Suite("the original web client", .serialized, .docker)
struct OriginalClientTests {
    /// The original web client's notebook events, exactly as it sends them, with every reply checked (start, a second
    /// start, cells with counts and statuses, a traceback as `error`, a matplotlib image, interrupt, restart, another
    /// connection refused, a failed start, shutdown).
    @Test func socketIONotebookEventsOfTheOriginalClient() async throws {
        let server = try await TestServer.start()
        let result = try await Live.script("socketio_notebook.py", ["--url", server.baseURL])
        #expect(result.status == 0, "socketio_notebook.py failed:\n\(result.stdout)\n\(result.stderr)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }

    /// The original client's deployments with the README's configuration: a Vite page on :5173 talking to the server
    /// port, nginx sending Host without the port, `/api/health`; and the heartbeat at a short interval (a client that
    /// answers pings stays, one that does not is closed). A server without the origin setting refuses the Vite page.
    @Test func originalClientDeploymentsAndHeartbeat() async throws {
        let configured = try await TestServer.start([
            "server.allowedOrigins": "http://localhost:5173", "server.pingInterval": "1s", "server.pingTimeout": "1s",
        ])
        let result = try await Live.script("socketio_deployments.py", ["--url", configured.baseURL, "--heartbeat", "5"])
        #expect(result.status == 0, "socketio_deployments.py failed:\n\(result.stdout)\n\(result.stderr)")
        try await configured.stop()
        let plain = try await TestServer.start()
        let refused = try await Live.script("socketio_deployments.py", ["--url", plain.baseURL, "--expect-refusal"])
        #expect(refused.status == 0, "socketio_deployments.py --expect-refusal failed:\n\(refused.stdout)\n\(refused.stderr)")
        try await plain.stop()
        try await Live.expectNoLeaks(timeout: .seconds(30))
    }

    /// The Socket.IO endpoint with the `python-socketio` client, running the original implementation's event sequence.
    @Test func socketIOWithPythonClient() async throws {
        let server = try await TestServer.start(["server.token": "tok"])
        let result = try await Live.script("socketio_client.py", ["--url", server.baseURL, "--token", "tok"])
        #expect(result.status == 0, "socketio_client.py failed:\n\(result.stdout)\n\(result.stderr)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }
}
