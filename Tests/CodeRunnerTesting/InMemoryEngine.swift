import Testing

@testable import CodeRunnerCore

/// An in-memory `ContainerEngine` with Docker's compare-and-set rules, for testing the engine's logic without Docker:
/// a container name belongs to one container (a second create or rename to it is a conflict), a network's subnet to
/// one network, and every call yields, so concurrent callers interleave as they would against dockerd.
/// Containers whose command is the agent's `idle` run a `FakeAgent` (scripted programs over the real wire protocol),
/// or, with `agents: .silent`, one that never answers. Only what the logic under test uses is here; the rest answers
/// `.api`. A test can make the next call of a kind fail (`failNext`) and make a container's agent exit (`expire`).
public actor InMemoryEngine: ContainerEngine {
    /// What answers in a container made with the agent's `idle` command.
    public enum Agents: Sendable {
        /// A `FakeAgent` that runs `FakeProgram` scripts.
        case scripted
        /// An agent that hangs: its attachments say nothing and end only when closed.
        case silent
    }

    struct Container {
        var info: ContainerInfo
        var network: String?
        var command: [String] = []
        var autoRemove = false
        var agent: FakeAgent?
    }

    private let agents: Agents
    private var failures: [String: [EngineError]] = [:]

    public init(agents: Agents = .scripted) { self.agents = agents }

    /// The next call of this kind (a method name, e.g. "createContainer") fails with `error`.
    public func failNext(_ call: String, with error: EngineError) { failures[call, default: []].append(error) }

    /// The next creation of a container that runs programs (its command is the agent's `idle`; not a network lease or
    /// a creation marker) fails with `error`.
    public func failNextProgramContainer(with error: EngineError) { programContainerFailures.append(error) }
    private var programContainerFailures: [EngineError] = []

    /// How many containers that run programs were made (leases and markers are not counted).
    public private(set) var programContainersMade = 0

    private var containersByID: [String: Container] = [:]
    private var networksByID: [String: NetworkInfo] = [:]
    private var nextID = 0
    /// Calls made, by kind, for tests that count them.
    public private(set) var calls: [String: Int] = [:]
    /// How many container lists a removed container stays listed (Docker's "Removal In Progress" under load: a second
    /// removal meanwhile is a conflict); `Int.max` for a removal that never finishes.
    public private(set) var removalLag = 0
    private var removing: [String: Int] = [:]

    public func setRemovalLag(_ lists: Int) { removalLag = lists }

    /// 64 hex digits whose first 12 differ, as Docker's ids do (names are often made from those 12).
    private func newID() -> String {
        nextID += 1
        let serial = String(nextID, radix: 16)
        return String(repeating: "0", count: 12 - serial.count) + serial + String(repeating: "f", count: 52)
    }

    private var hooks: [String: @Sendable () async -> Void] = [:]

    /// Runs `hook` once, when `call` is next made, before it does anything: another process acting at that moment.
    public func beforeNext(_ call: String, _ hook: @escaping @Sendable () async -> Void) { hooks[call] = hook }

    private func enter(_ call: String) async throws(EngineError) {
        calls[call, default: 0] += 1
        if let hook = hooks.removeValue(forKey: call) { await hook() }
        await Task.yield()
        if let error = failures[call]?.first {
            failures[call]?.removeFirst()
            throw error
        }
    }

    public static func matches(_ labels: [String: String], _ filters: [String]) -> Bool {
        filters.allSatisfy { filter in
            if let eq = filter.firstIndex(of: "=") {
                return labels[String(filter[..<eq])] == String(filter[filter.index(after: eq)...])
            }
            return labels[filter] != nil
        }
    }

    public func info() async throws(EngineError) -> EngineInfo { EngineInfo(version: "in-memory", apiVersion: "1.41", os: "linux", kernel: "-") }
    public func hostCapacity() async throws(EngineError) -> HostCapacity { HostCapacity(cpus: 2, memoryBytes: 24 << 30) }
    /// Images `image(_:)` finds (none unless a test adds them).
    private var images: Set<String> = []
    public func addImage(_ name: String) { images.insert(name) }
    public func image(_ name: String) async throws(EngineError) -> ImageInfo? {
        images.contains(name) ? ImageInfo(id: "sha256:" + name, labels: [:], created: "") : nil
    }
    public func buildImage(_ request: ImageBuildRequest, progress: @escaping @Sendable (String) -> Void) async throws(EngineError) {
        throw .api("not in the in-memory engine")
    }
    public func removeImage(_ name: String) async throws(EngineError) { throw .api("not in the in-memory engine") }

    /// For each network made: how many network creation markers existed while Docker made it.
    public private(set) var markersDuringNetworkCreation: [Int] = []

    /// How long each network creation takes (Docker's grows with the number of networks), and the most in flight at once.
    private var networkCreationTime: Duration = .zero
    private var networkCreationsNow = 0
    public private(set) var mostNetworkCreationsAtOnce = 0

    public func setNetworkCreationTime(_ time: Duration) { networkCreationTime = time }

    public func createNetwork(_ spec: NetworkSpec) async throws(EngineError) -> String {
        try await enter("createNetwork")
        networkCreationsNow += 1
        mostNetworkCreationsAtOnce = max(mostNetworkCreationsAtOnce, networkCreationsNow)
        if networkCreationTime > .zero { try? await Task.sleep(for: networkCreationTime) }
        networkCreationsNow -= 1
        markersDuringNetworkCreation.append(containersByID.values.filter { $0.info.labels[ResourceLabel.networkCreating] != nil }.count)
        if networksByID.values.contains(where: { $0.subnets.contains(spec.subnet.description) }) {
            throw .subnetTaken("\(spec.subnet) is in use")
        }
        let id = newID()
        networksByID[id] = NetworkInfo(
            id: id, name: spec.name, subnets: [spec.subnet.description], labels: spec.labels,
            isInternal: spec.isInternal, createdAt: SessionNetworks.now(), containerCount: nil)
        return id
    }

    public func networks(labeled labels: [String]) async throws(EngineError) -> [NetworkInfo] {
        try await enter("networks")
        return networksByID.values.filter { Self.matches($0.labels, labels) }
    }

    public func network(_ idOrName: String) async throws(EngineError) -> NetworkInfo? {
        try await enter("network")
        guard var network = networksByID[idOrName] ?? networksByID.values.first(where: { $0.name == idOrName }) else { return nil }
        let attached = containersByID.values.filter { $0.network == network.id && $0.info.state == "running" }.count
        network.containerCount = attached == 0 ? nil : attached
        return network
    }

    public func removeNetwork(_ idOrName: String) async throws(EngineError) {
        try await enter("removeNetwork")
        guard let network = networksByID[idOrName] ?? networksByID.values.first(where: { $0.name == idOrName }) else {
            throw .notFound("network \(idOrName)")
        }
        if containersByID.values.contains(where: { $0.network == network.id }) { throw .conflict("network \(network.name) has active endpoints") }
        networksByID[network.id] = nil
    }

    public func createContainer(_ spec: ContainerSpec) async throws(EngineError) -> String {
        try await enter("createContainer")
        if spec.command.contains("idle") {
            if !programContainerFailures.isEmpty { throw programContainerFailures.removeFirst() }
            programContainersMade += 1
        }
        let name = spec.name ?? newID()
        if containersByID.values.contains(where: { $0.info.name == name }) { throw .conflict("the name \(name) is in use") }
        if let network = spec.network, networksByID[network] == nil { throw .notFound("network \(network)") }
        let id = newID()
        var agent: FakeAgent?
        if agents == .scripted, spec.command.contains("idle") {
            agent = FakeAgent(containerID: id, command: spec.command) { [weak self] in await self?.agentExited(id) }
        }
        containersByID[id] = Container(
            info: ContainerInfo(id: id, name: name, image: spec.image, labels: spec.labels, state: "created", createdAt: SessionNetworks.now()),
            network: spec.network, command: spec.command, autoRemove: spec.autoRemove, agent: agent)
        return id
    }

    /// The command a container was made with.
    public func command(of id: String) -> [String]? { containersByID[id]?.command }

    /// The network a container was made on.
    public func network(of id: String) -> String? { containersByID[id]?.network }

    public func startContainer(_ id: String) async throws(EngineError) {
        try await enter("startContainer")
        guard containersByID[id] != nil else { throw .notFound("container \(id)") }
        containersByID[id]?.info.state = "running"
        await containersByID[id]?.agent?.start()
    }

    /// Waits up to `timeout` for every coderunner container but those in `keeping` to be gone (a one-shot container
    /// leaves by itself after its run, a closed session's after its clean-up); returns what is left.
    public func leftovers(keeping: Set<String> = [], within timeout: Duration = .seconds(5)) async -> [ContainerInfo] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = containersByID.values.map(\.info).filter { $0.labels[ResourceLabel.managed] != nil && !keeping.contains($0.id) }
            if left.isEmpty || ContinuousClock.now >= deadline { return left }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The agent of a container, for tests that look at what it received or its work directory.
    public func agent(of id: String) -> FakeAgent? { containersByID[id]?.agent }

    /// Lists a container as created `seconds` whole seconds before this one began, as Docker does (whole seconds): its
    /// apparent age is then between `seconds` and `seconds + 1`.
    public func setCreated(_ id: String, wholeSecondsAgo seconds: Int) {
        containersByID[id]?.info.createdAt = SessionNetworks.now().rounded(.down) - Double(seconds)
    }

    /// The container's agent exits (its idle TTL ran out): the container stops, and goes if made with auto-remove.
    public func expire(_ id: String) async { await containersByID[id]?.agent?.exit() }

    private func agentExited(_ id: String) {
        guard let container = containersByID[id] else { return }
        if container.autoRemove { containersByID[id] = nil } else { containersByID[id]?.info.state = "exited" }
    }

    public func containers(labeled labels: [String]) async throws(EngineError) -> [ContainerInfo] {
        try await enter("containers")
        let listed = containersByID.values.map(\.info).filter { Self.matches($0.labels, labels) }
        for (id, left) in removing {
            if left == Int.max { continue }
            if left <= 1 {
                removing[id] = nil
                containersByID[id] = nil
            } else {
                removing[id] = left - 1
            }
        }
        return listed
    }

    public func removeContainer(_ id: String) async throws(EngineError) {
        try await enter("removeContainer")
        guard containersByID[id] != nil else { throw .notFound("container \(id)") }
        await containersByID[id]?.agent?.kill()
        if removing[id] != nil { throw .conflict("removal of container \(id) is already in progress") }
        if removalLag > 0 {
            removing[id] = removalLag
            containersByID[id]?.info.state = "removing"
        } else {
            containersByID[id] = nil
        }
    }

    public func isRunning(_ containerID: String) async throws(EngineError) -> Bool {
        try await enter("isRunning")
        let container = containersByID[containerID] ?? containersByID.values.first { $0.info.name == containerID }
        return container?.info.state == "running"
    }

    public func renameContainer(_ id: String, to name: String) async throws(EngineError) {
        try await enter("renameContainer")
        guard let key = containersByID[id] != nil ? id : containersByID.first(where: { $0.value.info.name == id })?.key else {
            throw .notFound("container \(id)")
        }
        if containersByID.values.contains(where: { $0.info.name == name }) { throw .conflict("the name \(name) is in use") }
        containersByID[key]?.info.name = name
    }

    /// `coderunner-agent run` (alone or `--beside-kernel`) in a running container; other commands are not here.
    public func exec(_ containerID: String, argv: [String]) async throws(EngineError) -> any ExecConnection {
        try await enter("exec")
        guard let container = containersByID[containerID] ?? containersByID.values.first(where: { $0.info.name == containerID }) else {
            throw .notFound("container \(containerID)")
        }
        guard container.info.state == "running" else { throw .conflict("container \(containerID) is not running") }
        guard argv.dropFirst().first == "run", let agent = container.agent else { throw .api("not in the in-memory engine: \(argv)") }
        return await agent.exec()
    }
    /// An attachment whose agent never says a word and whose stream ends only when it is closed (an agent that hangs,
    /// and an engine that keeps the attachment open after the container is gone).
    public func attach(_ containerID: String) async throws(EngineError) -> any ExecConnection {
        try await enter("attach")
        guard let container = containersByID[containerID] ?? containersByID.values.first(where: { $0.info.name == containerID }) else {
            throw .notFound("container \(containerID)")
        }
        guard let agent = container.agent else { return SilentConnection() }
        return await agent.attach()
    }
}

/// An `ExecConnection` that never answers: its stdout ends when it is closed, not before.
public final class SilentConnection: ExecConnection {
    public let stdout: AsyncThrowingStream<[UInt8], any Error>
    private let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    public init() { (stdout, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream() }
    public func diagnostics() async -> String { "" }
    public func write(_ bytes: [UInt8]) async throws(EngineError) {}
    public func closeWrite() async {}
    public func close() async { continuation.finish() }
}

/// The fake engine's leak check: nothing of any run or session is left (leases included) but what `keeping` names.
public func expectNothingLeft(
    _ engine: InMemoryEngine, keeping: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation
) async {
    let left = await engine.leftovers(keeping: keeping)
    #expect(left.isEmpty, "left behind: \(left.map { "\($0.name) (\($0.state))" })", sourceLocation: sourceLocation)
}
