import CodeRunnerCore
import CodeRunnerDocker
import Foundation
import Testing

@testable import DockerEngine

#if canImport(Glibc)
import Glibc
#endif

/// Hostile programs that try to leave their container: privileged operations, and other sessions or the host over the
/// network (part of `HostileProgramTests`, issue 7).
extension HostileProgramTests {
    // MARK: Escapes

    /// Each privileged operation, tried from C, prints `name=OK` or `name=ERRNO_NAME`.
    static let escapeProbe = #"""
        #define _GNU_SOURCE
        #include <errno.h>
        #include <fcntl.h>
        #include <netinet/in.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/mount.h>
        #include <sys/ptrace.h>
        #include <sys/socket.h>
        #include <sys/stat.h>
        #include <sys/syscall.h>
        #include <sys/wait.h>
        #include <unistd.h>

        static const char *name(int e) {
            switch (e) {
            case EPERM: return "EPERM"; case EACCES: return "EACCES"; case ENOSYS: return "ENOSYS"; case EROFS: return "EROFS";
            case ENOENT: return "ENOENT"; case ESRCH: return "ESRCH"; case EINVAL: return "EINVAL"; case EFAULT: return "EFAULT";
            case EBADF: return "EBADF"; case ENOEXEC: return "ENOEXEC"; default: return "OTHER";
            }
        }
        static void report(const char *what, int rc) { printf("%s=%s\n", what, rc == 0 ? "OK" : name(errno)); }

