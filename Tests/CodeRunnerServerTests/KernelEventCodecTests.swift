import CodeRunnerCore
import Foundation
import Testing

@testable import CodeRunnerServer

/// The kernel events as each protocol spells them (no Docker): the original client's `kernel:*` shapes for Socket.IO,
/// the native protocol unchanged, and the origin rule for proxies that drop the port.
@Suite("kernel event codecs")
struct KernelEventCodecTests {
    static let notebook = KernelRef(id: "k-1", notebook: "nb")

    /// `42["name",{...}]` → (name, payload).
    static func decode(_ message: String) throws -> (String, [String: Any]) {
        #expect(message.hasPrefix("42"))
        let array = try #require(try JSONSerialization.jsonObject(with: Data(message.dropFirst(2).utf8)) as? [Any])
        return (try #require(array.first as? String), try #require(array.last as? [String: Any]))
    }

    static func socketIO(_ notice: KernelNotice) throws -> [(String, [String: Any])] {
        try SocketIOEncoder().kernel(notice).map(decode)
    }

    @Test func startedAndStatusesAreTheOriginalShapes() throws {
        let started = try Self.socketIO(.started(Self.notebook, language: "python"))
        #expect(started.map(\.0) == ["kernel:started", "kernel:status"])
        #expect(started[0].1 as? [String: String] == ["notebookId": "nb", "kernelId": "k-1"])
        #expect(started[1].1 as? [String: String] == ["kernelId": "k-1", "status": "idle"])
        let starting = try Self.socketIO(.starting(Self.notebook))
        #expect(starting[0].1 as? [String: String] == ["kernelId": "k-1", "status": "starting"])
        let executing = try Self.socketIO(.executing(Self.notebook, cellRef: "c1", count: 3))
        #expect(executing.map(\.0) == ["kernel:execution_started", "kernel:status"])
        #expect(executing[0].1["executionCount"] as? Int == 3 && executing[0].1["cellId"] as? String == "c1")
        #expect(executing[1].1["status"] as? String == "busy")
    }

    @Test func outputsMapToTheClientsTypes() throws {
        let stdout = try Self.socketIO(.output(Self.notebook, cell: 1, cellRef: "c1", stream: .stdout, text: "hi\n"))
        #expect(stdout[0].1 as? [String: String] == ["kernelId": "k-1", "cellId": "c1", "type": "stdout", "content": "hi\n"])
        let stderr = try Self.socketIO(.output(Self.notebook, cell: 1, cellRef: "c1", stream: .stderr, text: "w\n"))
        #expect(stderr[0].1["type"] as? String == "stderr")
        let cases: [(String, String, String?)] = [
            ("image/png", "iVBORw0KGgo=", "image"), ("text/html", "<b>x</b>", "html"), (KernelDisplay.tracebackMIME, "Traceback", "error"),
            ("text/plain", "x", "stdout"), ("image/jpeg", "AAAA", "html"), ("application/x-unknown", "AAAA", nil),
        ]
        for (mime, data, type) in cases {
            let messages = try Self.socketIO(.display(Self.notebook, cell: 1, cellRef: "c1", mime: mime, data: data))
            #expect(messages.first?.1["type"] as? String == type, "\(mime)")
        }
        let png = try Self.socketIO(.display(Self.notebook, cell: 1, cellRef: "c1", mime: "image/png", data: "iVBORw0KGgo="))
        #expect(png[0].1["content"] as? String == "iVBORw0KGgo=")  // base64 without a data: prefix
    }

    @Test func aCellEndsWithCompleteThenIdle() throws {
        let ok = try Self.socketIO(.result(Self.notebook, cell: 1, cellRef: "c1", status: .ok, milliseconds: 3))
        #expect(ok.map(\.0) == ["kernel:cell_complete", "kernel:status"])
        #expect(ok[0].1 as? [String: String] == ["kernelId": "k-1", "cellId": "c1"])
        #expect(ok[1].1["status"] as? String == "idle")
        let timeout = try Self.socketIO(.result(Self.notebook, cell: 1, cellRef: "c1", status: .timeout, milliseconds: 3))
        #expect(timeout.map(\.0) == ["kernel:output", "kernel:cell_complete", "kernel:status"])
        #expect(timeout[0].1["type"] as? String == "error")
        let raised = try Self.socketIO(.result(Self.notebook, cell: 1, cellRef: "c1", status: .error, milliseconds: 3))
        #expect(raised.map(\.0) == ["kernel:cell_complete", "kernel:status"])  // its traceback came as an error output
    }

    @Test func controlRepliesAndErrors() throws {
        #expect(try Self.socketIO(.interrupted(Self.notebook))[0].1 as? [String: String] == ["kernelId": "k-1"])
        #expect(try Self.socketIO(.interrupted(Self.notebook))[0].0 == "kernel:interrupted")
        #expect(try Self.socketIO(.restarted(Self.notebook)).map(\.0) == ["kernel:restarted", "kernel:status"])
        #expect(try Self.socketIO(.shutdown(Self.notebook)).map(\.0) == ["kernel:shutdown_complete"])
        let died = try Self.socketIO(.exited(Self.notebook, reason: "out of memory"))
        #expect(died.map(\.0) == ["kernel:status", "kernel:error"] && died[0].1["status"] as? String == "dead")
        let refused = try Self.socketIO(
            .failed(kernelID: "k-9", notebook: nil, cellRef: "c1", error: SocketIOConnection.notYourKernel))
        #expect(refused[0].0 == "kernel:error")
        #expect(
            refused[0].1 as? [String: String] == [
                "kernelId": "k-9", "cellId": "c1", "error": "Unauthorized: kernel does not belong to this session",
            ])
        let failedStart = try Self.socketIO(
            .failed(kernelID: "k-2", notebook: "nb-2", cellRef: nil, error: ProtocolError(code: "no-kernel", message: "no such language")))
        #expect(failedStart[0].1 as? [String: String] == ["kernelId": "k-2", "notebookId": "nb-2", "error": "no such language"])
    }

