import CodeRunnerCore
import Foundation
import ServerTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `coderunner serve` as its own process (the built CLI), for tests that kill it or measure its memory and descriptors.
struct ServeProcess {
    let process: CLIProcess
    let port: Int

    init(port: Int, environment: [String: String] = [:]) throws {
        self.port = port
        var environment = environment
        environment["CODERUNNER_SERVER_LOG_LEVEL"] = environment["CODERUNNER_SERVER_LOG_LEVEL"] ?? "warning"
        // No ready sessions unless the test asks (see TestServer.start).
        environment["CODERUNNER_SERVER_STANDBY"] = environment["CODERUNNER_SERVER_STANDBY"] ?? ""
        process = try CLIProcess(["serve", "--host", "127.0.0.1", "--port", String(port)], environment: environment)
    }

    func waitUntilHealthy(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let reply = try? await HTTP.request(port: port, "GET", "/health"), reply.status == 200 { return }
            if process.exitTime != nil { throw TestFailure("serve exited: \(process.stderrText.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("serve did not answer /health within \(timeout): \(process.stderrText.suffix(2000))")
    }

    /// Resident memory (VmRSS) and open descriptors of the server process, from /proc.
    func usage() throws -> (rssKiB: Int, descriptors: Int) {
        let status = try String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)
        let rss =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd").count
        return (rss, descriptors)
    }
}
