import CodeRunnerCore
import CodeRunnerDocker
import Foundation
import Testing

@testable import DockerEngine

#if canImport(Glibc)
import Glibc
#endif

/// Faults outside the program (issue 7): the runtime image vanishes under a session, the subnet pools run out, the
/// engine itself goes away. Each must end in a clear error that names the fix, and normal service must come back.
@Suite("Faults", .serialized, .docker)
struct FaultTests {
    static let faultImage = "coderunner/python-fault:latest"

    func sessionContainers(_ session: String) async throws -> [ContainerInfo] {
        try await Live.engine().containers(labeled: ["\(ResourceLabel.session)=\(session)"])
    }

    @Test func deletedRuntimeImageNamesTheFix() async throws {
        let engine = try Live.engine()
        let session = "fault-img-" + DockerProbe.randomSuffix()
        // A throwaway tag of the real image, so removing it never touches what other tests use.
        let tagged = try await engine.client.call(
            "POST", "/images/coderunner/python:latest/tag", query: [("repo", "coderunner/python-fault"), ("tag", "latest")])
        try #require(tagged.status == 201, "tagging answered \(tagged.status): \(String(decoding: tagged.body, as: UTF8.self))")
        let environment = ["CODERUNNER_RUNTIME_PYTHON_IMAGE": Self.faultImage]
        let dir = try CLI.folder([("hello.py", "print('hello')")])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let first = try await CLI.run(["run", "--session", session, dir + "/hello.py"], environment: environment)
            #expect(first.status == 0 && first.stdoutText == "hello\n", "\(first)")
            let containers = try await sessionContainers(session)
            #expect(containers.count == 1 && containers.first?.image == Self.faultImage, "\(containers.map { ($0.name, $0.image) })")

            try await engine.removeImage(Self.faultImage)
            #expect(try await engine.image(Self.faultImage) == nil, "the tag is still there")
            for container in try await sessionContainers(session) { try await engine.removeContainer(container.id) }

            let second = try await CLI.run(["run", "--session", session, dir + "/hello.py"], environment: environment)
            #expect(second.status == 125, "\(second)")
            #expect(second.stderr.contains("coderunner images build"), "the error should name the fix: \(second.stderr)")
            #expect(second.stderr.contains(Self.faultImage), "the error should name the image: \(second.stderr)")
            #expect(second.stdout.isEmpty)
            #expect(try await sessionContainers(session).isEmpty, "a container was left from the failed create")
        } catch {
            try? await engine.removeImage(Self.faultImage)
            try? await Live.runner().endSession(session)
            throw error
        }
        try? await engine.removeImage(Self.faultImage)
        try await Live.runner().endSession(session)
        let left = try await Live.leftovers(label: "\(ResourceLabel.session)=\(session)")
        #expect(left.networks.isEmpty && left.containers.isEmpty, "session \(session) not cleaned up: \(left)")
        try await Live.expectNoLeaks()
    }

    @Test func exhaustedSubnetPoolsNameThePoolsAndCapacityReturns() async throws {
        // Two /24s only; no Docker network may already sit in them, or the test would measure someone else's.
        let pool = "10.99.0.0/23"
        let privatePool = try await Live.privatePool(pool)
        let engine = try Live.engine()
        let environment = privatePool.environment
        let sessions = (0..<3).map { "fault-pool\($0)-" + DockerProbe.randomSuffix() }
        let dir = try CLI.folder([("hello.py", "print('hello')")])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            for session in sessions.prefix(2) {
                let held = try await CLI.run(["run", "--session", session, dir + "/hello.py"], environment: environment)
                #expect(held.status == 0, "\(held)")
            }
            var subnets: [String] = []
            for session in sessions { subnets += try await Live.sessionNetworks(session).flatMap(\.subnets) }
            subnets.sort()
            #expect(subnets == ["10.99.0.0/24", "10.99.1.0/24"], "\(subnets)")

            let refused = try await CLI.run(["run", "--session", sessions[2], dir + "/hello.py"], environment: environment)
            #expect(refused.status == 125, "\(refused)")
            #expect(refused.stderr.contains(pool), "the error should name the pools: \(refused.stderr)")
            #expect(refused.stderr.contains("network.pools") || refused.stderr.contains("end sessions"), "\(refused.stderr)")
            // A one-shot run needs no subnet by default, so full pools do not stop it; with run.network = session it does.
            let oneShot = try await CLI.run(["run", dir + "/hello.py"], environment: environment)
            #expect(oneShot.status == 0 && oneShot.stdoutText == "hello\n", "\(oneShot)")
            var withNetwork = environment
            withNetwork["CODERUNNER_RUN_NETWORK"] = "session"
            let oneShotWithNetwork = try await CLI.run(["run", dir + "/hello.py"], environment: withNetwork)
            #expect(oneShotWithNetwork.status == 125 && oneShotWithNetwork.stderr.contains(pool), "\(oneShotWithNetwork)")
            #expect(try await Live.leftovers(label: "\(ResourceLabel.session)=\(sessions[2])").networks.isEmpty)

            try await Live.runner().endSession(sessions[0])
            let after = try await CLI.run(["run", "--session", sessions[2], dir + "/hello.py"], environment: environment)
            #expect(after.status == 0 && after.stdoutText == "hello\n", "capacity did not return: \(after)")
        } catch {
            for session in sessions { try? await Live.runner().endSession(session) }
            throw error
        }
        for session in sessions { try await Live.runner().endSession(session) }
        for session in sessions {
            let left = try await Live.leftovers(label: "\(ResourceLabel.session)=\(session)")
            #expect(left.networks.isEmpty && left.containers.isEmpty, "session \(session) not cleaned up: \(left)")
            #expect(try await Live.sessionNetworks(session).isEmpty, "session \(session) still holds a network")
        }
        // The two networks are back in the pool, ready; this test's pool is its own, so they go.
        let ready = try await engine.networks(labeled: [ResourceLabel.pool]).filter(privatePool.inPool)
        #expect(ready.count == 2, "\(ready.map(\.name))")
        try await privatePool.removeNetworks()
        try await Live.expectNoLeaks()
    }

    static var destructive: Bool { ProcessInfo.processInfo.environment["CODERUNNER_DESTRUCTIVE_TESTS"] == "1" }

    /// Stops `dockerd` in the middle of a run and starts it again. It takes the engine away from everyone using this
    /// machine, so it only runs when CODERUNNER_DESTRUCTIVE_TESTS=1 (and needs root and the `service`/`dockerd` commands
    /// that setup.sh uses). Starts dockerd the way `.ci/run` does when no service manager knows it.
    @Test(.enabled(if: destructive, "stops dockerd: set CODERUNNER_DESTRUCTIVE_TESTS=1 on a machine of your own"))
    func dockerdStoppedDuringARunEndsInInternalErrorAndLaterRunsWork() async throws {
        let dir = try CLI.folder([("slow.py", "import time\nprint('started', flush=True)\ntime.sleep(30)\nprint('never')")])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let process = try CLIProcess(["run", "--timeout", "60s", dir + "/slow.py"])
        defer { process.send(SIGKILL) }
        try #require(await process.waitForStdout("started", timeout: .seconds(60)), "\(process.stderrText)")

        Self.trace("stopping dockerd")
        // By the pid dockerd wrote, never by name: other daemons on the machine are not ours to stop.
        try Self.shell(
            "pid=$(cat /var/run/docker.pid) && kill -TERM \"$pid\" || exit 1; for i in $(seq 1 100); do kill -0 \"$pid\" 2>/dev/null || exit 0; sleep 0.2; done; exit 1"
        )
        Self.trace("dockerd stopped")
        let status = await process.finish(timeout: .seconds(60))
        Self.trace("cli finished \(status.map(String.init) ?? "none")")
        #expect(status == 125, "exit \(status.map(String.init) ?? "none"); stderr: \(process.stderrText)")
        #expect(process.stderrText.contains("coderunner:"), "one clear line expected: \(process.stderrText)")
        #expect(!process.stdoutText.contains("never"))

        // setsid -f and no inherited descriptors: the restarted dockerd must not belong to this test's process tree
        // (Foundation's waitUntilExit never returned while it did).
        try Self.shell("setsid -f sh -c 'exec dockerd >/var/log/dockerd-fault-test.log 2>&1 </dev/null'")
        Self.trace("dockerd started")
        try Self.shell("for i in $(seq 1 150); do [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1")
        // Later runs work, and nothing of the interrupted run survives the restart (the container had --rm; the
        // ephemeral network is collected by `net gc`, which must find it).
        Self.trace("engine answers")
        let later = try await CLI.run(["run", dir + "/slow.py", "--timeout", "1s"])
        Self.trace("later run done")
        #expect(later.status == 124, "\(later)")
        let gc = try await CLI.run(["net", "gc"])
        #expect(gc.status == 0, "\(gc)")
        try await Live.expectNoLeaks()
    }

    static func trace(_ message: String) {
        FileHandle.standardError.write(Data("[fault test] \(message)\n".utf8))
    }

    /// Runs a shell script and waits for it with waitpid. (Foundation's waitUntilExit never returned for the script
    /// that restarts dockerd, even though the script had exited.)
    static func shell(_ script: String) throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(script), nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
        try #require(spawned == 0, "cannot start /bin/sh: \(spawned)")
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status >> 8) & 0xff
        try #require(status & 0x7f == 0 && exitCode == 0, "`\(script)` failed with status \(status)")
    }
}
