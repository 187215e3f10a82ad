import CodeRunnerCore
import CodeRunnerDocker
import DockerEngine
import Foundation
import Testing

/// The lock-down promised in the README ("Security defaults"), checked twice: as Docker reports the
/// container and network while a program runs, and from inside by programs that try to get out. No test sends a packet
/// anywhere: isolation is read from the routing table, not probed.
@Suite("Containment", .serialized, .docker)
struct ContainmentTests {
    /// The pools coderunner allocates from by default (network.pools).
    static let defaultPools = ["10.64.0.0/12", "10.10.0.0/16"].compactMap(IPv4Network.init)

    @Test func dockerReportsTheSecuritySettings() async throws {
        // The program waits for a line on stdin, so the container stays up exactly as long as the test inspects it.
        let dir = try CLI.folder([("wait.py", "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\nprint('released')")])
        // A one-shot run has no network by default (AgentChannelTests); this one asks for a session network to check it.
        let process = try CLIProcess(["run", dir + "/wait.py"], environment: ["CODERUNNER_RUN_NETWORK": "session"])
        defer { process.send(SIGKILL) }  // no-op once it exited; never leaves a CLI running if an expectation throws
        guard await process.waitForStdout("ready", timeout: .seconds(60)) else {
            Issue.record("the program never started; stderr: \(process.stderrText)")
            return
        }
        let engine = try Live.engine()
        let containers = try await engine.containers(labeled: [ResourceLabel.session, "\(ResourceLabel.ownerPID)=\(process.pid)"])
        try #require(containers.count == 1, "expected the run's one container, found \(containers.map(\.name))")
        let container = containers[0]
        let session = try #require(container.labels[ResourceLabel.session])

        let raw = try await DockerProbe.rawContainerInspect(container.id)
        let host = try #require(raw["HostConfig"] as? [String: Any])
        let config = try #require(raw["Config"] as? [String: Any])
        func int(_ key: String) -> Int64? { (host[key] as? NSNumber)?.int64Value }
        #expect(host["ReadonlyRootfs"] as? Bool == true)
        // The agent (the container's user) is root with three capabilities; programs become uid 1000 with none (the
        // in-container report below checks that).
        #expect(config["User"] as? String == "0:0")
        #expect(host["CapDrop"] as? [String] == ["ALL"])
        #expect(Set(host["CapAdd"] as? [String] ?? []) == ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"])
        #expect((host["MaskedPaths"] as? [String] ?? []).contains("/proc/cmdline"))
        #expect(int("ShmSize") == 16 << 20)
        #expect(host["Privileged"] as? Bool == false)
        #expect((host["SecurityOpt"] as? [String] ?? []).contains("no-new-privileges"))
        #expect(int("Memory") == 128 << 20, "python's manifest sets 128m")
        #expect(int("MemorySwap") == int("Memory"), "swap must not be added to memory")
        #expect(int("PidsLimit") == 128)
        #expect(int("NanoCpus") == 1_000_000_000)
        let tmpfs = host["Tmpfs"] as? [String: String] ?? [:]
        #expect(Set(tmpfs.keys) == ["/app", "/tmp", "/run/coderunner"], "\(tmpfs)")
        #expect(tmpfs["/run/coderunner"]?.contains("mode=0700") == true, "\(tmpfs)")
        let ulimits = host["Ulimits"] as? [[String: Any]] ?? []
        #expect(ulimits.contains { $0["Name"] as? String == "nofile" }, "\(ulimits)")

        // The container sits on its session's network only (the one its lease holds), and that network is internal,
        // labelled and on a pool /24.
        let inspect = try #require(try await engine.client.containerInspect(container.id))
        let attached = inspect.networkSettings?.networks ?? [:]
        try #require(attached.count == 1, "attached to \(attached.keys.sorted())")
        let networkName = try #require(attached.keys.first)
        let held = try await Live.sessionNetworks(session).map(\.name)
        #expect(held == [networkName], "network \(networkName) should be the one session \(session) leases: \(held)")
        let network = try #require(try await engine.client.networkInspect(networkName))
        #expect(network.internal, "session networks have no egress by default")
        #expect(network.labels[ResourceLabel.managed] == "1")
        #expect(network.labels[ResourceLabel.pool] == "bridge/internal")
        try #require(network.subnets.count == 1, "\(network.subnets)")
        let subnet = try #require(IPv4Network(network.subnets[0]))
        #expect(subnet.prefixLength == 24)
        #expect(Self.defaultPools.contains { $0.contains(subnet) }, "\(subnet) is outside the default pools")
        #expect(network.labels[ResourceLabel.subnet] == subnet.description)
        let address = try #require(attached[networkName]?.ipAddress.flatMap { IPv4Network($0 + "/32") })
        #expect(subnet.contains(address), "container address \(address) outside \(subnet)")

        process.writeStdin("go\n")
        process.closeStdin()
        let status = await process.finish(timeout: .seconds(30))
        #expect(status == 0, "stderr: \(process.stderrText)")
        #expect(process.stdoutText == "ready\nreleased\n")
        try await Live.expectNoLeaks()
    }

