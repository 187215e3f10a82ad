import CodeRunnerCore
import CodeRunnerDocker
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Programs that attack their supervisor (issue 17, items 3, 4, 8 and 9; issue 19, items 5 and 6): the agent runs as
/// another uid than the program, its state is out of the program's reach, the engine keeps its own deadline, host
/// details are hidden and shared memory is small and emptied between runs.
extension HostileProgramTests {
    /// A program that tries `attack` (Python), prints what happened, then sleeps past its time limit.
    static func attackThenSleep(_ attack: String) -> String {
        """
        import os, signal, sys, time
        try:
        \(attack.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            print('attack=done', flush=True)
        except OSError as e:
            print('attack=refused ' + type(e).__name__, flush=True)
        time.sleep(30)
        """
    }

    @Test(arguments: [
        ("stop-parent", "os.kill(os.getppid(), signal.SIGSTOP)"),
        ("kill-parent", "os.kill(os.getppid(), signal.SIGKILL)"),
        ("stop-everyone", "os.kill(-1, signal.SIGSTOP)"),
        ("stop-pid1", "os.kill(1, signal.SIGSTOP)"),
    ])
    func programCannotStopOrKillItsSupervisor(name: String, attack: String) async throws {
        try await withSession(name) { session in
            let started = ContinuousClock.now
            let outcome = try await Live.run("python", [("attack.py", Self.attackThenSleep(attack))], timeout: .seconds(3), session: session)
            let took = ContinuousClock.now - started
            #expect(outcome.result.status == .timeout, "\(outcome.result) \(outcome.stdout) \(outcome.stderr)")
            expectExitCode(outcome.result, 124)
            // kill(-1) reaches only the program's own processes; signalling the agent (another uid) is refused.
            let expected = name == "stop-everyone" ? "attack=done" : "attack=refused PermissionError"
            #expect(outcome.stdout.hasPrefix(expected), "stdout: \(outcome.stdout)")
            #expect(took < .seconds(6), "the 3 s limit held the run for \(took)")
            try await expectCleanNextRun(in: session)
        }
    }

