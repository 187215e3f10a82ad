import CodeRunnerCore
import Foundation
import ServerTestSupport
import Testing

/// Tab completion from the kernel's live state over the native protocol (`kernel.complete`), which the web page and
/// any client REPL use; the terminal shell's Tab is checked in SessionShellTests (shell_pty.py).
@Suite("kernel completion", .serialized, .docker)
struct KernelCompletionTests {
    static func complete(_ ws: TestWebSocket, _ code: String, id: String) async throws -> [String] {
        ws.send(json: ["type": "kernel.complete", "code": code, "id": id])
        let (answer, _) = try await ws.waitFor("kernel.completions", id: id, timeout: .seconds(10))
        return answer["matches"] as? [String] ?? []
    }

    @Test(arguments: [
        ("python", "import os\nanswer_value = 42", "answer_v", "answer_value", "os.pa", "os.path"),
        ("javascript", "const answer_value = 42", "answer_v", "answer_value", "Math.hy", "Math.hypot"),
    ])
    func namesComeFromTheKernelsState(
        _ language: String, _ setup: String, _ typed: String, _ name: String, _ attribute: String, _ attributeName: String
    ) async throws {
        let server = try await TestServer.start()
        let ws = try await TestWebSocket.connect(port: server.port)
        _ = try await ws.nextJSON()
        ws.send(json: ["type": "kernel.start", "language": language])
        _ = try await ws.waitFor("kernel.started", timeout: .seconds(90))
        ws.send(json: ["type": "kernel.execute", "code": setup, "cell": "setup"])
        _ = try await ws.waitFor("kernel.result", timeout: .seconds(30))
        #expect(try await Self.complete(ws, "print(" + typed, id: "1") == [name])
        #expect(try await Self.complete(ws, attribute, id: "2").contains(attributeName))
        #expect(try await Self.complete(ws, "zzz_nothing_here", id: "3").isEmpty)
        // While a cell runs the kernel cannot answer: empty at once, and the cell is not disturbed.
        ws.send(json: [
            "type": "kernel.execute",
            "code": language == "python" ? "import time; time.sleep(2)" : "const t = Date.now(); while (Date.now() - t < 2000) {}", "cell": "slow",
        ])
        try await Task.sleep(for: .milliseconds(300))
        let started = ContinuousClock.now
        #expect(try await Self.complete(ws, typed, id: "4").isEmpty)
        #expect(ContinuousClock.now - started < .seconds(1))
        let (result, _) = try await ws.waitFor("kernel.result", timeout: .seconds(30))
        #expect(result["status"] as? String == "ok", "\(result)")
        ws.close()
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }
}