    /// Every escape hatch a program might try, answered from inside (one run, one JSON line).
    static let probe = #"""
        import ctypes, errno, json, os, socket, struct
        r = {}
        r['uid'], r['gid'], r['euid'] = os.getuid(), os.getgid(), os.geteuid()
        def dotted(h): return socket.inet_ntoa(struct.pack('<I', int(h, 16)))
        routes = [l.split() for l in open('/proc/net/route').read().splitlines()[1:]]
        r['routes'] = [{'iface': f[0], 'destination': dotted(f[1]), 'gateway': dotted(f[2]), 'mask': dotted(f[7])} for f in routes]
        def name(e): return errno.errorcode.get(e, str(e))
        def write(path):
            try:
                with open(path, 'w') as f: f.write('x')
                return 'ok'
            except OSError as e: return name(e.errno)
        for key, path in [('root', '/coderunner-probe'), ('etc', '/etc/coderunner-probe'), ('usr', '/usr/bin/coderunner-probe'),
                          ('app', '/app/probe'), ('tmp', '/tmp/probe')]:
            r['write_' + key] = write(path)
        libc = ctypes.CDLL(None, use_errno=True)
        os.makedirs('/tmp/mnt', exist_ok=True)
        r['mount'] = 'ok' if libc.mount(b'none', b'/tmp/mnt', b'tmpfs', 0, None) == 0 else name(ctypes.get_errno())
        r['remount_root'] = 'ok' if libc.mount(b'none', b'/', None, 32, None) == 0 else name(ctypes.get_errno())
        try:
            os.chroot('/tmp'); r['chroot'] = 'ok'
        except OSError as e: r['chroot'] = name(e.errno)
        try:
            socket.sethostname('escaped'); r['sethostname'] = 'ok'
        except OSError as e: r['sethostname'] = name(e.errno)
        r['hostname'] = socket.gethostname()
        try:
            os.setuid(0); r['setuid0'] = 'ok'
        except OSError as e: r['setuid0'] = name(e.errno)
        status = dict(l.split(':\t', 1) for l in open('/proc/self/status').read().splitlines() if ':\t' in l)
        r['capeff'], r['nonewprivs'] = status.get('CapEff', '').strip(), status.get('NoNewPrivs', '').strip()
        print(json.dumps(r))
        """#

    @Test func programsCannotGetOut() async throws {
        // One-shot: no network, so no route at all.
        let oneShot = try await Live.run("python", [("probe.py", Self.probe)])
        #expect(oneShot.result.status == .ok, "\(oneShot.result) \(oneShot.stderr)")
        let oneShotReport = try #require(try JSONSerialization.jsonObject(with: Data(oneShot.stdout.utf8)) as? [String: Any], "\(oneShot.stdout)")
        #expect(
            (oneShotReport["routes"] as? [[String: String]])?.isEmpty == true, "a one-shot run has loopback only: \(oneShotReport["routes"] ?? "-")")
        // In a session: its network, and no way out of it.
        let session = "t-" + DockerProbe.randomSuffix()
        defer { Task { await DockerProbe.removeSession(session) } }
        let outcome = try await Live.run("python", [("probe.py", Self.probe)], session: session)
        #expect(outcome.result.status == .ok, "\(outcome.result) \(outcome.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome.stdout)")
        #expect((report["uid"] as? NSNumber)?.intValue == 1000)
        #expect((report["euid"] as? NSNumber)?.intValue == 1000)
        #expect((report["gid"] as? NSNumber)?.intValue == 1000)
        try await expectNoWayOut(routes: report["routes"] as? [[String: String]] ?? [])
        #expect(report["write_root"] as? String != "ok")
        #expect(report["write_etc"] as? String != "ok")
        #expect(report["write_usr"] as? String != "ok")
        #expect(report["write_app"] as? String == "ok")
        #expect(report["write_tmp"] as? String == "ok")
        #expect(report["mount"] as? String == "EPERM")
        #expect(report["remount_root"] as? String == "EPERM")
        #expect(report["chroot"] as? String == "EPERM")
        #expect(report["sethostname"] as? String == "EPERM")
        #expect(report["hostname"] as? String != "escaped")
        #expect(report["setuid0"] as? String == "EPERM")
        #expect(report["capeff"] as? String == "0000000000000000", "effective capabilities: \(report["capeff"] ?? "?")")
        #expect(report["nonewprivs"] as? String == "1")
        try await Live.expectNoLeaks()
    }

    /// Only the session's own /24 is routable. Docker Engine 25+ gives containers on an internal bridge network no default
    /// route at all; older engines (20.10 here, API < 1.44) still install one via the bridge's gateway and drop the
    /// forwarded packets with their DOCKER-ISOLATION rules (moby/moby#47481). On those engines the one thing a test can
    /// check without sending a packet is that the default route leads to the internal bridge and nowhere else.
    func expectNoWayOut(routes: [[String: String]], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let local = routes.filter { $0["destination"] != "0.0.0.0" }
        #expect(local.count == 1, "only the session subnet should be routed: \(routes)", sourceLocation: sourceLocation)
        let subnet = try #require(local.first.flatMap { IPv4Network("\($0["destination"] ?? "")/24") }, sourceLocation: sourceLocation)
        #expect(local.first?["mask"] == "255.255.255.0", sourceLocation: sourceLocation)
        #expect(Self.defaultPools.contains { $0.contains(subnet) }, "\(subnet) is outside the default pools", sourceLocation: sourceLocation)
        let defaults = routes.filter { $0["destination"] == "0.0.0.0" }
        let api = try await Live.engine().info().apiVersion.split(separator: ".").compactMap { Int($0) }
        if api.lexicographicallyPrecedes([1, 44]) {
            #expect(
                defaults.allSatisfy { $0["gateway"] == subnet.gateway }, "a default route leads off the session bridge: \(routes)",
                sourceLocation: sourceLocation)
        } else {
            #expect(defaults.isEmpty, "a default route exists: \(routes)", sourceLocation: sourceLocation)
        }
    }

    @Test func nextRunInASessionStartsCleanAfterATimeout() async throws {
        let session = "t-" + DockerProbe.randomSuffix()
        do {
            // Leaves children behind in every way a program can: in its process group, and in a session of its own.
            let spawner = """
                import os, subprocess, time
                os.system('sleep 1000 &')
                subprocess.Popen(['sleep', '1001'], start_new_session=True)
                print('spawned', flush=True)
                time.sleep(100)
                """
            let first = try await Live.run("python", [("spawn.py", spawner)], timeout: .seconds(1), session: session)
            #expect(first.result.status == .timeout, "\(first.result) \(first.stderr)")
            #expect(first.stdout == "spawned\n")

            let checker = """
                import os
                left = []
                for pid in os.listdir('/proc'):
                    if not pid.isdigit(): continue
                    try: cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode().strip()
                    except OSError: continue
                    if 'sleep' in cmd or 'spawn.py' in cmd: left.append(cmd)
                print('left=' + repr(sorted(left)))
                print('files=' + repr(sorted(os.listdir('/app'))))
                """
            let second = try await Live.run("python", [("check.py", checker)], session: session)
            #expect(second.result.status == .ok, "\(second.result) \(second.stderr)")
            #expect(second.stdout.hasPrefix("left=[]\n"), "processes survived the timeout: \(second.stdout)")
            // Same warm container (files of the first run are still there), so the cleanliness is the agent's doing.
            #expect(second.stdout.contains("'spawn.py'"), "\(second.stdout)")
            let containers = try await Live.engine().containers(labeled: ["\(ResourceLabel.session)=\(session)"])
            #expect(containers.count == 1, "\(containers.map(\.name))")
        } catch {
            await DockerProbe.removeSession(session)
            throw error
        }
        await DockerProbe.removeSession(session)
        let left = try await Live.leftovers(label: "\(ResourceLabel.session)=\(session)")
        #expect(left.networks.isEmpty && left.containers.isEmpty, "session \(session) not cleaned up: \(left)")
        try await Live.expectNoLeaks()
    }
}
