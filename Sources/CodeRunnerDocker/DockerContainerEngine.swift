import CodeRunnerCore
import DockerEngine

/// The one place that adapts the Docker client to the engine's `ContainerEngine` protocol:
/// Core's specs become Docker's JSON, Docker's errors become `EngineError`s that say what to do.
public struct DockerContainerEngine: ContainerEngine {
    public let client: DockerClient
    public let hostDescription: String

    /// `description` names the engine in error messages (the address, and what chose it); the address by default.
    public init(host: String, requestTimeout: Duration, description: String? = nil) throws {
        let parsed = try DockerHost.parse(host)
        self.client = DockerClient(host: parsed, requestTimeout: requestTimeout)
        self.hostDescription = description ?? host
    }

    /// Maps Docker failures onto the engine's error cases.
    func mapped<T>(_ body: () async throws -> T) async throws(EngineError) -> T {
        do {
            return try await body()
        } catch let error as DockerError {
            throw Self.map(error, host: hostDescription)
        } catch let error as EngineError {
            throw error
        } catch {
            throw .api("\(error)")
        }
    }

    static func map(_ error: DockerError, host: String) -> EngineError {
        switch error {
        case .unreachable(_, let reason): return .unreachable(host: host, reason: reason)
        case .imageNotFound(let name): return .imageMissing(name)
        case .subnetOverlaps(let message): return .subnetTaken(message)
        case .api(404, let message, _):
            if message.lowercased().contains("no such image") { return .imageMissing(message) }
            return .notFound(message)
        case .api(409, let message, _): return .conflict(message)
        case .api(_, let message, let path) where message.lowercased().contains("already exists"): return .conflict("\(path): \(message)")
        case .timeout(let path): return .timeout(path)
        case .buildFailed(let message): return .buildFailed(message)
        default: return .api(error.description)
        }
    }

    public func info() async throws(EngineError) -> EngineInfo {
        let version = try await mapped { try await client.version() }
        return EngineInfo(version: version.version, apiVersion: version.apiVersion, os: version.os, kernel: version.kernelVersion)
    }

    public func hostCapacity() async throws(EngineError) -> HostCapacity {
        let info = try await mapped { try await client.systemInfo() }
        return HostCapacity(cpus: info.cpuCount, memoryBytes: UInt64(max(info.memoryTotal, 0)))
    }

    public func image(_ name: String) async throws(EngineError) -> ImageInfo? {
        guard let image = try await mapped({ try await client.imageInspect(name) }) else { return nil }
        return ImageInfo(id: image.id, labels: image.labels, created: image.created)
    }

    public func buildImage(_ request: ImageBuildRequest, progress: @escaping @Sendable (String) -> Void) async throws(EngineError) {
        try await mapped {
            let tar = try TarArchive.make(
                request.contextFiles.map {
                    TarEntry(path: $0.path, contents: $0.contents, mode: $0.executable ? 0o755 : 0o644)
                })
            try await client.imageBuild(context: tar, tag: request.tag, buildArgs: request.buildArgs, labels: request.labels, progress: progress)
        }
    }

    public func removeImage(_ name: String) async throws(EngineError) {
        try await mapped { try await client.imageRemove(name, force: true) }
    }

    public func createNetwork(_ spec: NetworkSpec) async throws(EngineError) -> String {
        try await mapped {
            try await client.networkCreate(
                NetworkCreateRequest(
                    name: spec.name, driver: spec.driver, internal: spec.isInternal, checkDuplicate: true, labels: spec.labels,
                    ipam: IPAM(driver: "default", config: [IPAMPool(subnet: spec.subnet.description, gateway: spec.subnet.gateway)]),
                    // Without an address on the bridge, an internal session cannot reach services on the host's own
                    // addresses (Docker filters only forwarded traffic of internal networks).
                    options: spec.isInternal && spec.driver == "bridge" ? ["com.docker.network.bridge.inhibit_ipv4": "true"] : nil))
        }
    }

    public func networks(labeled labels: [String]) async throws(EngineError) -> [NetworkInfo] {
        try await mapped { try await client.networkList(labelFilters: labels) }.map(Self.info(of:))
    }

