import DockerEngine
import DockerEngineTesting
import Foundation
import Testing

/// Talks to the real Docker engine (DOCKER_HOST or /var/run/docker.sock). These tests fail when the engine is
/// unreachable, unless CODERUNNER_SKIP_DOCKER_TESTS=1. Everything they create carries a unique label and is removed.
@Suite(.serialized, .docker) struct DockerClientIntegrationTests {
    static let baseImage = ProcessInfo.processInfo.environment["CODERUNNER_TEST_IMAGE"] ?? "coderunner/base:bookworm"

    let client: DockerClient
    let runID = String(UUID().uuidString.prefix(8)).lowercased()

    init() throws {
        client = DockerClient(host: try DockerHost.fromEnvironment(), requestTimeout: .seconds(30))
    }

    var labels: [String: String] { ["coderunner.test": runID] }

    @Test func pingAndVersion() async throws {
        try await client.ping()
        let version = try await client.version()
        #expect(!version.version.isEmpty)
        #expect(!version.apiVersion.isEmpty)
        #expect(version.os == "linux")
    }

    @Test func unreachableEngineHasAHelpfulError() async {
        let client = DockerClient(host: .unixSocket("/tmp/coderunner-no-such-\(runID).sock"))
        do {
            try await client.ping()
            Issue.record("ping of a missing socket succeeded")
        } catch let error as DockerError {
            guard case .unreachable = error else {
                Issue.record("expected .unreachable, got \(error)")
                return
            }
            #expect(error.description.contains("DOCKER_HOST"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func networkLifecycle() async throws {
        var networkID: String?
        var subnet = ""
        // Pick a free /24 in 10.250.0.0/16; Docker tells us when one is taken.
        for third in (1...254).shuffled().prefix(20) {
            subnet = "10.250.\(third).0/24"
            do {
                networkID = try await client.networkCreate(
                    NetworkCreateRequest(
                        name: "coderunner-test-\(runID)", internal: true, labels: labels,
                        ipam: IPAM(config: [IPAMPool(subnet: subnet, gateway: "10.250.\(third).1")])))
                break
            } catch DockerError.subnetOverlaps {
                continue
            }
        }
        let id = try #require(networkID)
        try await ensuring({ try? await client.networkRemove(id) }) {
            try await networkChecks(id: id, subnet: subnet)
        }
    }

    func networkChecks(id: String, subnet: String) async throws {
        let inspected = try #require(try await client.networkInspect(id))
        #expect(inspected.name == "coderunner-test-\(runID)")
        #expect(inspected.internal)
        #expect(inspected.driver == "bridge")
        #expect(inspected.subnets == [subnet])
        #expect(inspected.labels["coderunner.test"] == runID)

        let listed = try await client.networkList(labelFilters: ["coderunner.test=\(runID)"])
        #expect(listed.map(\.id) == [id])
        #expect(try await client.networkList(labelFilters: ["coderunner.test=\(runID)-other"]).isEmpty)

        // The same subnet again is refused as overlapping, which an allocator relies on.
        await #expect(throws: DockerError.self) {
            do {
                _ = try await client.networkCreate(
                    NetworkCreateRequest(
                        name: "coderunner-test-\(runID)-dup", internal: true, labels: labels,
                        ipam: IPAM(config: [IPAMPool(subnet: subnet)])))
            } catch let error as DockerError {
                if case .subnetOverlaps = error { throw error }
                Issue.record("expected .subnetOverlaps, got \(error)")
            }
        }

        try await client.networkRemove(id)
        #expect(try await client.networkInspect(id) == nil)
        try await client.networkRemove(id)  // already gone: not an error
    }

    /// Runs `body`, then `cleanup` whether or not `body` threw.
    func ensuring(_ cleanup: () async -> Void, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }

    /// Creates a long-running container, runs `body`, and always removes it.
    func withContainer(_ body: (String) async throws -> Void) async throws {
        let name = "coderunner-test-\(runID)"
        let id = try await client.containerCreate(
            name: name,
            ContainerCreateRequest(
                image: Self.baseImage, cmd: ["sleep", "300"], labels: labels,
                hostConfig: HostConfig(networkMode: "none", capDrop: ["ALL"], securityOpt: ["no-new-privileges"], pidsLimit: 128)))
        do {
            try await client.containerStart(id)
            try await body(id)
        } catch {
            try? await client.containerRemove(id, force: true)
            throw error
        }
        try await client.containerRemove(id, force: true)
        #expect(try await client.containerInspect(id) == nil)
    }