    @Test func programCannotReadOrWriteTheAgentState() async throws {
        try await withSession("state") { session in
            let probe = #"""
                import os
                for path in ['/run/coderunner', '/run/coderunner/services', '/run/coderunner/activity']:
                    try:
                        if path == '/run/coderunner':
                            os.listdir(path)
                        else:
                            open(path, 'a').write('1\n')
                        print(path, 'open')
                    except OSError as e:
                        print(path, type(e).__name__)
                print('uid', os.getuid(), os.geteuid(), 'gid', os.getgid())
                print('parent uid', os.stat(f'/proc/{os.getppid()}').st_uid)
                """#
            let outcome = try await Live.run("python", [("probe.py", probe)], session: session)
            #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
            #expect(
                outcome.stdout == """
                    /run/coderunner PermissionError
                    /run/coderunner/services PermissionError
                    /run/coderunner/activity PermissionError
                    uid 1000 1000 gid 1000
                    parent uid 0

                    """, "stdout: \(outcome.stdout)")
        }
    }

    /// The sweep after a run spares only the services the agent itself started: a program cannot enrol its own
    /// process (the list is out of its reach), and a `setsid` grandchild is gone before the next run.
    @Test func setsidDoubleForkDoesNotOutliveTheRun() async throws {
        try await withSession("setsid") { session in
            // The grandchild enrols its own new session where the agent used to keep its spare list (/tmp/.coderunner,
            // writable by programs until issue 17) and where it keeps it now.
            let escape = #"""
                import os, time
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        for path in ['/run/coderunner/services', '/tmp/.coderunner/services']:
                            try:
                                os.makedirs(os.path.dirname(path), exist_ok=True)
                                open(path, 'a').write(f'{os.getsid(0)}\n')
                            except OSError:
                                pass
                        while True:
                            time.sleep(0.1)
                    os._exit(0)
                time.sleep(0.3)
                print('escaped', flush=True)
                """#
            let outcome = try await Live.run("python", [("escape.py", escape)], session: session)
            #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
            #expect(outcome.stdout == "escaped\n")
            try await expectCleanNextRun(in: session)
        }
    }

    @Test func hostDetailsInProcAndSysAreHidden() async throws {
        let probe = #"""
            import os
            print('cmdline=' + repr(open('/proc/cmdline').read()))
            dmi = '/sys/devices/virtual/dmi/id'
            print('dmi=' + repr(sorted(os.listdir(dmi)) if os.path.isdir(dmi) else []))
            """#
        let outcome = try await Live.run("python", [("probe.py", probe)])
        #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
        #expect(outcome.stdout == "cmdline=''\ndmi=[]\n", "stdout: \(outcome.stdout)")
        try await Live.expectNoLeaks()
    }

    @Test func sharedMemoryIsSmallAndEmptiedBetweenRuns() async throws {
        try await withSession("shm") { session in
            let fill = #"""
                import os
                written = 0
                try:
                    with open('/dev/shm/fill', 'wb') as f:
                        while written < (256 << 20):
                            f.write(b'\0' * (1 << 20)); f.flush(); written += 1 << 20
                except OSError as e:
                    print('stopped', type(e).__name__)
                print('written', written >> 20)
                """#
            let filled = try await Live.run("python", [("fill.py", fill)], memory: 256 << 20, session: session)
            let megabytes = Int(filled.stdout.split(separator: "\n").last { $0.hasPrefix("written ") }?.dropFirst(8) ?? "") ?? -1
            #expect(megabytes >= 0 && megabytes <= 16, "wrote \(megabytes) MiB into /dev/shm: \(filled.stdout) \(filled.stderr)")
            let next = try await Live.run(
                "python", [("list.py", "import os\nprint(os.listdir('/dev/shm'), os.listdir('/dev/mqueue'))\n")],
                memory: 256 << 20, session: session)
            #expect(next.stdout == "[] []\n", "what the next run found: \(next.stdout) \(next.stderr)")
        }
    }

    /// The engine's own deadline: with the agent frozen from outside (root in the container, as nothing inside can do
    /// any more), the run still ends as `timeout` shortly after its limit plus the grace period, and the container goes.
    @Test func engineEndsARunWhoseAgentIsFrozen() async throws {
        try await withSession("frozen") { session in
            let engine = try Live.engine()
            let finished = Locked<Live.Outcome?>(nil)
            let run = Task {
                let outcome = try await Live.run(
                    "python", [("sleep.py", "import time\nprint('ready', flush=True)\ntime.sleep(60)\n")],
                    timeout: .seconds(2), session: session)
                finished.withLock { $0 = outcome }
            }
            let freeze = #"""
                for d in /proc/[0-9]*; do
                  [ "${d#/proc/}" = "$$" ] && continue  # this script's own command line holds every pattern below
                  c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)
                  # The run's agent: an exec'd `coderunner-agent run`, or the child PID 1 forked for a run on its stdin.
                  case "$c" in
                    *"coderunner-agent run"*) agent=${d#/proc/} ;;
                    *"coderunner-agent idle"*) [ "${d#/proc/}" != 1 ] && agent=${d#/proc/} ;;
                    *"sleep.py"*) program=1 ;;
                  esac
                done
                [ -n "$agent" ] && [ -n "$program" ] && kill -STOP "$agent" && echo "stopped $agent"
                """#
            var frozen = false
            let started = ContinuousClock.now
            while !frozen, ContinuousClock.now - started < .seconds(20) {
                for container in try await engine.containers(labeled: ["\(ResourceLabel.session)=\(session)"]) where container.state == "running" {
                    let connection = try await engine.exec(container.id, argv: ["/bin/sh", "-c", freeze])
                    var output: [UInt8] = []
                    for try await chunk in connection.stdout { output += chunk }
                    await connection.close()
                    if String(decoding: output, as: UTF8.self).hasPrefix("stopped") { frozen = true }
                }
                if !frozen { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(frozen, "could not freeze the agent")
            // Polled, not awaited: a run that never ends (the agent frozen and nothing else keeping time) must fail the
            // test, not hang it. Ending the session afterwards removes the container and so ends such a run.
            while finished.withLock({ $0 }) == nil, ContinuousClock.now - started < .seconds(40) {
                try await Task.sleep(for: .milliseconds(200))
            }
            let took = ContinuousClock.now - started
            guard let outcome = finished.withLock({ $0 }) else {
                Issue.record("the run did not end within 40 s of its 2 s limit with its agent frozen")
                run.cancel()
                return
            }
            #expect(outcome.result.status == .timeout, "\(outcome.result)")
            expectExitCode(outcome.result, 124)
            #expect(took < .seconds(12), "took \(took)")
            let left = try await engine.containers(labeled: ["\(ResourceLabel.session)=\(session)"]).filter { $0.state == "running" }
            #expect(left.isEmpty, "the frozen run's container is still running: \(left.map(\.name))")
        }
    }

    /// Issue 19, item 5: the idle clock lives with the agent, so the old trick of replacing the activity file with a
    /// directory dated 2036 no longer keeps a container past its TTL.
    @Test func programCannotExtendItsContainersIdleTime() async throws {
        var settings = try EngineSettings(Live.configuration())
        settings.containerTTL = .seconds(3)
        let runner = try CodeRunner(engine: Live.engine(), settings: settings)
        try await withSession("ttl") { session in
            let trick = #"""
                import os
                for state in ['/tmp/.coderunner', '/run/coderunner']:
                    try:
                        if os.path.isfile(state + '/activity'):
                            os.remove(state + '/activity')
                        os.makedirs(state + '/activity', exist_ok=True)
                        os.utime(state + '/activity', (2_100_000_000, 2_100_000_000))
                        print(state, 'replaced')
                    except OSError as e:
                        print(state, type(e).__name__)
                """#
            let outcome = try await Live.run("python", [("trick.py", trick)], session: session, runner: runner)
            #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
            #expect(outcome.stdout.contains("/run/coderunner PermissionError"), "stdout: \(outcome.stdout)")
            let engine = try Live.engine()
            let waited = ContinuousClock.now
            var alive = 1
            while alive > 0, ContinuousClock.now - waited < .seconds(15) {
                try await Task.sleep(for: .milliseconds(500))
                alive = try await engine.containers(labeled: ["\(ResourceLabel.session)=\(session)"]).filter { $0.state == "running" }.count
            }
            #expect(alive == 0, "the container outlived its 3 s idle TTL by more than 12 s")
        }
    }
}

/// Issue 19, item 6: 200 MB piped into a program that never reads its stdin. The agent buffers at most its stdin window,
/// so it survives, and the run ends at its time limit with the program's output kept.
@Suite("Stdin flood", .serialized, .docker)
struct StdinFloodTests {
    @Test func stdinFloodIntoAProgramThatNeverReadsEndsAtItsLimit() async throws {
        let folder = try Live.temporaryDirectory([("prog.py", "import time\nprint('started', flush=True)\ntime.sleep(30)\n")])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let session = "flood-" + DockerProbe.randomSuffix()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "head -c 200000000 /dev/zero | exec \"$0\" run --session \"$1\" --timeout 5s prog.py", Live.cliPath, session]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CODERUNNER_") }
        environment["CODERUNNER_RUNTIMES_DIR"] = Live.repositoryRoot + "/runtimes"
        environment["CODERUNNER_CONFIG"] = "/dev/null"
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let outPipe = Pipe()
        let errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        let started = ContinuousClock.now
        try process.run()
        // `exec` makes the shell's pid the CLI's: its peak memory shows whether it read the flood ahead of the program.
        let pid = process.processIdentifier
        let peak = Task.detached { () -> Int in
            var highest = 0
            while !Task.isCancelled {
                guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { break }
                if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                    let kib = Int(line.split(separator: " ").dropFirst().first ?? "")
                {
                    highest = max(highest, kib)
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return highest
        }
        let stdout = outPipe.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let took = ContinuousClock.now - started
        try? await Live.runner().endSession(session)
        #expect(process.terminationStatus == 124, "exit \(process.terminationStatus): \(stderr)")
        #expect(String(decoding: stdout, as: UTF8.self) == "started\n", "stdout: \(String(decoding: stdout, as: UTF8.self))")
        #expect(stderr.contains("time limit exceeded"), "stderr: \(stderr)")
        #expect(took < .seconds(15), "took \(took)")
        peak.cancel()
        let peakKiB = await peak.value
        #expect(peakKiB > 0 && peakKiB < 100 << 10, "the CLI's peak memory was \(peakKiB >> 10) MiB while 200 MB were piped in")
        try await Live.expectNoLeaks()
    }
}
