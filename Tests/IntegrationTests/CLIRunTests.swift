import CodeRunnerCore
import CodeRunnerDocker
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `coderunner run` as a user (or a CI job) sees it: the built binary, real Docker, exit codes, streams, stdin,
/// arguments, `--json`, Ctrl-C and every way the input can be wrong. Each test also checks that nothing is left behind.
@Suite("coderunner run (CLI)", .serialized, .docker)
struct CLIRunTests {
    /// Writes one file into a fresh folder and returns its path.
    func file(_ name: String, _ contents: String) throws -> String {
        try CLI.folder([(name, contents)]) + "/" + name
    }

    /// The single `coderunner:` line a non-ok run must print on stderr (the program itself printed nothing there).
    func expectOneLine(_ outcome: CLIOutcome, containing needles: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(outcome.stderrLines.count == 1, "expected exactly one stderr line:\n\(outcome)", sourceLocation: sourceLocation)
        let line = outcome.stderrLines.first ?? ""
        for needle in needles {
            #expect(
                line.lowercased().contains(needle.lowercased()), "stderr line should mention '\(needle)': \(line)", sourceLocation: sourceLocation)
        }
    }

    // MARK: exit codes

    @Test func okExitsZero() async throws {
        let outcome = try await CLI.run(["run", try file("hello.py", "print('Hello, world!')")])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "Hello, world!\n")
        #expect(outcome.stderr.isEmpty, "\(outcome)")
        try await Live.expectNoLeaks()
    }

    @Test func programExitCodePassesThrough() async throws {
        let outcome = try await CLI.run(["run", try file("seven.py", "import sys\nsys.exit(7)")])
        #expect(outcome.status == 7, "\(outcome)")
        expectOneLine(outcome, containing: ["7"])
        try await Live.expectNoLeaks()
    }

    @Test func timeoutExits124WithOneLine() async throws {
        let started = ContinuousClock.now
        let outcome = try await CLI.run(["run", "--timeout", "1s", try file("loop.py", "import time\nwhile True: time.sleep(0.1)")])
        #expect(outcome.status == 124, "\(outcome)")
        expectOneLine(outcome, containing: ["time limit"])
        #expect(ContinuousClock.now - started < .seconds(20), "a 1 s timeout should end the run quickly")
        try await Live.expectNoLeaks()
    }

    @Test func segfaultExits139() async throws {
        let source = "#include <stdio.h>\nint main(void) { volatile int *p = 0; *p = 42; return 0; }\n"
        let outcome = try await CLI.run(["run", try file("crash.c", source)])
        #expect(outcome.status == 139, "\(outcome)")
        expectOneLine(outcome, containing: ["SIGSEGV"])
        try await Live.expectNoLeaks()
    }

    @Test func memoryBombExits137() async throws {
        let outcome = try await CLI.run(["run", "--memory", "64m", try file("bomb.py", "a = []\nwhile True: a.append(bytearray(10**7))")])
        #expect(outcome.status == 137, "\(outcome)")
        expectOneLine(outcome, containing: ["memory limit", "--memory"])
        try await Live.expectNoLeaks()
    }

    @Test func compileErrorExitsWithCompilersCode() async throws {
        let outcome = try await CLI.run(["run", try file("broken.c", "int main(void) { return undeclared_thing; }\n")])
        let status = try #require(outcome.status, "\(outcome)")
        #expect(status != 0 && status != 125 && status != 64 && status < 124, "compiler's own exit code expected:\n\(outcome)")
        #expect(outcome.stderr.contains("error"), "\(outcome)")
        #expect(outcome.stderr.contains("undeclared_thing"), "the compiler's message should reach stderr:\n\(outcome)")
        #expect(outcome.stderr.contains("compile error"), "\(outcome)")
        #expect(outcome.stdout.isEmpty, "\(outcome)")
        try await Live.expectNoLeaks()
    }

    @Test func outputLimitKeepsPartialOutput() async throws {
        let outcome = try await CLI.run(["run", "--output-limit", "10k", try file("flood.py", "while True: print('x' * 1000)")])
        #expect(outcome.status != 0, "\(outcome)")
        #expect(outcome.stdout.count == 10240, "stdout should be cut at exactly 10k, got \(outcome.stdout.count) bytes")
        #expect(outcome.stdout.allSatisfy { $0 == UInt8(ascii: "x") || $0 == UInt8(ascii: "\n") })
        expectOneLine(outcome, containing: ["output limit"])
        try await Live.expectNoLeaks()
    }

    // MARK: streams

    @Test func stdoutAndStderrStaySeparate() async throws {
        let source = "import sys\nprint('to-out')\nprint('to-err', file=sys.stderr)\nprint('more-out')"
        let outcome = try await CLI.run(["run", try file("streams.py", source)])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "to-out\nmore-out\n")
        #expect(outcome.stderr == "to-err\n")
        try await Live.expectNoLeaks()
    }

    @Test func outputStreamsBeforeTheProgramEnds() async throws {
        let source = "import time\nprint('first line', flush=True)\ntime.sleep(3)\nprint('second line')"
        let process = try CLIProcess(["run", try file("slow.py", source)])
        process.closeStdin()
        let status = await process.finish(timeout: .seconds(60))
        #expect(status == 0, "stderr: \(process.stderrText)")
        #expect(process.stdoutText == "first line\nsecond line\n")
        let first = try #require(process.arrival(of: "first line"))
        let exited = try #require(process.exitTime)
        #expect(first < exited - .seconds(2), "first line arrived \(exited - first) before exit; it should stream, not wait for the end")
        try await Live.expectNoLeaks()
    }

    // MARK: input

    @Test func stdinIsPipedThrough() async throws {
        let outcome = try await CLI.run(["run", try file("greet.py", "name = input()\nprint(f'Hello, {name}!')")], stdin: "world\n")
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "Hello, world!\n")
        try await Live.expectNoLeaks()
    }

    @Test func environmentVariables() async throws {
        let source = "import os\nprint(os.environ.get('GREETING'), os.environ.get('EMPTY') == '', os.environ.get('WITH_EQ'))"
        let outcome = try await CLI.run(["run", "--env", "GREETING=hi there", "-e", "EMPTY=", "--env", "WITH_EQ=a=b", try file("env.py", source)])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "hi there True a=b\n")
        try await Live.expectNoLeaks()
    }

    @Test func programArgumentsAfterDoubleDash() async throws {
        let outcome = try await CLI.run([
            "run", try file("args.py", "import sys\nprint('|'.join(sys.argv[1:]))"),
            "--", "plain", "--timeout", "x", "-e", "with space", "--",
        ])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "plain|--timeout|x|-e|with space|--\n")
        try await Live.expectNoLeaks()
    }

    @Test func severalFilesKeepTheirRelativePaths() async throws {
        let dir = try CLI.folder([
            ("src/main.py", "from lib.util import add\nprint(f'sum={add(2, 3)}')"),
            ("src/lib/__init__.py", ""),
            ("src/lib/util.py", "def add(a, b): return a + b"),
        ])
        let outcome = try await CLI.run(["run", "src/main.py", "src/lib/__init__.py", "src/lib/util.py"], cwd: dir)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "sum=5\n")
        try await Live.expectNoLeaks()
    }

    @Test func folderWithEntry() async throws {
        let dir = try CLI.folder([
            ("proj/app.py", "import helper\nhelper.hello()"),
            ("proj/other.py", "print('wrong entry')"),
            ("proj/helper.py", "def hello(): print('from helper')"),
        ])
        let outcome = try await CLI.run(["run", dir + "/proj", "--entry", "app.py"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "from helper\n")
        try await Live.expectNoLeaks()
    }

    // MARK: --json

    @Test func jsonReport() async throws {
        let outcome = try await CLI.run(["run", "--json", try file("hello.c", "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")])
        #expect(outcome.status == 0, "\(outcome)")
        let object = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any], "\(outcome)")
        #expect(object["status"] as? String == "ok")
        #expect((object["exitCode"] as? NSNumber)?.intValue == 0)
        #expect(object["stdout"] as? String == "hi\n")
        #expect((object["truncated"] as? NSNumber)?.boolValue == false)
        let stages = try #require(object["stages"] as? [[String: Any]])
        #expect(stages.compactMap { $0["name"] as? String } == ["compile", "run"])
        for stage in stages {
            for key in ["wallMilliseconds", "cpuMilliseconds", "peakMemoryBytes"] {
                let value = (stage[key] as? NSNumber)?.doubleValue
                #expect(value != nil && value! >= 0, "stage \(stage["name"] ?? "?") lacks \(key): \(stage)")
            }
            #expect(((stage["wallMilliseconds"] as? NSNumber)?.doubleValue ?? 0) > 0)
            #expect(((stage["peakMemoryBytes"] as? NSNumber)?.doubleValue ?? 0) > 0)
        }
        try await Live.expectNoLeaks()
    }

    @Test func jsonReportOfATimeout() async throws {
        let outcome = try await CLI.run(["run", "--json", "--timeout", "1s", try file("t.py", "import time\nprint('a', flush=True)\ntime.sleep(30)")])
        #expect(outcome.status == 124, "\(outcome)")
        let object = try #require(try JSONSerialization.jsonObject(with: outcome.stdout) as? [String: Any], "\(outcome)")
        #expect(object["status"] as? String == "timeout")
        #expect(object["stdout"] as? String == "a\n")
        #expect((object["truncated"] as? NSNumber)?.boolValue == false)
        try await Live.expectNoLeaks()
    }

    // MARK: Ctrl-C

    @Test func interruptStopsTheRunAndCleansUp() async throws {
        let source = "import time\nprint('started', flush=True)\ntime.sleep(120)\nprint('not reached')"
        let process = try CLIProcess(["run", try file("long.py", source)])
        guard await process.waitForStdout("started", timeout: .seconds(60)) else {
            process.send(SIGKILL)
            Issue.record("the program never printed its first line; stderr: \(process.stderrText)")
            return
        }
        let interrupted = ContinuousClock.now
        process.send(SIGINT)
        let status = await process.finish(timeout: .seconds(20))
        #expect(status == 130, "stderr: \(process.stderrText)")
        #expect(ContinuousClock.now - interrupted < .seconds(5), "Ctrl-C took \(ContinuousClock.now - interrupted)")
        #expect(!process.stdoutText.contains("not reached"))
        try await Live.expectNoLeaks()
    }

    // MARK: bad input

    /// Every usage mistake exits 64 with one clear line and never touches Docker.
    func expectUsageError(
        _ arguments: [String], environment: [String: String] = [:], cwd: String? = nil, mentioning needles: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let outcome = try await CLI.run(arguments, environment: environment, cwd: cwd, timeout: .seconds(30))
        #expect(outcome.status == 64, "\(arguments):\n\(outcome)", sourceLocation: sourceLocation)
        #expect(outcome.stdout.isEmpty, "\(outcome)", sourceLocation: sourceLocation)
        expectOneLine(outcome, containing: needles, sourceLocation: sourceLocation)
        try await Live.expectNoLeaks(sourceLocation: sourceLocation)
    }

    @Test func unknownExtension() async throws {
        try await expectUsageError(["run", try file("x.rb", "puts 1")], mentioning: [".rb"])
    }

    @Test func unknownLanguage() async throws {
        try await expectUsageError(["run", "--lang", "cobol", try file("x.py", "print(1)")], mentioning: ["cobol"])
    }

    @Test func missingFile() async throws {
        try await expectUsageError(["run", "/nonexistent-\(DockerProbe.randomSuffix())/nope.py"], mentioning: ["nope.py"])
    }

    @Test func entryOutsideTheFiles() async throws {
        let dir = try CLI.folder([("main.py", "print(1)")])
        try await expectUsageError(["run", "--entry", "../x", "main.py"], cwd: dir, mentioning: ["../x"])
        try await expectUsageError(["run", "--lang", "python", "--entry", "../x.py", "main.py"], cwd: dir, mentioning: ["../x.py"])
    }

    @Test func fileOverMaxSize() async throws {
        let big = "# " + String(repeating: "a", count: 2000) + "\nprint(1)\n"
        try await expectUsageError(
            ["run", try file("big.py", big)], environment: ["CODERUNNER_FILES_MAX_SIZE": "1k"],
            mentioning: ["files.maxSize"])
    }

    @Test func tooManyFiles() async throws {
        let dir = try CLI.folder([("a.py", "print(1)"), ("b.py", ""), ("c.py", "")])
        try await expectUsageError(
            ["run", "a.py", "b.py", "c.py"], environment: ["CODERUNNER_FILES_MAX_COUNT": "2"], cwd: dir,
            mentioning: ["files.maxCount"])
    }

    @Test func badTimeout() async throws {
        try await expectUsageError(["run", "--timeout", "banana", try file("x.py", "print(1)")], mentioning: ["banana"])
    }

    @Test func badMemory() async throws {
        try await expectUsageError(["run", "--memory", "lots", try file("x.py", "print(1)")], mentioning: ["lots"])
    }

    @Test func envWithoutEquals() async throws {
        try await expectUsageError(["run", "--env", "NOEQUALS", try file("x.py", "print(1)")], mentioning: ["NOEQUALS"])
    }

    /// Parse errors get one line, like every other coderunner failure (the Entrypoint prints ArgumentParser's message itself).
    @Test func unknownFlag() async throws {
        let outcome = try await CLI.run(["run", "--bogus-flag", try file("x.py", "print(1)")], timeout: .seconds(30))
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.stderrLines.first?.contains("--bogus-flag") == true, "\(outcome)")
        #expect(outcome.stderrLines.count == 1, "expected exactly one stderr line:\n\(outcome)")
        try await Live.expectNoLeaks()
    }

    @Test func optionWithoutValue() async throws {
        let outcome = try await CLI.run(["run", try file("x.py", "print(1)"), "--lang"], timeout: .seconds(30))
        #expect(outcome.status == 64, "\(outcome)")
        #expect(outcome.stderrLines.first?.contains("--lang") == true, "\(outcome)")
        #expect(outcome.stderrLines.count == 1, "expected exactly one stderr line:\n\(outcome)")
        try await Live.expectNoLeaks()
    }

    @Test func noFileAtAll() async throws {
        try await expectUsageError(["run"], mentioning: ["file"])
    }

    // MARK: coderunner's own failures (125)

    @Test func dockerNotRunning() async throws {
        let outcome = try await CLI.run(
            ["run", try file("x.py", "print(1)")], environment: ["DOCKER_HOST": "unix:///tmp/nope-\(DockerProbe.randomSuffix()).sock"],
            timeout: .seconds(60))
        #expect(outcome.status == 125, "\(outcome)")
        #expect(outcome.stdout.isEmpty)
        expectOneLine(outcome, containing: ["docker", "start"])
        #expect(
            outcome.stderr.contains("dockerd") || outcome.stderr.contains("systemctl start docker"), "should say how to start Docker:\n\(outcome)")
        try await Live.expectNoLeaks()
    }

    @Test func imageMissing() async throws {
        let outcome = try await CLI.run(
            ["run", try file("x.py", "print(1)")],
            environment: ["CODERUNNER_RUNTIME_PYTHON_IMAGE": "coderunner/does-not-exist:1"])
        #expect(outcome.status == 125, "\(outcome)")
        expectOneLine(outcome, containing: ["coderunner images build", "coderunner/does-not-exist:1"])
        try await Live.expectNoLeaks()
    }

    @Test func subnetPoolExhausted() async throws {
        let engine = try Live.engine()
        // A /24 of 10.99.0.0/16 no Docker network uses yet: the test holds it, then offers coderunner only that one.
        let used = Set(try await engine.networks(labeled: []).flatMap(\.subnets).compactMap { IPv4Network($0) })
        let candidates = (0..<256).map { IPv4Network(address: IPv4Network.parseAddress("10.99.\($0).0")!, prefixLength: 24) }
        let pool = try #require(candidates.shuffled().first { candidate in !used.contains { $0.overlaps(candidate) } })
        let networkID = try await engine.createNetwork(
            NetworkSpec(
                name: "coderunner-test-pool-holder-\(DockerProbe.randomSuffix())", subnet: pool, driver: "bridge", isInternal: true,
                labels: ["dev.coderunner.test": "CLIRunTests.subnetPoolExhausted"]))
        do {
            let outcome = try await CLI.run(
                ["run", try file("x.py", "print(1)")],
                environment: ["CODERUNNER_NETWORK_POOLS": pool.description, "CODERUNNER_RUN_NETWORK": "session"])
            #expect(outcome.status == 125, "\(outcome)")
            expectOneLine(outcome, containing: [pool.description, "net gc", "add a pool"])
        } catch {
            try? await engine.removeNetwork(networkID)
            throw error
        }
        try await engine.removeNetwork(networkID)
        try await Live.expectNoLeaks()
    }
}