    /// Runs a command through exec and collects its output.
    func run(_ id: String, _ cmd: [String], stdin: [UInt8]? = nil, user: String? = nil) async throws
        -> (stdout: [UInt8], stderr: [UInt8], exit: Int?)
    {
        let exec = try await client.execCreate(id, ExecCreateRequest(cmd: cmd, user: user, attachStdin: stdin != nil))
        let stream = try await client.execStart(exec)
        async let output: ([UInt8], [UInt8]) = {
            var out: [UInt8] = []
            var err: [UInt8] = []
            for try await chunk in stream.output {
                switch chunk.stream {
                case .stdout: out += chunk.bytes
                case .stderr: err += chunk.bytes
                }
            }
            return (out, err)
        }()
        if let stdin {
            try await stream.write(stdin)
            try await stream.closeWrite()
        }
        let (out, err) = try await output
        await stream.close()
        var inspect = try await client.execInspect(exec)
        for _ in 0..<50 where inspect.running {
            try await Task.sleep(for: .milliseconds(20))
            inspect = try await client.execInspect(exec)
        }
        return (out, err, inspect.exitCode)
    }

    @Test func containerExecLifecycle() async throws {
        try await withContainer { id in
            let inspect = try #require(try await client.containerInspect(id))
            #expect(inspect.state.running)
            #expect(inspect.state.pid > 0)
            #expect(inspect.labels["coderunner.test"] == runID)
            #expect(inspect.name == "/coderunner-test-\(runID)")

            let listed = try await client.containerList(all: true, labelFilters: ["coderunner.test=\(runID)"])
            #expect(listed.map(\.id) == [id])
            #expect(listed.first?.state == "running")

            // stdin -> cat -> stdout, with EOF through the half-close.
            let echoed = try await run(id, ["cat"], stdin: Array("hello from stdin\n".utf8))
            #expect(String(decoding: echoed.stdout, as: UTF8.self) == "hello from stdin\n")
            #expect(echoed.stderr.isEmpty)
            #expect(echoed.exit == 0)

            // stdout and stderr are demultiplexed; exit code comes from exec inspect.
            let mixed = try await run(id, ["sh", "-c", "echo out; echo err >&2; exit 3"])
            #expect(String(decoding: mixed.stdout, as: UTF8.self) == "out\n")
            #expect(String(decoding: mixed.stderr, as: UTF8.self) == "err\n")
            #expect(mixed.exit == 3)

            // 5 MB of output arrives intact.
            let size = 5_000_000
            let large = try await run(id, ["sh", "-c", "yes abcdefghi | head -c \(size)"])
            #expect(large.stdout.count == size)
            let line = Array("abcdefghi\n".utf8)
            #expect(large.stdout.enumerated().allSatisfy { $0.element == line[$0.offset % line.count] })

            // 5 MB of stdin through cat, too: writes wait for the socket, output is read concurrently.
            let input = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            let piped = try await run(id, ["cat"], stdin: input)
            #expect(piped.stdout.count == input.count)
            #expect(piped.stdout == input)

            // Upload a tar and read it back.
            try await client.putArchive(
                id, path: "/tmp",
                tar: try TarArchive.make([.directory("up"), .file("up/hello.txt", Array("uploaded\n".utf8), mode: 0o600, uid: 1000, gid: 1000)]))
            let uploaded = try await run(id, ["sh", "-c", "cat /tmp/up/hello.txt; stat -c '%u:%g %a' /tmp/up/hello.txt"], user: "1000:1000")
            #expect(
                String(decoding: uploaded.stdout, as: UTF8.self) == "uploaded\n1000:1000 600\n", "\(String(decoding: uploaded.stderr, as: UTF8.self))"
            )

            // Kill and wait report the signal's exit code.
            try await client.containerKill(id)
            let code = try await client.containerWait(id)
            #expect(code == 137)
            let stopped = try #require(try await client.containerInspect(id))
            #expect(!stopped.state.running)
            #expect(stopped.state.status == "exited")
        }
    }

    @Test func execOutputAppliesBackpressure() async throws {
        try await withContainer { id in
            // A consumer that waits does not make us buffer the whole output: the producer blocks on a full pipe.
            let exec = try await client.execCreate(id, ExecCreateRequest(cmd: ["sh", "-c", "yes | head -c 50000000"]))
            let stream = try await client.execStart(exec)
            var iterator = stream.output.makeAsyncIterator()
            _ = try await iterator.next()
            try await Task.sleep(for: .milliseconds(500))
            let midway = try await client.execInspect(exec)
            #expect(midway.running, "the process should be blocked writing while nobody reads")
            var total = 0
            while let chunk = try await iterator.next() { total += chunk.bytes.count }
            #expect(total > 40_000_000)
        }
    }

    @Test func errorsAreTyped() async throws {
        do {
            _ = try await client.containerCreate(
                name: nil, ContainerCreateRequest(image: "coderunner/does-not-exist:\(runID)", labels: labels))
            Issue.record("create with a missing image succeeded")
        } catch let error as DockerError {
            #expect(error == .imageNotFound("coderunner/does-not-exist:\(runID)"), "\(error)")
        }
        #expect(try await client.imageInspect("coderunner/does-not-exist:\(runID)") == nil)
        #expect(try await client.containerInspect("coderunner-missing-\(runID)") == nil)
        try await client.containerRemove("coderunner-missing-\(runID)", force: true)
        await #expect(throws: DockerError.self) { _ = try await client.execInspect("nope-\(runID)") }
        await #expect(throws: DockerError.self) { _ = try await client.execStart("nope-\(runID)") }

        try await withContainer { id in
            do {
                try await client.putArchive(id, path: "/no/such/dir", tar: try TarArchive.make([.file("a", [1])]))
                Issue.record("putArchive to a missing path succeeded")
            } catch let error as DockerError {
                guard case .api(let status, _, _) = error else {
                    Issue.record("expected .api, got \(error)")
                    return
                }
                #expect(status == 404)
            }
        }
    }

    @Test func imageImportAndBuild() async throws {
        let repository = "coderunner-test/import-\(runID)"
        try await client.imageImport(
            tar: try TarArchive.make([.file("hello.txt", Array("imported\n".utf8))]), repository: repository, tag: "v1")
        try await ensuring({
            try? await client.imageRemove("\(repository):built", force: true)
            try? await client.imageRemove("\(repository):v1", force: true)
        }) {
            try await imageChecks(repository: repository)
        }
    }

    func imageChecks(repository: String) async throws {
        let imported = try #require(try await client.imageInspect("\(repository):v1"))
        #expect(imported.repoTags.contains("\(repository):v1"))

        let lines = LockedLines()
        let context = try TarArchive.make([
            .file("Dockerfile", Array("FROM \(repository):v1\nCOPY extra.txt /extra.txt\n".utf8)),
            .file("extra.txt", Array("extra\n".utf8)),
        ])
        try await client.imageBuild(
            context: context, tag: "\(repository):built", buildArgs: [:], labels: ["coderunner.test": runID],
            progress: { lines.append($0) })
        let built = try #require(try await client.imageInspect("\(repository):built"))
        #expect(built.labels["coderunner.test"] == runID)
        #expect(lines.joined.contains("Step 2/"))

        let broken = try TarArchive.make([.file("Dockerfile", Array("FROM \(repository):v1\nCOPY missing.txt /\n".utf8))])
        do {
            try await client.imageBuild(
                context: broken, tag: "\(repository):broken", buildArgs: [:], labels: [:], progress: { _ in })
            Issue.record("a broken build succeeded")
        } catch let error as DockerError {
            guard case .buildFailed(let message) = error else {
                Issue.record("expected .buildFailed, got \(error)")
                return
            }
            #expect(message.contains("missing.txt"))
        }
        try await client.imageRemove("\(repository):built", force: true)
        try await client.imageRemove("\(repository):v1", force: true)
        #expect(try await client.imageInspect("\(repository):v1") == nil)
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var joined: String { lock.withLock { lines.joined() } }
}
