// Over 400 lines on purpose: one suite of hostile programs, grouped by what they attack (processes, memory, disk,
// output, stopping, streams); escapes and the network are in EscapeTests.swift, the supervisor in SupervisorTests.swift.

import CodeRunnerCore
import CodeRunnerDocker
import Foundation
import Testing

@testable import DockerEngine

#if canImport(Glibc)
import Glibc
#endif

/// Programs written to hurt the runner (issue 7): each is run against the real engine, and each test checks what the user
/// sees (status and exit code), that the host kept answering while it ran, that the next run in the same named session
/// still works and finds nothing of the hostile program left, and that nothing leaks once the session ends.
/// No test sends a packet anywhere but to this machine's own containers and bridge addresses.
@Suite("Hostile programs", .serialized, .docker)
struct HostileProgramTests {
    // MARK: Helpers

    /// Lists every process in the container but the agent and itself, with its state (a zombie counts too).
    static let processCheck = #"""
        import os
        me = os.getpid()
        left = []
        for pid in os.listdir('/proc'):
            if not pid.isdigit() or int(pid) == me: continue
            try:
                stat = open(f'/proc/{pid}/stat').read()
                comm = stat[stat.index('(') + 1:stat.rindex(')')]
                state = stat[stat.rindex(')') + 2]
                cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode(errors='replace').strip()
            except (OSError, ValueError):
                continue
            if 'coderunner-agent' in cmd or comm.startswith('coderunner-age'): continue
            left.append(f'{pid}:{comm}:{state}:{cmd}')
        print('left=' + repr(sorted(left)))
        with open('/app/next-run-wrote-this', 'w') as f: f.write('ok')
        print('wrote=ok')
        """#

    /// Runs `body` with a fresh named session and ends the session afterwards, whatever happened; then checks that the
    /// session left nothing and that no ephemeral resource of this process survived.
    func withSession(_ tag: String, _ body: (String) async throws -> Void) async throws {
        let session = "hostile-\(tag)-" + DockerProbe.randomSuffix()
        do {
            try await body(session)
        } catch {
            try? await Live.runner().endSession(session)
            throw error
        }
        try await Live.runner().endSession(session)
        let left = try await Live.leftovers(label: "\(ResourceLabel.session)=\(session)")
        #expect(left.networks.isEmpty && left.containers.isEmpty, "session \(session) not cleaned up: \(left)")
        try await Live.expectNoLeaks()
    }

    /// The next run in the session: it must work, in the same warm container, and see no process of the earlier run.
    func expectCleanNextRun(in session: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let next = try await Live.run("python", [("check.py", Self.processCheck)], session: session)
        #expect(next.result.status == .ok, "next run after a hostile one: \(next.result) \(next.stderr)", sourceLocation: sourceLocation)
        #expect(next.stdout.hasPrefix("left=[]\n"), "processes survived the hostile run: \(next.stdout)", sourceLocation: sourceLocation)
        #expect(next.stdout.contains("wrote=ok"), "\(next.stdout) \(next.stderr)", sourceLocation: sourceLocation)
        let containers = try await Live.engine().containers(labeled: ["\(ResourceLabel.session)=\(session)", "\(ResourceLabel.language)=python"])
        #expect(containers.count == 1, "the next run should reuse the session's container: \(containers.map(\.name))", sourceLocation: sourceLocation)
    }

    /// The slowest answer the Docker engine (and with it the host) gave while `body` ran, sampled every 100 ms.
    func measuringHost<T: Sendable>(_ body: () async throws -> T) async throws -> (T, worst: Duration) {
        let engine = try Live.engine()
        let probe = Task {
            var worst = Duration.zero
            while !Task.isCancelled {
                let start = ContinuousClock.now
                _ = try? await engine.info()
                var spawned = pid_t()
                var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
                if posix_spawn(&spawned, "/bin/true", nil, nil, &argv, environ) == 0 {
                    var status: Int32 = 0
                    waitpid(spawned, &status, 0)
                }
                free(argv[0])
                worst = max(worst, ContinuousClock.now - start)
                try? await Task.sleep(for: .milliseconds(100))
            }
            return worst
        }
        let value: T
        do { value = try await body() } catch {
            probe.cancel()
            throw error
        }
        probe.cancel()
        return (value, await probe.value)
    }

    /// The exit code `coderunner run` gives for each status (README), to check what the user sees.
    func expectExitCode(_ result: RunResult, _ expected: Int32, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            result.processExitCode == expected, "status \(result.status.rawValue) exit \(result.processExitCode), expected \(expected)",
            sourceLocation: sourceLocation)
        if result.status != .ok {
            #expect(result.summaryLine != nil, sourceLocation: sourceLocation)
        }
    }

    // MARK: Fork bombs

    @Test func pythonForkBombIsContainedByThePidsLimit() async throws {
        try await withSession("forkpy") { session in
            let bomb = """
                import errno, os, sys
                origin = os.getpid()
                told = False
                print('bombing', flush=True)
                while True:
                    try:
                        os.fork()
                    except OSError as e:
                        if os.getpid() == origin and not told:
                            print('fork refused: ' + errno.errorcode.get(e.errno, str(e.errno)), flush=True)
                            told = True
                """
            let started = ContinuousClock.now
            let (outcome, worst) = try await measuringHost {
                try await Live.run("python", [("bomb.py", bomb)], timeout: .seconds(3), session: session)
            }
            let took = ContinuousClock.now - started
            let result = outcome.result
            #expect([.timeout, .memoryLimit, .runtimeError, .signal].contains(result.status), "\(result) \(outcome.stderr.prefix(500))")
            if result.status == .timeout { expectExitCode(result, 124) }
            if result.status == .memoryLimit { expectExitCode(result, 137) }
            #expect(outcome.stdout.contains("fork refused: EAGAIN"), "the pids limit should refuse forks: \(outcome.stdout.prefix(300))")
            #expect(took < .seconds(30), "the bomb took \(took) to end")
            #expect(worst < .seconds(5), "the host answered slowly (\(worst)) during the fork bomb")
            try await expectCleanNextRun(in: session)
        }
    }

    @Test func shellForkBombIsContainedByThePidsLimit() async throws {
        try await withSession("forksh") { session in
            let bomb = """
                import subprocess, time
                subprocess.Popen(['bash', '-c', ':(){ :|:& };:'])
                print('bombing', flush=True)
                time.sleep(1000)
                """
            let (outcome, worst) = try await measuringHost {
                try await Live.run("python", [("bomb.py", bomb)], timeout: .seconds(3), session: session)
            }
            let result = outcome.result
            #expect([.timeout, .memoryLimit, .runtimeError, .signal].contains(result.status), "\(result) \(outcome.stderr.prefix(500))")
            if result.status == .timeout { expectExitCode(result, 124) }
            #expect(outcome.stdout.hasPrefix("bombing\n"), "\(outcome.stdout.prefix(300))")
            #expect(worst < .seconds(5), "the host answered slowly (\(worst)) during the fork bomb")
            try await expectCleanNextRun(in: session)
        }
    }

    // MARK: Memory

    @Test func memoryBombIsKilledAtTheMemoryLimit() async throws {
        try await withSession("membomb") { session in
            let bomb = "hog = []\nwhile True:\n    hog.append(b'\\x01' * (10 << 20))\n"
            let outcome = try await Live.run("python", [("hog.py", bomb)], timeout: .seconds(20), session: session)
            #expect(outcome.result.status == .memoryLimit, "\(outcome.result) \(outcome.stderr.prefix(500))")
            expectExitCode(outcome.result, 137)
            try await expectCleanNextRun(in: session)
        }
    }

    @Test func slowMemoryLeakIsKilledAtTheMemoryLimit() async throws {
        try await withSession("leak") { session in
            let leak = """
                import time
                hog = []
                while True:
                    hog.append(b'\\x01' * (5 << 20))
                    time.sleep(0.05)
                """
            let outcome = try await Live.run("python", [("leak.py", leak)], timeout: .seconds(30), session: session)
            #expect(outcome.result.status == .memoryLimit, "\(outcome.result) \(outcome.stderr.prefix(500))")
            expectExitCode(outcome.result, 137)
            // 128 MB at 5 MB per 50 ms takes over a second: it was the slow growth that got caught, not a start-up failure.
            let wall = outcome.result.stages.last?.wallMilliseconds ?? 0
            #expect(wall > 800, "the leak was stopped after only \(wall) ms")
            try await expectCleanNextRun(in: session)
        }
    }

    // MARK: Disk

    /// Fills `directory` with 4 MB files until the write fails; the OSError is left uncaught, as a careless program would.
    static func filler(_ directory: String) -> String {
        """
        i = 0
        while True:
            with open('\(directory)/fill%04d' % i, 'wb') as f:
                f.write(b'\\0' * (4 << 20))
            i += 1
        """
    }

    @Test(arguments: ["/app", "/tmp"])
    func diskFillEndsWithAClearErrorAndTheNextRunWorks(directory: String) async throws {
        try await withSession("fill" + directory.dropFirst()) { session in
            let outcome = try await Live.run("python", [("fill.py", Self.filler(directory))], timeout: .seconds(20), session: session)
            #expect(outcome.result.status == .runtimeError, "\(outcome.result) \(outcome.stderr.prefix(500))")
            expectExitCode(outcome.result, 1)
            #expect(outcome.stderr.contains("No space left on device"), "stderr: \(outcome.stderr.prefix(500))")
            // The agent must still be able to write the next submission into a full work dir.
            // (A full /app is emptied by the agent before it writes the next run's files.)
            try await expectCleanNextRun(in: session)
        }
    }

    // MARK: Output

    @Test func outputFloodOnBothStreamsKeepsExactlyTheLimit() async throws {
        try await withSession("flood") { session in
            let flood = """
                import os
                out, err = b'o' * 65536, b'e' * 65536
                while True:
                    os.write(1, out)
                    os.write(2, err)
                """
            let limit: UInt64 = 1 << 20
            let outcome = try await Live.run("python", [("flood.py", flood)], timeout: .seconds(20), outputLimit: limit, session: session)
            #expect(outcome.result.status == .outputLimit, "\(outcome.result)")
            #expect(outcome.result.truncated)
            expectExitCode(outcome.result, 128 + (outcome.result.signal ?? 9))
            var stdout = 0
            var stderr = 0
            for case .output(let stream, let bytes) in outcome.events {
                if stream == .stdout { stdout += bytes.count } else { stderr += bytes.count }
            }
            #expect(UInt64(stdout + stderr) == limit, "kept \(stdout) + \(stderr) bytes, limit \(limit)")
            #expect(stdout > 0 && stderr > 0, "both streams should be kept: \(stdout) / \(stderr)")
            #expect(outcome.stdout.allSatisfy { $0 == "o" } && outcome.stderr.allSatisfy { $0 == "e" }, "streams mixed up")
            try await expectCleanNextRun(in: session)
        }
    }

    @Test func hugeLineWithoutNewlineKeepsExactlyTheLimit() async throws {
        try await withSession("line") { session in
            let line = """
                import sys
                chunk = b'x' * (1 << 20)
                for _ in range(50):
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                """
            let limit: UInt64 = 1 << 20
            let outcome = try await Live.run("python", [("line.py", line)], timeout: .seconds(20), outputLimit: limit, session: session)
            #expect(outcome.result.status == .outputLimit, "\(outcome.result) \(outcome.stderr.prefix(300))")
            #expect(outcome.stdoutBytes.count == Int(limit))
            #expect(outcome.stdoutBytes.allSatisfy { $0 == UInt8(ascii: "x") })
            try await expectCleanNextRun(in: session)
        }
    }

    /// Runs the CLI under /usr/bin/time with stdout and stderr thrown away; returns the exit status and the max RSS in KiB.
    func cliMaxRSS(_ arguments: [String]) throws -> (status: Int32, maxRSSKiB: Int, stderr: String) {
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("coderunner-rss-\(UUID().uuidString)").path
        let errFile = report + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: report)
            try? FileManager.default.removeItem(atPath: errFile)
        }
        _ = FileManager.default.createFile(atPath: errFile, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
        process.arguments = ["-f", "%M", "-o", report, Live.cliPath] + arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CODERUNNER_") }
        env["CODERUNNER_RUNTIMES_DIR"] = Live.repositoryRoot + "/runtimes"
        env["CODERUNNER_CONFIG"] = "/dev/null"
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: errFile)
        try process.run()
        OwnedProcesses.shared.insert(process.processIdentifier)
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        let rss = text.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.last ?? -1
        let stderr = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        return (process.terminationStatus, rss, String(stderr.suffix(2000)))
    }

    @Test func cliMemoryStaysBoundedWhileFlooded() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "GNU time is needed to measure the CLI's RSS")
        let dir = try CLI.folder([
            (
                "flood.py",
                """
                import os
                out, err = b'o' * 65536, b'e' * 65536
                while True:
                    os.write(1, out)
                    os.write(2, err)
                """
            ),
            (
                "line.py",
                """
                import sys
                chunk = b'x' * (1 << 20)
                for _ in range(50):
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                """
            ),
        ])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 96 MB through the CLI on both streams, then the output limit.
        let flood = try cliMaxRSS(["run", "--timeout", "60s", "--output-limit", "96m", dir + "/flood.py"])
        #expect(flood.status == 137, "flood: exit \(flood.status), stderr: \(flood.stderr)")
        #expect(flood.stderr.contains("output limit exceeded"), "\(flood.stderr)")
        #expect(flood.maxRSSKiB > 0 && flood.maxRSSKiB < 100 * 1024, "the CLI grew to \(flood.maxRSSKiB) KiB while flooded")
        // One 50 MB line, under the limit: passed through whole, without buffering it.
        let line = try cliMaxRSS(["run", "--timeout", "60s", "--output-limit", "64m", dir + "/line.py"])
        #expect(line.status == 0, "line: exit \(line.status), stderr: \(line.stderr)")
        #expect(line.maxRSSKiB > 0 && line.maxRSSKiB < 100 * 1024, "the CLI grew to \(line.maxRSSKiB) KiB on a 50 MB line")
        try await Live.expectNoLeaks()
    }

    // MARK: Programs that will not stop

    static let unstoppable: [(String, String)] = [
        ("loop", "while True:\n    pass\n"),
        ("sleep", "import time\ntime.sleep(10 ** 6)\n"),
        (
            "sigterm",
            "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
        ),
    ]

    @Test(arguments: unstoppable.map(\.0))
    func programThatNeverEndsIsStoppedAtTheTimeout(kind: String) async throws {
        let program = try #require(Self.unstoppable.first { $0.0 == kind }?.1)
        try await withSession(kind) { session in
            let started = ContinuousClock.now
            let outcome = try await Live.run("python", [("stuck.py", program)], timeout: .seconds(2), session: session)
            let took = ContinuousClock.now - started
            #expect(outcome.result.status == .timeout, "\(outcome.result) \(outcome.stderr.prefix(300))")
            expectExitCode(outcome.result, 124)
            #expect(took < .seconds(15), "stopping took \(took)")
            try await expectCleanNextRun(in: session)
        }
    }

    @Test func childrenLeftRunningByAProgramThatExitedAreGone() async throws {
        try await withSession("orphans") { session in
            let spawner = """
                import os, subprocess
                os.system('sleep 1000 &')
                subprocess.Popen(['setsid', 'sleep', '1001'])
                subprocess.Popen(['sleep', '1002'], start_new_session=True)
                if os.fork() == 0:          # a classic daemon: double fork, new session
                    os.setsid()
                    if os.fork() == 0:
                        import time
                        time.sleep(1003)
                    os._exit(0)
                print('spawned', flush=True)
                """
            let outcome = try await Live.run("python", [("spawn.py", spawner)], session: session)
            #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
            expectExitCode(outcome.result, 0)
            #expect(outcome.stdout == "spawned\n")
            try await expectCleanNextRun(in: session)
        }
    }

    // MARK: Odd streams

    @Test func closingStdoutEarlyThenWritingToStderr() async throws {
        try await withSession("closeout") { session in
            let program = """
                import os, sys
                print('before', flush=True)
                os.close(1)
                for i in range(3):
                    sys.stderr.write(f'err {i}\\n')
                    sys.stderr.flush()
                os._exit(0)
                """
            let outcome = try await Live.run("python", [("close.py", program)], session: session)
            #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
            #expect(outcome.stdout == "before\n")
            #expect(outcome.stderr == "err 0\nerr 1\nerr 2\n")
            try await expectCleanNextRun(in: session)
        }
    }

    @Test func readingStdinWithNoInputSeesEndOfFile() async throws {
        let program = "import sys\ndata = sys.stdin.buffer.read()\nprint('eof', len(data))\n"
        let none = try await Live.run("python", [("read.py", program)], timeout: .seconds(10))
        #expect(none.result.status == .ok, "\(none.result)")
        #expect(none.stdout == "eof 0\n")
        let empty = try await Live.run("python", [("read.py", program)], stdin: "", timeout: .seconds(10))
        #expect(empty.result.status == .ok, "\(empty.result)")
        #expect(empty.stdout == "eof 0\n")
        try await Live.expectNoLeaks()
    }

    @Test func readingAnOpenStdinForeverIsEndedByTheTimeout() async throws {
        let dir = try CLI.folder([("read.py", "import sys\nprint('reading', flush=True)\nsys.stdin.buffer.read()\nprint('never')\n")])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = try CLIProcess(["run", "--timeout", "2s", dir + "/read.py"])
        defer { process.send(SIGKILL) }
        let status = await process.finish(timeout: .seconds(60))  // stdin stays open: only the timeout can end the run
        #expect(status == 124, "exit \(status.map(String.init) ?? "none"); stderr: \(process.stderrText)")
        #expect(process.stdoutText == "reading\n")
        #expect(process.stderrText.contains("time limit exceeded"), "\(process.stderrText)")
        try await Live.expectNoLeaks()
    }

    @Test func binaryAndInvalidUTF8OutputPassesThroughByteForByte() async throws {
        let program = """
            import sys
            data = bytes(range(256)) * 16 + b'\\xff\\xfe\\xc0\\x80\\xed\\xa0\\x80\\xf8\\x88\\x80\\x80\\x80' + b'\\r\\n\\0end'
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            sys.stderr.buffer.write(b'\\xc3\\x28 bad utf-8 on stderr\\n')
            """
        var expected = [UInt8]()
        for _ in 0..<16 { expected += (0...255).map { UInt8($0) } }
        expected += [0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80] + Array("\r\n\0end".utf8)
        let dir = try CLI.folder([("bin.py", program)])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outcome = try await CLI.run(["run", dir + "/bin.py"])
        #expect(outcome.status == 0, "\(outcome)")
        #expect([UInt8](outcome.stdout) == expected, "stdout differs: \(outcome.stdout.count) bytes, expected \(expected.count)")
        let inProcess = try await Live.run("python", [("bin.py", program)])
        #expect(inProcess.stdoutBytes == expected)
        try await Live.expectNoLeaks()
    }
}
