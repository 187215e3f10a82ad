import Foundation
import ServerTestSupport
import Testing

/// The web IDE in headless Chromium (ide_check.py): CodeMirror from Debian's libjs-codemirror, ANSI colours, input in
/// the console, Stop and Ctrl-C, folders and a multi-file run, the .tar, a reload, a notebook with an image, the favicon,
/// a phone-sized window, Tab completion in the REPL, the operator view.
@Suite("web IDE", .serialized, .docker)
struct WebIDETests {
    @Test func webIDEInHeadlessChromium() async throws {
        let server = try await TestServer.start()
        let result = try await Live.script("ide_check.py", ["--url", server.baseURL + "/"])
        #expect(result.status == 0, "ide_check.py failed:\n\(result.stdout)\n\(result.stderr)")
        try await Live.expectNoLeaks(timeout: .seconds(30))
        try await server.stop()
    }
}
