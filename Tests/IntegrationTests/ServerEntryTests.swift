import Foundation
import ServerTestSupport
import Testing

/// `serve` chooses the language and entry of a several-file run without `entry` as `coderunner run DIR` does (issue 18).
extension ServerTests {
    @Test func restRunWithoutEntryInfersIt() async throws {
        let server = try await TestServer.start()
        // No language, no entry, the module first: main.py runs by convention (the first file did before).
        let body =
            #"{"files":[{"path":"lib.py","content":"X = 41"},{"path":"main.py","content":"import lib\nprint(lib.X + 1)"},{"path":"notes.txt","content":"data"}]}"#
        let reply = try await HTTP.request(port: server.port, "POST", "/api/run", body: body)
        #expect(reply.status == 200, "\(reply.body)")
        let result = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any] ?? [:]
        #expect(result["stdout"] as? String == "42\n", "\(reply.body)")
        // Sources of two languages and nothing to choose between them: refused, naming both.
        let mixed = #"{"files":[{"path":"a.py","content":"print(1)"},{"path":"b.js","content":"console.log(2)"}]}"#
        let refused = try await HTTP.request(port: server.port, "POST", "/api/run", body: mixed)
        #expect(refused.status == 422, "\(refused.body)")
        #expect(refused.body.contains("several languages") && refused.body.contains("`language`"), "\(refused.body)")
        try await server.stop()
    }
}
