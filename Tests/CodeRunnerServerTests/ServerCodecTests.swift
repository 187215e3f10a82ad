import CodeRunnerCore
import Foundation
import Synchronization
import Testing

@testable import CodeRunnerServer

/// Pure pieces of `serve` (no Docker): output batching, UTF-8 boundaries, encoders, metrics text.
@Suite("serve codecs")
struct ServerCodecTests {
    @Test func incompleteUTF8IsHeldBack() {
        let euro = Array("€".utf8)  // 3 bytes
        #expect(OutputBatcher.completePrefixLength(Array("ab".utf8)) == 2)
        #expect(OutputBatcher.completePrefixLength(Array("a".utf8) + euro.prefix(1)) == 1)
        #expect(OutputBatcher.completePrefixLength(Array("a".utf8) + euro.prefix(2)) == 1)
        #expect(OutputBatcher.completePrefixLength(Array("a".utf8) + euro) == 4)
        #expect(OutputBatcher.completePrefixLength([0xFF]) == 1)  // invalid: passed on, the decoder replaces it
    }

    @Test func batcherKeepsOrderMergesAndJoinsSplitCharacters() async throws {
        let sent = Mutex<[(ProgramStream, String)]>([])
        let batcher = OutputBatcher { stream, text in sent.withLock { $0.append((stream, text)) } }
        let euro = Array("€".utf8)
        batcher.append(.stdout, Array("a".utf8) + euro.prefix(1))
        batcher.append(.stdout, Array(euro.dropFirst()) + Array("b\n".utf8))
        batcher.append(.stderr, Array("err\n".utf8))
        batcher.append(.stdout, Array("c\n".utf8))
        try await Task.sleep(for: .milliseconds(60))
        batcher.finish()
        let messages = sent.withLock { $0 }
        #expect(messages.map(\.0) == [.stdout, .stderr, .stdout])
        #expect(messages.map(\.1) == ["a€b\n", "err\n", "c\n"])
    }

    @Test func nativeOutputIsValidJSON() throws {
        let text = NativeEncoder().output(run: "r\"1", stream: .stderr, text: "tab\t\u{1}quote\"\n")
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(object == ["type": "output", "id": "r\"1", "stream": "stderr", "data": "tab\t\u{1}quote\"\n"])
    }

    @Test func socketIOExitCarriesTheOriginalFields() throws {
        let result = RunResult(
            status: .timeout, language: "python", exitCode: nil, signal: 9, stages: [], truncated: false,
            totalMilliseconds: 2001.4, message: "run stage ran longer than 2s", session: nil)
        let messages = SocketIOEncoder().exit(run: "c1", result: result)
        #expect(messages.count == 2)
        #expect(messages[0].hasPrefix("42[\"output\",") && messages[0].contains("\"type\":\"system\""))
        let payload = String(messages[1].dropFirst(2))
        let array = try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [Any]
        #expect(array?.first as? String == "exit")
        let exit = array?.last as? [String: Any]
        #expect(exit?["sessionId"] as? String == "c1")
        #expect(exit?["code"] as? Int == 124)
        #expect(exit?["executionTime"] as? Int == 2001)
    }

    @Test func prometheusText() {
        let metrics = ServerMetrics()
        metrics.recordRun(language: "python", status: "ok", seconds: 0.3)
        metrics.recordRun(language: "python", status: "timeout", seconds: 12, firstOfConnection: true)
        var gauges = ServerMetrics.EngineGauges(containers: 3, subnets: 2, networksReady: 5, networksLeased: 2, standbys: ["python": 1])
        gauges.leases.count = 4
        gauges.leases.seconds = 0.02
        let text = metrics.render(gauges)
        #expect(text.contains("coderunner_runs_total{language=\"python\",status=\"ok\"} 1"))
        #expect(text.contains("coderunner_run_duration_seconds_bucket{language=\"python\",le=\"0.5\"} 1"))
        #expect(text.contains("coderunner_run_duration_seconds_bucket{language=\"python\",le=\"30\"} 2"))
        #expect(text.contains("coderunner_run_duration_seconds_count{language=\"python\"} 2"))
        #expect(text.contains("coderunner_containers 3\n"))
        #expect(text.contains("coderunner_subnets_used 2\n"))
        #expect(text.contains("coderunner_first_run_duration_seconds_count{language=\"python\"} 1\n"))
        #expect(text.contains("coderunner_first_run_duration_seconds_bucket{language=\"python\",le=\"10\"} 0\n"))
        #expect(text.contains("coderunner_networks_ready 5\n") && text.contains("coderunner_networks_leased 2\n"))
        #expect(text.contains("coderunner_standby_containers{language=\"python\"} 1\n"))
        #expect(text.contains("coderunner_network_leases_total 4\n") && text.contains("coderunner_network_lease_seconds_total 0.02\n"))
    }
}

/// Issue 17 (6): the DNS rebinding guard's Host check (no Docker).
@Suite("serve Host check")
struct HostCheckTests {
    static func settings(host: String = "127.0.0.1", allowed: String = "") throws -> ServerSettings {
        var configuration = Configuration()
        try configuration.set("server.host", host, source: .flag)
        try configuration.set("server.allowedHosts", allowed, source: .flag)
        return try ServerSettings(configuration)
    }

    @Test(arguments: [
        "localhost", "localhost:8080", "LOCALHOST.:8080", "app.localhost", "127.0.0.1:8080", "10.1.2.3", "[::1]:8080",
        "[fe80::1]", "::1",
    ])
    func loopbackNamesAndAddressesAreAnswered(_ host: String) throws {
        #expect(HostCheck.isAllowed(host, settings: try Self.settings()))
    }

    @Test(arguments: [
        "attacker.example", "attacker.example:8080", "127.0.0.1.attacker.example", "localhost.attacker.example",
        "1.2.3.4.nip.io", "[::1].evil",
    ])
    func otherNamesAreRefused(_ host: String) throws {
        #expect(!HostCheck.isAllowed(host, settings: try Self.settings()))
    }

    @Test func boundNameAllowedHostsAndAnyHost() throws {
        #expect(HostCheck.isAllowed("devbox:8080", settings: try Self.settings(host: "devbox")))
        let listed = try Self.settings(allowed: "Code.Example, other.example")
        #expect(HostCheck.isAllowed("code.example:443", settings: listed) && HostCheck.isAllowed("other.example", settings: listed))
        #expect(!HostCheck.isAllowed("third.example", settings: listed))
        #expect(HostCheck.isAllowed("anything.example", settings: try Self.settings(allowed: "*")))
        #expect(HostCheck.isAllowed(nil, settings: try Self.settings()))
    }
}