    @Test func nativeKernelMessagesAreUnchanged() throws {
        let native = NativeEncoder()
        #expect(native.kernel(.starting(.native)).isEmpty)
        #expect(native.kernel(.executing(.native, cellRef: "a", count: 1)).isEmpty)
        #expect(native.kernel(.started(.native, language: "python")) == ["{\"type\":\"kernel.started\",\"language\":\"python\"}"])
        // A traceback reaches native clients as the cell's stderr, as before the kernels reported it apart.
        #expect(
            native.kernel(.display(.native, cell: 2, cellRef: nil, mime: KernelDisplay.tracebackMIME, data: "Boom\n")) == [
                "{\"type\":\"kernel.output\",\"cell\":2,\"stream\":\"stderr\",\"data\":\"Boom\\n\"}"
            ])
        let failure = native.kernel(.failed(kernelID: nil, notebook: nil, cellRef: nil, error: ProtocolError(code: "kernel-failed", message: "m")))
        #expect(failure == ["{\"type\":\"error\",\"code\":\"kernel-failed\",\"message\":\"m\"}"])
    }

    @Test(arguments: [
        ("http://localhost:8080", "localhost", true),  // nginx with `Host $host`: no port
        ("http://localhost", "localhost", true),
        ("http://localhost:5173", "localhost:3000", false),  // Vite: needs server.allowedOrigins
        ("http://evil.example:8080", "localhost", false),
        ("http://127.0.0.1:9000", "127.0.0.1:9000", true),
        ("http://[::1]:8080", "[::1]", true),
        ("http://[::1]:8080", "[::1]:3000", false),
    ])
    func originMatchesHostWithoutItsPort(_ origin: String, _ host: String, _ allowed: Bool) {
        #expect(CodeRunnerHTTPServer.sameHost(origin: origin, host: host) == allowed)
    }
}
