import CodeRunnerCore
import Foundation
import Testing

@testable import DockerEngine

#if canImport(Glibc)
import Glibc
#endif

/// The fast paths of issue 13: a one-shot run has no network (loopback only), its container's agent is PID 1 and takes
/// the first run on its own stdin (attached before the start), and later runs in a session attach to that agent instead
/// of starting a `docker exec`. Each test also checks what must not change: output, stdin, Ctrl-C, exit statuses, and
/// that no run can see or forge another's traffic.
@Suite("Agent channel (no network, PID 1, attach)", .serialized, .docker)
struct AgentChannelTests {
    static func uniqueSession(_ prefix: String) -> String { "\(prefix)-\(DockerProbe.randomSuffix().prefix(8))" }

    /// The execs Docker has recorded for a container (each `docker exec` adds one; they stay listed for its life).
    static func execCount(_ containerID: String) async throws -> Int {
        (try await DockerProbe.rawContainerInspect(containerID)["ExecIDs"] as? [Any])?.count ?? 0
    }

    static func sessionContainers(_ session: String) async throws -> [ContainerInfo] {
        try await Live.engine().containers(labeled: ["\(ResourceLabel.session)=\(session)"])
    }

    /// The containers of one-shot runs this process started that are still running.
    static func runningOneShotContainers() async throws -> [ContainerInfo] {
        try await Live.engine().containers(labeled: [ResourceLabel.ephemeral, "\(ResourceLabel.ownerPID)=\(getpid())"])
            .filter { $0.state == "running" }
    }