    public func network(_ idOrName: String) async throws(EngineError) -> NetworkInfo? {
        try await mapped { try await client.networkInspect(idOrName) }.map(Self.info(of:))
    }

    static func info(of network: DockerNetwork) -> NetworkInfo {
        NetworkInfo(
            id: network.id, name: network.name, subnets: network.subnets, labels: network.labels, isInternal: network.internal,
            createdAt: Timestamp.parseRFC3339(network.created), containerCount: network.containers.isEmpty ? nil : network.containers.count)
    }

    public func removeNetwork(_ idOrName: String) async throws(EngineError) {
        try await mapped { try await client.networkRemove(idOrName) }
    }

    public func createContainer(_ spec: ContainerSpec) async throws(EngineError) -> String {
        // Security defaults that never vary (docs/threat-model.md): every capability dropped but the few the spec names,
        // no privilege gain, swap equal to memory, host details in /proc and /sys hidden.
        let hostConfig = HostConfig(
            networkMode: spec.network ?? "none", autoRemove: spec.autoRemove, readonlyRootfs: spec.readOnlyRoot, tmpfs: spec.tmpfs,
            capDrop: ["ALL"], capAdd: spec.capabilities.isEmpty ? nil : spec.capabilities, securityOpt: ["no-new-privileges"],
            memory: Int64(spec.memoryBytes), memorySwap: Int64(spec.memoryBytes), nanoCpus: spec.nanoCPUs, pidsLimit: Int64(spec.pidsLimit),
            ulimits: [.init(name: "nofile", soft: Int64(spec.maxOpenFiles), hard: Int64(spec.maxOpenFiles))],
            maskedPaths: Self.maskedPaths, shmSize: Int64(spec.sharedMemoryBytes),
            logConfig: spec.opensStdin ? LogConfig(type: "none") : nil)
        // Without a network: loopback only (NetworkMode none; NetworkDisabled would leave even loopback down).
        let request = ContainerCreateRequest(
            image: spec.image, cmd: spec.command, env: spec.environment.isEmpty ? nil : spec.environment, user: spec.user,
            workingDir: spec.workingDirectory, labels: spec.labels,
            attachStdin: spec.opensStdin ? true : nil, attachStdout: spec.opensStdin ? true : nil, attachStderr: spec.opensStdin ? true : nil,
            openStdin: spec.opensStdin ? true : nil, stdinOnce: spec.opensStdin ? spec.stdinOnce : nil,
            stopSignal: "SIGKILL", hostname: "coderunner", hostConfig: hostConfig)
        do {
            return try await client.containerCreate(name: spec.name, request)
        } catch let error as DockerError {
            if case .imageNotFound = error { throw .imageMissing(spec.image) }
            if case .api(404, let message, _) = error, message.lowercased().contains("image") { throw .imageMissing(spec.image) }
            throw Self.map(error, host: hostDescription)
        } catch {
            throw .api("\(error)")
        }
    }