        int main(void) {
            int fd = open("/etc/shadow", O_RDONLY);
            report("read_shadow", fd >= 0 ? 0 : -1);
            fd = open("/etc/coderunner-escape", O_WRONLY | O_CREAT, 0644);
            report("write_etc", fd >= 0 ? 0 : -1);
            fd = open("/usr/bin/coderunner-escape", O_WRONLY | O_CREAT, 0644);
            report("write_usr", fd >= 0 ? 0 : -1);
            fd = open("/coderunner-escape", O_WRONLY | O_CREAT, 0644);
            report("write_root", fd >= 0 ? 0 : -1);
            mkdir("/tmp/mnt", 0755);
            report("mount", mount("none", "/tmp/mnt", "tmpfs", 0, NULL));
            report("remount_root", mount(NULL, "/", NULL, MS_REMOUNT, NULL));
            report("chroot", chroot("/tmp"));
            report("sethostname", sethostname("escaped", 7));
            report("setuid0", setuid(0));
            report("raw_socket", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0 ? 0 : -1);
            report("packet_socket", socket(AF_PACKET, SOCK_RAW, 0) >= 0 ? 0 : -1);
            report("init_module", (int)syscall(SYS_init_module, "", 0UL, ""));
            int self = open("/proc/self/exe", O_RDONLY);
            report("finit_module", (int)syscall(SYS_finit_module, self, "", 0));
            report("unshare_user", (int)syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
            /* The container's pid 1 is the agent: the host's init (and its environment) is not even visible. */
            char buf[256] = {0};
            fd = open("/proc/1/cmdline", O_RDONLY);
            if (fd >= 0) { ssize_t n = read(fd, buf, sizeof buf - 1); if (n > 0) buf[n] = 0; close(fd); }
            printf("pid1=%s\n", buf);
            /* ptrace: TRACEME in a child, then attach to pid 1 (the agent, same uid) and to our parent (the run supervisor). */
            pid_t child = fork();
            if (child == 0) { _exit(ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : 1); }
            int status = 0;
            waitpid(child, &status, 0);
            printf("traceme=%s\n", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "OK" : "REFUSED");
            long rc = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
            report("ptrace_pid1", (int)rc);
            if (rc == 0) { waitpid(1, NULL, __WALL); ptrace(PTRACE_DETACH, 1, NULL, NULL); }
            pid_t parent = getppid();
            rc = ptrace(PTRACE_ATTACH, parent, NULL, NULL);
            report("ptrace_parent", (int)rc);
            if (rc == 0) { waitpid(parent, NULL, __WALL); ptrace(PTRACE_DETACH, parent, NULL, NULL); }
            fflush(stdout);
            return 0;
        }
        """#

    @Test func privilegedOperationsAreRefused() async throws {
        let outcome = try await Live.run("cpp", [("escape.c", Self.escapeProbe)], timeout: .seconds(10))
        #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr.prefix(2000))")
        var report: [String: String] = [:]
        for line in outcome.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { report[parts[0]] = parts[1] }
        }
        let refused: Set<String> = ["EPERM", "EACCES", "ENOSYS", "EROFS"]
        for key in [
            "read_shadow", "write_etc", "write_usr", "write_root", "mount", "remount_root", "chroot", "sethostname",
            "setuid0", "raw_socket", "packet_socket", "init_module", "finit_module", "unshare_user",
        ] {
            #expect(refused.contains(report[key] ?? "missing"), "\(key) = \(report[key] ?? "missing") (expected refusal)\n\(outcome.stdout)")
        }
        #expect(report["pid1"]?.contains("coderunner-agent") == true, "pid 1 inside is \(report["pid1"] ?? "?"): not the agent")
        // The agents run as the program's uid. A program that can trace the idle agent (pid 1) can keep its container alive
        // past the TTL; one that can trace its run supervisor (its parent) can forge its own result and limits.
        // The images make the agent execute-only, so its processes are not dumpable and cannot be traced.
        #expect(refused.contains(report["ptrace_pid1"] ?? "missing"), "ptrace of pid 1 (the idle agent): \(report["ptrace_pid1"] ?? "missing")")
        #expect(refused.contains(report["ptrace_parent"] ?? "missing"), "ptrace of the run supervisor: \(report["ptrace_parent"] ?? "missing")")
        try await Live.expectNoLeaks()
    }

    // MARK: Network

    actor Stream {
        var text = ""
        func add(_ event: RunEvent) { if case .output(_, let bytes) = event { text += String(decoding: bytes, as: UTF8.self) } }
    }

    /// Starts a run (as `Live.run` does) and returns its output so far as it arrives, and the result when it ends.
    func start(_ language: String, _ files: [(String, String)], timeout: Duration, session: String) throws -> (Stream, Task<RunResult, Never>) {
        let runner = try Live.runner()
        let configuration = try Live.configuration()
        let runtime = try Live.catalog().runtime(named: language)
        var limits = try runner.settings.limits(for: runtime, configuration: configuration)
        limits.timeout = timeout
        let submission = try Submission(
            files: files.map { SubmittedFile(path: $0.0, contents: Array($0.1.utf8)) }, entry: files[0].0,
            limits: runner.settings.submissionLimits)
        let request = RunRequest(
            submission: submission, runtime: runtime, arguments: [], environment: [], limits: limits,
            session: session, fresh: false)
        let stream = Stream()
        let task = Task { await runner.run(request, input: nil) { await stream.add($0) } }
        return (stream, task)
    }

    /// The connect probe run inside a container: `target=result` per address (ok, refused, timeout, unreachable...).
    static let connectProbe = #"""
        import socket, sys, time
        for target in sys.argv[1:]:
            host, port = target.rsplit(':', 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2)
            start = time.monotonic()
            try:
                s.connect((host, int(port)))
                result = 'ok:' + s.recv(64).decode(errors='replace').strip()
            except socket.timeout: result = 'timeout'
            except ConnectionRefusedError: result = 'refused'
            except OSError as e: result = 'error:' + (e.strerror or str(e.errno))
            finally: s.close()
            print(f'{target}={result} {time.monotonic() - start:.2f}s', flush=True)
        """#

    func probe(_ targets: [String], session: String) async throws -> [String: String] {
        let outcome = try await Live.run("python", [("probe.py", Self.connectProbe)], arguments: targets, timeout: .seconds(30), session: session)
        #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
        var results: [String: String] = [:]
        for line in outcome.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { results[parts[0]] = parts[1] }
        }
        return results
    }

    /// A listening socket on every host address (so also on the bridges' gateway addresses), answering "host".
    final class HostListener: @unchecked Sendable {
        let fd: Int32
        let port: UInt16
        init() throws {
            let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = INADDR_ANY
            address.sin_port = 0
            let size = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listening, $0, size) } }
            guard listening >= 0, bound == 0, listen(listening, 16) == 0 else {
                close(listening)
                throw POSIXError(.EADDRINUSE)
            }
            var length = size
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listening, $0, &length) }
            }
            fd = listening
            port = UInt16(bigEndian: address.sin_port)
            Thread {
                while true {
                    let client = accept(listening, nil, nil)
                    if client < 0 { return }
                    _ = "host\n".withCString { write(client, $0, 5) }
                    close(client)
                }
            }.start()
        }
        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    @Test func sessionsCannotReachEachOtherNorTheHost() async throws {
        let a = "hostile-neta-" + DockerProbe.randomSuffix()
        let b = "hostile-netb-" + DockerProbe.randomSuffix()
        let listener = try HostListener()
        defer { listener.stop() }
        do {
            // A's server: answers "from-a" on 0.0.0.0:8000 until the run's timeout.
            let server = """
                import socket
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(('0.0.0.0', 8000)); s.listen(8)
                print('listening', flush=True)
                while True:
                    c, _ = s.accept(); c.sendall(b'from-a\\n'); c.close()
                """
            let (output, serverRun) = try start("python", [("server.py", server)], timeout: .seconds(45), session: a)
            let deadline = ContinuousClock.now + .seconds(60)
            while await !output.text.contains("listening"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            let serverOutput = await output.text
            try #require(serverOutput.contains("listening"), "A's server never started: \(serverOutput)")

            let engine = try Live.engine()
            let containers = try await engine.containers(labeled: ["\(ResourceLabel.session)=\(a)"])
            try #require(containers.count == 1, "\(containers.map(\.name))")
            let inspect = try #require(try await engine.client.containerInspect(containers[0].id))
            let (networkName, endpoint) = try #require(inspect.networkSettings?.networks?.first)
            let addressA = try #require(endpoint.ipAddress, "no address on \(networkName)")
            let network = try #require(try await engine.client.networkInspect(networkName))
            let subnetA = try #require(network.subnets.first.flatMap(IPv4Network.init))
            let gatewayA = subnetA.gateway

            // Control: a second container of session A (same network) reaches the server, so the refusals below mean isolation.
            let control = try await probe(["\(addressA):8000"], session: a)
            #expect(control["\(addressA):8000"]?.hasPrefix("ok:from-a") == true, "same-session control failed: \(control)")

            // Session B (its own internal network) must not get through to A's container.
            let fromB = try await probe(["\(addressA):8000"], session: b)
            let crossResult = fromB["\(addressA):8000"] ?? "missing"
            #expect(!crossResult.hasPrefix("ok"), "session B reached session A's server: \(crossResult)")

            // From A: the host's services on its bridge addresses (the session gateway and docker0).
            let hostTargets = [
                "\(gatewayA):22", "\(gatewayA):80", "172.17.0.1:22", "172.17.0.1:80",
                "\(gatewayA):\(listener.port)", "172.17.0.1:\(listener.port)",
            ]
            let fromA = try await probe(hostTargets, session: a)
            for target in hostTargets {
                let result = fromA[target] ?? "missing"
                let seconds = Double(result.split(separator: " ").last?.dropLast() ?? "") ?? 99
                #expect(seconds <= 2.5, "\(target) neither refused nor dropped fast: \(result)")
                // Session bridges carry no host address (inhibit_ipv4), so even a service listening on all of the
                // host's addresses is out of reach.
                #expect(!result.hasPrefix("ok"), "session A reached the host's service at \(target): \(result)")
            }
            // Ending the session removes A's container under the server: its run must end promptly, not hang.
            try await Live.runner().endSession(a)
            let ended = ContinuousClock.now
            let result = await serverRun.value
            #expect(ContinuousClock.now - ended < .seconds(20), "the server's run outlived its session")
            #expect(result.status != .ok, "\(result)")
        } catch {
            try? await Live.runner().endSession(a)
            try? await Live.runner().endSession(b)
            throw error
        }
        try await Live.runner().endSession(a)
        try await Live.runner().endSession(b)
        for session in [a, b] {
            let left = try await Live.leftovers(label: "\(ResourceLabel.session)=\(session)")
            #expect(left.networks.isEmpty && left.containers.isEmpty, "session \(session) not cleaned up: \(left)")
        }
        try await Live.expectNoLeaks()
    }
}