    /// The inspection of this process's first running one-shot container, as soon as there is one (nil after 60 s).
    static func inspectRunningOneShotContainer() async throws -> (id: String, inspected: [String: Any])? {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let container = try await runningOneShotContainers().first {
                return (container.id, try await DockerProbe.rawContainerInspect(container.id))
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Hello world per language, each sleeping a second first so the test can look at its container while it runs.
    static let sleepyHello: [(language: String, file: String, source: String, expected: String)] = [
        ("python", "a.py", "import time\ntime.sleep(1)\nprint('hello')\n", "hello\n"),
        ("javascript", "a.js", "setTimeout(() => console.log('hello'), 1000)\n", "hello\n"),
        (
            "java", "Main.java",
            "public class Main { public static void main(String[] a) throws Exception { Thread.sleep(1000); System.out.println(\"hello\"); } }\n",
            "hello\n"
        ),
        ("cpp", "a.cpp", "#include <cstdio>\n#include <unistd.h>\nint main() { sleep(1); std::puts(\"hello\"); }\n", "hello\n"),
        (
            "sql", "a.sql", "SELECT SLEEP(1) INTO @x;\nSELECT 'hello' AS greeting;\n",
            "+----------+\n| greeting |\n+----------+\n| hello    |\n+----------+\n"
        ),
    ]

    /// Every language runs one-shot with no network at all: its container has network mode `none`, no session network is
    /// made, and (SQL) the in-container database server still answers over loopback.
    @Test(arguments: sleepyHello.map(\.language))
    func aOneShotRunHasNoNetwork(language: String) async throws {
        let sample = try #require(Self.sleepyHello.first { $0.language == language })
        let networksBefore = try await Live.engine().networks(labeled: [ResourceLabel.ephemeral, "\(ResourceLabel.ownerPID)=\(getpid())"])
        async let run = Live.run(language, [(sample.file, sample.source)])
        // Look at the run's container while it runs.
        let inspected = try await Self.inspectRunningOneShotContainer()?.inspected
        let outcome = try await run
        #expect(outcome.result.status == .ok && outcome.stdout == sample.expected, "\(outcome.result) \(outcome.stdout) \(outcome.stderr)")
        let hostConfig = try #require(inspected?["HostConfig"] as? [String: Any], "the run's container was never seen running")
        #expect(hostConfig["NetworkMode"] as? String == "none")
        let attached = (inspected?["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: Any] ?? [:]
        #expect(Array(attached.keys) == ["none"], "networks: \(attached.keys)")
        let networksAfter = try await Live.engine().networks(labeled: [ResourceLabel.ephemeral, "\(ResourceLabel.ownerPID)=\(getpid())"])
        #expect(networksAfter.count == networksBefore.count, "a one-shot run must not make a network")
        try await Live.expectNoLeaks()
    }

    /// Inside, the program sees loopback and nothing else, and loopback works (SQL's server relies on it).
    @Test func theOnlyInterfaceIsLoopback() async throws {
        let program = """
            import socket
            names = sorted(line.split(':')[0].strip() for line in open('/proc/net/dev').readlines()[2:])
            server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen()
            client = socket.create_connection(server.getsockname()); peer, _ = server.accept()
            client.sendall(b'ping'); print(names, peer.recv(4).decode())
            try:
                socket.create_connection(('10.64.0.1', 80), timeout=2)
                print('reached the outside')
            except OSError as error:
                print('no route:', type(error).__name__)
            """
        let outcome = try await Live.run("python", [("net.py", program)])
        #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "['lo'] ping", "\(outcome.stdout)")
        #expect(lines.last?.hasPrefix("no route:") == true, "\(outcome.stdout)")
    }

    /// `run.network = session` brings back the old behaviour: the one-shot run gets its own internal network.
    @Test func runNetworkSessionGivesAOneShotRunItsOwnNetwork() async throws {
        let program = "names = sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:])\nprint(len(names))\n"
        let folder = try CLI.folder([("n.py", program)])
        let outcome = try await CLI.run(["run", folder + "/n.py"], environment: ["CODERUNNER_RUN_NETWORK": "session"])
        #expect(outcome.status == 0 && outcome.stdoutText == "2\n", "lo and eth0 expected:\n\(outcome)")
        let bad = try await CLI.run(["run", folder + "/n.py"], environment: ["CODERUNNER_RUN_NETWORK": "bridge"])
        #expect(bad.status != 0 && bad.stderr.contains("run.network") && bad.stderr.contains("none or session"), "\(bad)")
        try await Live.expectNoLeaks()
    }

    /// The first run of a cold one-shot container and every later run of a session reach the agent without an exec:
    /// Docker records none for the container, while statuses, exit codes and stdin behave as before.
    @Test func runsReachTheAgentWithoutExec() async throws {
        // One-shot: look at the container while the program runs.
        async let oneShot = Live.run("python", [("a.py", "import sys, time\ntime.sleep(1)\nprint(sys.stdin.read().upper())\n")], stdin: "quiet")
        let oneShotExecs = try await Self.inspectRunningOneShotContainer().map { ($0.inspected["ExecIDs"] as? [Any])?.count ?? 0 }
        let first = try await oneShot
        #expect(first.result.status == .ok && first.stdout == "QUIET\n", "\(first.result) \(first.stderr)")
        #expect(oneShotExecs == 0, "a one-shot run made \(oneShotExecs.map(String.init) ?? "?") execs")

        // A session: a run that creates the container, then warm runs in it, with stdin and every kind of ending.
        let session = Self.uniqueSession("attach")
        defer { Task { await DockerProbe.removeSession(session) } }
        let echo = "import sys\ndata = sys.stdin.read()\nprint(len(data), data[:5])\nsys.exit(int(sys.argv[1]))\n"
        for (code, input) in [(0, "hello"), (3, "world"), (0, String(repeating: "x", count: 3_000_000))] {
            let outcome = try await Live.run("python", [("e.py", echo)], stdin: input, arguments: [String(code)], session: session)
            #expect(outcome.result.exitCode == Int32(code), "\(outcome.result) \(outcome.stderr)")
            #expect(outcome.stdout == "\(input.count) \(input.prefix(5))\n")
        }
        let timeout = try await Live.run("python", [("t.py", "while True: pass\n")], timeout: .seconds(1), session: session)
        #expect(timeout.result.status == .timeout)
        let after = try await Live.run("python", [("ok.py", "print('still fine')\n")], session: session)
        #expect(after.result.status == .ok && after.stdout == "still fine\n")
        let containers = try await Self.sessionContainers(session)
        #expect(containers.count == 1, "every run should have reused the one container: \(containers.map(\.name))")
        for container in containers {
            #expect(try await Self.execCount(container.id) == 0, "warm runs must not exec")
            #expect(!container.name.hasSuffix("-inuse"), "a finished run gives the container's name back")
        }
    }

    /// Input a run sent that its program never read is not seen by the next run in the same container, and a program
    /// can neither read PID 1's stdin nor write to its stdout (where it could forge agent messages).
    @Test func aRunSeesNeitherAnotherRunsInputNorTheAgentsChannel() async throws {
        let session = Self.uniqueSession("leftover")
        defer { Task { await DockerProbe.removeSession(session) } }
        // Exits at once; 2 MB of a secret are still on their way (more than the agent's stdin window).
        let secret = String(repeating: "SECRET-", count: 300_000)
        let first = try await Live.run("python", [("q.py", "print('bye')\n")], stdin: secret, session: session)
        #expect(first.result.status == .ok && first.stdout == "bye\n")
        let probe = """
            import sys, os
            print('stdin:', repr(sys.stdin.read()))
            for path, mode in (('/proc/1/fd/0', os.O_RDONLY), ('/proc/1/fd/1', os.O_WRONLY), ('/proc/1/fd/2', os.O_WRONLY)):
                try:
                    fd = os.open(path, mode | os.O_NONBLOCK)
                    print(path, 'opened')
                    os.close(fd)
                except OSError as error:
                    print(path, error.strerror)
            """
        let second = try await Live.run("python", [("p.py", probe)], stdin: "", session: session)
        #expect(second.result.status == .ok, "\(second.result) \(second.stderr)")
        #expect(second.stdout.hasPrefix("stdin: ''\n"), "\(second.stdout)")
        #expect(!second.stdout.contains("SECRET"))
        #expect(!second.stdout.contains("opened"), "\(second.stdout)")
        #expect(try await Self.sessionContainers(session).count == 1, "both runs must have used the same container")
    }

    /// Two CLI processes use one session at once: each claims a container of its own (never both on one agent's stdin),
    /// Ctrl-C stops a warm run, and the session's containers serve the next runs without an exec.
    @Test func twoCLIProcessesAndCtrlCOnWarmRuns() async throws {
        let session = Self.uniqueSession("attach2")
        defer { Task { await DockerProbe.removeSession(session) } }
        let folder = try CLI.folder([
            ("s.py", "import sys, time\nname = sys.stdin.readline().strip()\ntime.sleep(1.5)\nprint('done', name)\n"),
            ("loop.py", "import time\nprint('looping', flush=True)\nwhile True: time.sleep(0.1)\n"),
        ])
        // Warm the session with two containers first, so both concurrent runs below are warm ones.
        async let a0 = CLI.run(["run", "--session", session, folder + "/s.py"], stdin: "a0\n")
        async let b0 = CLI.run(["run", "--session", session, folder + "/s.py"], stdin: "b0\n")
        let (ra0, rb0) = try await (a0, b0)
        #expect(ra0.status == 0 && ra0.stdoutText == "done a0\n", "\(ra0)")
        #expect(rb0.status == 0 && rb0.stdoutText == "done b0\n", "\(rb0)")
        async let a = CLI.run(["run", "--session", session, folder + "/s.py"], stdin: "a\n")
        async let b = CLI.run(["run", "--session", session, folder + "/s.py"], stdin: "b\n")
        let (ra, rb) = try await (a, b)
        #expect(ra.status == 0 && ra.stdoutText == "done a\n", "\(ra)")
        #expect(rb.status == 0 && rb.stdoutText == "done b\n", "\(rb)")
        let containers = try await Self.sessionContainers(session)
        #expect(containers.count == 2, "\(containers.map(\.name))")
        // Both were created at once: one took the name a warm run claims without waiting for the list, the other
        // (refused that name by Docker) a name of its own.
        #expect(containers.filter { $0.name == "coderunner-\(session)-python" }.count == 1, "\(containers.map(\.name))")

        let looping = try CLIProcess(["run", "--session", session, folder + "/loop.py"])
        #expect(await looping.waitForStdout("looping", timeout: .seconds(30)))
        looping.send(SIGINT)
        let status = await looping.finish(timeout: .seconds(30))
        #expect(status == 130, "Ctrl-C ends the run with 130: \(looping.stderrText)")
        let next = try await CLI.run(["run", "--session", session, folder + "/s.py"], stdin: "c\n")
        #expect(next.status == 0 && next.stdoutText == "done c\n", "\(next)")
        for container in try await Self.sessionContainers(session) {
            #expect(try await Self.execCount(container.id) == 0, "\(container.name) was reached by exec")
            #expect(!container.name.hasSuffix("-inuse"), "\(container.name) kept its claim")
        }
        #expect(try await Self.sessionContainers(session).count == 2)
    }

    /// A CLI killed outright during a warm run cannot close the container's stdin (later runs share it), so the agent
    /// listens for the engine's keepalives: after `AgentWire.engineSilenceLimit` without one it stops the program.
    @Test func aWarmRunWhoseClientIsKilledStops() async throws {
        let session = Self.uniqueSession("silent")
        defer { Task { await DockerProbe.removeSession(session) } }
        let folder = try CLI.folder([
            ("hi.py", "print('hi')\n"),
            ("loop.py", "import time\nprint('looping', flush=True)\nwhile True: time.sleep(0.1)\n"),
        ])
        let first = try await CLI.run(["run", "--session", session, folder + "/hi.py"])
        #expect(first.status == 0, "\(first)")
        let container = try #require(try await Self.sessionContainers(session).first)
        let looping = try CLIProcess(["run", "--session", session, "--timeout", "120s", folder + "/loop.py"])
        #expect(await looping.waitForStdout("looping", timeout: .seconds(30)))
        looping.send(SIGKILL)
        _ = await looping.finish(timeout: .seconds(10))
        let client = try Live.engine().client
        func programRuns() async throws -> Bool {
            let top = try await client.call("GET", "/containers/\(container.id)/top", query: [("ps_args", "-eo pid,args")])
            guard top.status == 200 else { return false }  // gone: nothing runs
            return String(decoding: top.body, as: UTF8.self).contains("loop.py")
        }
        #expect(try await programRuns(), "the program should still run right after the kill")
        let killed = ContinuousClock.now
        while try await programRuns(), ContinuousClock.now - killed < .seconds(30) {
            try await Task.sleep(for: .milliseconds(500))
        }
        let took = ContinuousClock.now - killed
        #expect(try await !programRuns(), "the program outlived its client by more than 30 s")
        #expect(took >= .seconds(5), "stopped after \(took): too early for the silence limit")
    }

    /// A caller that reads slowly (a pager) holds the agent up in its writes; that is not the engine's silence: the run
    /// ends ok with all its output, and the session keeps its container.
    @Test func aSlowReaderIsNotMistakenForAGoneEngine() async throws {
        let session = Self.uniqueSession("slow")
        defer { Task { await DockerProbe.removeSession(session) } }
        let runner = try Live.runner()
        let runtime = try Live.catalog().runtime(named: "python")
        let limits = try runner.settings.limits(for: runtime, configuration: Live.configuration())
        _ = try await Live.run("python", [("a.py", "print(1)\n")], session: session, runner: runner)
        let submission = try Submission(
            files: [SubmittedFile(path: "big.py", contents: Array("import sys\nsys.stdout.write('x' * 4_000_000)\n".utf8))],
            entry: "big.py", limits: runner.settings.submissionLimits)
        var request = RunRequest(
            submission: submission, runtime: runtime, arguments: [], environment: [], limits: limits,
            session: session, fresh: false)
        request.limits.outputLimitBytes = 8 << 20
        request.limits.timeout = .seconds(60)  // a program blocked on its output still runs: not the point here
        let received = Locked(0)
        let paused = Locked(false)
        let result = await runner.run(request, input: nil) { event in
            guard case .output(_, let bytes) = event else { return }
            received.withLock { $0 += bytes.count }
            // The first chunk: stop reading for longer than the agent's silence limit.
            let first = paused.withLock { wasPaused in
                defer { wasPaused = true }
                return !wasPaused
            }
            if first { try? await Task.sleep(for: .seconds(13)) }
        }
        #expect(result.status == .ok, "\(result)")
        #expect(received.withLock { $0 } == 4_000_000)
        #expect(try await Self.sessionContainers(session).count == 1, "the session keeps its container")
        let next = try await Live.run("python", [("b.py", "print('next')\n")], session: session, runner: runner)
        #expect(next.result.status == .ok && next.stdout == "next\n")
        #expect(try await Self.sessionContainers(session).count == 1)
    }

    /// If the run's supervisor (PID 1's child) is killed, PID 1 stops the program and says so: the run ends at once
    /// instead of at its deadline.
    @Test func aKilledRunSupervisorEndsTheRunAtOnce() async throws {
        let session = Self.uniqueSession("killed")
        defer { Task { await DockerProbe.removeSession(session) } }
        let runner = try Live.runner()
        _ = try await Live.run("python", [("a.py", "print(1)\n")], session: session, runner: runner)
        let container = try #require(try await Self.sessionContainers(session).first)
        let started = ContinuousClock.now
        async let long = Live.run(
            "python", [("s.py", "import time\nprint('up', flush=True)\ntime.sleep(60)\n")],
            timeout: .seconds(60), session: session, runner: runner)
        let engine = try Live.engine()
        let killer = #"""
            for d in /proc/[0-9]*; do
              p=${d#/proc/}; [ "$p" = 1 ] || [ "$p" = "$$" ] && continue
              case "$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)" in *"coderunner-agent idle"*) kill -9 "$p" && echo "killed $p" ;; esac
            done
            """#
        var killed = false
        while !killed, ContinuousClock.now - started < .seconds(30) {
            try await Task.sleep(for: .milliseconds(300))
            let connection = try await engine.exec(container.id, argv: ["/bin/sh", "-c", killer])
            var output: [UInt8] = []
            for try await chunk in connection.stdout { output += chunk }
            await connection.close()
            killed = String(decoding: output, as: UTF8.self).contains("killed")
        }
        #expect(killed, "found no run supervisor to kill")
        let outcome = try await long
        #expect(ContinuousClock.now - started < .seconds(30), "the run should end soon after its supervisor died")
        #expect(outcome.result.status == .internalError && outcome.result.message?.contains("supervisor") == true, "\(outcome.result)")
    }
}
