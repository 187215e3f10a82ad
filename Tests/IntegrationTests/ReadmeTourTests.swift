import CodeRunnerCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The README's "A tour" as a user meets it: every `$` command in its console blocks runs as written (through `sh`, from
/// the checkout's root, with the built binary first on PATH) and its output (stdout and stderr as they interleave) must
/// match the documented lines, where `...` stands for any text. Commands that cannot run here are listed with the reason;
/// a command in the README that is in neither list fails the test, so the tour and this test change together.
@Suite("README tour", .serialized, .docker)
struct ReadmeTourTests {
    struct Command: CustomStringConvertible {
        var line: String
        var documented: [String]
        var description: String { line }
    }

    /// Commands not run, and why.
    static let skipped: [String: String] = [
        "coderunner pool": "lists the sessions alive at that moment on a shared engine, with their ages",
        "coderunner pool warm python --session ci --count 2":
            "leaves warm containers in a session other tests may use (the suite's leak check would flag them)",
        "coderunner pool drain --session ci": "removes the idle containers of session ci, which the skipped `pool warm` above would have made",
        "coderunner net gc --all --yes": "removes every coderunner resource on the engine",
        "coderunner session python": "an interactive terminal transcript with Ctrl-C; SessionShellTests drives the shell in a pseudo-terminal",
        "CODERUNNER_SERVER_TOKEN=secret coderunner serve --port 8080":
            "a server on a fixed port of a shared machine; ServerTests starts serve on a free port",
        #"curl -s -H 'Authorization: Bearer secret' -H 'Content-Type: application/json' -d '{"language":"python","files":[{"path":"a.py","content":"print(6*7)"}]}' localhost:8080/api/run"#:
            "needs the server above; ServerTests covers POST /api/run",
    ]

    /// The `$` commands of the tour section (shell comments and the prompt stripped) with the lines documented under each.
    static func tourCommands() throws -> [Command] {
        let readme = try String(contentsOfFile: Live.repositoryRoot + "/README.md", encoding: .utf8)
        let start = try #require(readme.range(of: "\n## A tour\n"))
        let rest = readme[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        var commands: [Command] = []
        var inConsole = false
        for line in section.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                inConsole = line == "```console"
                continue
            }
            guard inConsole else { continue }
            if line.hasPrefix("$ ") {
                var command = String(line.dropFirst(2))
                if let comment = command.range(of: "  # ") { command = String(command[..<comment.lowerBound]) }
                commands.append(Command(line: command.trimmingCharacters(in: .whitespaces), documented: []))
            } else if !commands.isEmpty {
                commands[commands.count - 1].documented.append(line)
            }
        }
        for index in commands.indices {
            while commands[index].documented.last?.isEmpty == true { commands[index].documented.removeLast() }
        }
        return commands
    }

    /// Runs `line` with sh from the checkout's root; stdout and stderr share one pipe, so their order is kept.
    static func shell(_ line: String, timeout: TimeInterval = 180) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", line]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CODERUNNER_") }
        env["PATH"] = URL(fileURLWithPath: Live.cliPath).deletingLastPathComponent().path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["CODERUNNER_RUNTIMES_DIR"] = Live.repositoryRoot + "/runtimes"
        env["CODERUNNER_CONFIG"] = "/dev/null"
        env["CODERUNNER_RUN_STANDBY"] = "0"
        env["NO_COLOR"] = "1"
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: Live.repositoryRoot)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        watchdog.cancel()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A documented line matches when equal, with `...` matching any text.
    static func matches(_ actual: String, _ documented: String) -> Bool {
        let parts = documented.components(separatedBy: "...")
        guard parts.count > 1 else { return actual == documented }
        var rest = Substring(actual)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() {
            guard let found = rest.range(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return rest.hasSuffix(parts.last!)
    }

    @Test func everyCommandIsRunOrSkippedWithAReason() throws {
        let commands = try Self.tourCommands()
        #expect(commands.count >= 10, "the tour parser found only \(commands)")
        #expect(commands.contains { $0.line.hasPrefix("coderunner run runtimes/java/examples/multi") })
        for skipped in Self.skipped.keys {
            #expect(commands.contains { $0.line == skipped }, "skipped command no longer in the README: \(skipped)")
        }
    }

    @Test func tourCommandsPrintWhatTheREADMESays() async throws {
        for command in try Self.tourCommands() where Self.skipped[command.line] == nil {
            let (status, output) = try Self.shell(command.line)
            var lines = output.components(separatedBy: "\n")
            if lines.last == "" { lines.removeLast() }
            if command.documented.isEmpty {
                #expect(status == 0, "`\(command.line)` exited \(status):\n\(output)")
                continue
            }
            let ok = lines.count == command.documented.count && zip(lines, command.documented).allSatisfy { Self.matches($0, $1) }
            #expect(ok, "`\(command.line)` printed:\n\(output)\nthe README says:\n\(command.documented.joined(separator: "\n"))")
        }
        try await Live.expectNoLeaks()
    }

    @Test func wildcardMatching() {
        #expect(Self.matches(#"{"a":1,"t":42,"z":0}"#, #"{"a":1,"t":...,"z":0}"#))
        #expect(!Self.matches(#"{"a":2,"t":42}"#, #"{"a":1,"t":...}"#))
        #expect(Self.matches("exact", "exact"))
        #expect(!Self.matches("exact!", "exact"))
    }
}