    /// Docker's own defaults (setting the list replaces them) plus the files that describe the host rather than the
    /// container: the kernel's command line, its modules and configuration, and the machine's DMI identity.
    static let maskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
        "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/proc/cmdline", "/proc/modules", "/proc/config.gz", "/proc/kallsyms", "/proc/vmallocinfo", "/proc/slabinfo",
        "/proc/sys/kernel/random/boot_id", "/sys/devices/virtual/dmi", "/sys/module",
    ]

    public func startContainer(_ id: String) async throws(EngineError) {
        try await mapped { try await client.containerStart(id) }
    }

    /// Leaves out stale entries: after a rename raced a removal under load, dockerd 20.10 can keep listing a
    /// container it has already removed, in state "removing" and with no name, until the daemon restarts. It cannot be
    /// inspected or removed (both answer "no such container"), and waiting for it would hold a session's network
    /// forever.
    public func containers(labeled labels: [String]) async throws(EngineError) -> [ContainerInfo] {
        try await mapped { try await client.containerList(all: true, labelFilters: labels) }
            .filter { !($0.names.isEmpty && $0.state == "removing") }
            .map { summary in
                ContainerInfo(
                    id: summary.id, name: summary.names.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? summary.id,
                    image: summary.image, labels: summary.labels, state: summary.state, createdAt: Double(summary.created))
            }
    }

    public func isRunning(_ containerID: String) async throws(EngineError) -> Bool {
        try await mapped { try await client.containerInspect(containerID) }?.state.running ?? false
    }

    public func renameContainer(_ id: String, to name: String) async throws(EngineError) {
        try await mapped { try await client.containerRename(id, to: name) }
    }

    public func removeContainer(_ id: String) async throws(EngineError) {
        try await mapped { try await client.containerRemove(id, force: true) }
    }

    public func exec(_ containerID: String, argv: [String]) async throws(EngineError) -> any ExecConnection {
        let stream = try await mapped {
            let execID = try await client.execCreate(
                containerID,
                ExecCreateRequest(
                    cmd: argv, attachStdin: true, attachStdout: true, attachStderr: true, tty: false))
            return try await client.execStart(execID)
        }
        return DockerExecConnection(stream: stream, host: hostDescription)
    }

    public func attach(_ containerID: String) async throws(EngineError) -> any ExecConnection {
        do {
            let stream = try await mapped { try await client.containerAttach(containerID) }
            return DockerExecConnection(stream: stream, host: hostDescription)
        } catch {
            // Docker may just close the connection when the container is going away: say so, so callers try another.
            let gone: Bool
            do { gone = try await client.containerInspect(containerID) == nil } catch { gone = false }
            if gone { throw .notFound("container \(containerID) is gone") }
            throw error
        }
    }
}

/// An exec's hijacked stream: stdout carries the agent protocol, stderr is kept (bounded) for error messages.
final class DockerExecConnection: ExecConnection {
    let stream: ExecStream
    let host: String
    let stderrLog = DiagnosticsLog()
    let stdout: AsyncThrowingStream<[UInt8], any Error>

    init(stream: ExecStream, host: String) {
        self.stream = stream
        self.host = host
        let log = stderrLog
        let box = IteratorBox(stream.output.makeAsyncIterator())
        self.stdout = AsyncThrowingStream<[UInt8], any Error> {
            while let chunk = try await box.next() {
                if chunk.stream == .stdout { return chunk.bytes }
                await log.append(chunk.bytes)
            }
            return nil
        }
    }

    /// Holds the output iterator for the unfolding stream above; only ever advanced by the stream's one consumer.
    final class IteratorBox: @unchecked Sendable {
        var iterator: AsyncThrowingStream<ExecChunk, any Error>.AsyncIterator
        init(_ iterator: AsyncThrowingStream<ExecChunk, any Error>.AsyncIterator) { self.iterator = iterator }
        func next() async throws -> ExecChunk? { try await iterator.next() }
    }

    func diagnostics() async -> String { await stderrLog.text }

    func write(_ bytes: [UInt8]) async throws(EngineError) {
        do { try await stream.write(bytes) } catch let error as DockerError {
            throw .streamLost(error.description)
        } catch { throw .streamLost("\(error)") }
    }

    func closeWrite() async { try? await stream.closeWrite() }
    func close() async { await stream.close() }
}

actor DiagnosticsLog {
    private var bytes: [UInt8] = []
    func append(_ more: [UInt8]) {
        bytes += more
        if bytes.count > 8192 { bytes.removeFirst(bytes.count - 8192) }
    }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// Docker's RFC 3339 timestamps (`2026-11-26T20:31:15.123456789Z`) to seconds since 1970, without Foundation.
enum Timestamp {
    static func parseRFC3339(_ text: String) -> Double? {
        let scalars = Array(text.utf8)
        guard scalars.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? { Int(String(decoding: scalars[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < scalars.count, scalars[index] == UInt8(ascii: ".") {
            var scale = 0.1
            index += 1
            while index < scalars.count, scalars[index] >= 48, scalars[index] <= 57 {
                fraction += Double(scalars[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < scalars.count, scalars[index] == UInt8(ascii: "+") || scalars[index] == UInt8(ascii: "-"),
            index + 6 <= scalars.count, let h = number(index + 1..<index + 3), let m = number(index + 4..<index + 6)
        {
            offset = (h * 3600 + m * 60) * (scalars[index] == UInt8(ascii: "+") ? 1 : -1)
        }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Double(days * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
    }
}
