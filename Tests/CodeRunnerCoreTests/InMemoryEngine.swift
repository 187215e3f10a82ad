@testable import CodeRunnerCore

/// An in-memory `ContainerEngine` with Docker's compare-and-set rules, for testing the engine's logic without Docker:
/// a container name belongs to one container (a second create or rename to it is a conflict), a network's subnet to
/// one network, and every call yields, so concurrent callers interleave as they would against dockerd.
/// Only what the logic under test uses is here; the rest answers `.api`.
actor InMemoryEngine: ContainerEngine {
    struct Container {
        var info: ContainerInfo
        var network: String?
        var command: [String] = []
    }

    private var containersByID: [String: Container] = [:]
    private var networksByID: [String: NetworkInfo] = [:]
    private var nextID = 0
    /// Calls made, by kind, for tests that count them.
    private(set) var calls: [String: Int] = [:]
    /// How many container lists a removed container stays listed (Docker's "Removal In Progress" under load: a second
    /// removal meanwhile is a conflict); `Int.max` for a removal that never finishes.
    var removalLag = 0
    private var removing: [String: Int] = [:]

    func setRemovalLag(_ lists: Int) { removalLag = lists }

    /// 64 hex digits whose first 12 differ, as Docker's ids do (names are often made from those 12).
    private func newID() -> String {
        nextID += 1
        let serial = String(nextID, radix: 16)
        return String(repeating: "0", count: 12 - serial.count) + serial + String(repeating: "f", count: 52)
    }

    private func enter(_ call: String) async {
        calls[call, default: 0] += 1
        await Task.yield()
    }

    static func matches(_ labels: [String: String], _ filters: [String]) -> Bool {
        filters.allSatisfy { filter in
            if let eq = filter.firstIndex(of: "=") {
                return labels[String(filter[..<eq])] == String(filter[filter.index(after: eq)...])
            }
            return labels[filter] != nil
        }
    }

    func info() async throws(EngineError) -> EngineInfo { EngineInfo(version: "in-memory", apiVersion: "1.41", os: "linux", kernel: "-") }
    func hostCapacity() async throws(EngineError) -> HostCapacity { HostCapacity(cpus: 2, memoryBytes: 24 << 30) }
    func image(_ name: String) async throws(EngineError) -> ImageInfo? { nil }
    func buildImage(_ request: ImageBuildRequest, progress: @escaping @Sendable (String) -> Void) async throws(EngineError) {
        throw .api("not in the in-memory engine")
    }
    func removeImage(_ name: String) async throws(EngineError) { throw .api("not in the in-memory engine") }

    /// For each network made: how many network creation markers existed while Docker made it.
    private(set) var markersDuringNetworkCreation: [Int] = []

    /// How long each network creation takes (Docker's grows with the number of networks), and the most in flight at once.
    private var networkCreationTime: Duration = .zero
    private var networkCreationsNow = 0
    private(set) var mostNetworkCreationsAtOnce = 0

    func setNetworkCreationTime(_ time: Duration) { networkCreationTime = time }

    func createNetwork(_ spec: NetworkSpec) async throws(EngineError) -> String {
        await enter("createNetwork")
        networkCreationsNow += 1
        mostNetworkCreationsAtOnce = max(mostNetworkCreationsAtOnce, networkCreationsNow)
        if networkCreationTime > .zero { try? await Task.sleep(for: networkCreationTime) }
        networkCreationsNow -= 1
        markersDuringNetworkCreation.append(containersByID.values.filter { $0.info.labels[ResourceLabel.networkCreating] != nil }.count)
        if networksByID.values.contains(where: { $0.subnets.contains(spec.subnet.description) }) {
            throw .subnetTaken("\(spec.subnet) is in use")
        }
        let id = newID()
        networksByID[id] = NetworkInfo(id: id, name: spec.name, subnets: [spec.subnet.description], labels: spec.labels,
                                       isInternal: spec.isInternal, createdAt: SessionNetworks.now(), containerCount: nil)
        return id
    }

    func networks(labeled labels: [String]) async throws(EngineError) -> [NetworkInfo] {
        await enter("networks")
        return networksByID.values.filter { Self.matches($0.labels, labels) }
    }

    func network(_ idOrName: String) async throws(EngineError) -> NetworkInfo? {
        await enter("network")
        guard var network = networksByID[idOrName] ?? networksByID.values.first(where: { $0.name == idOrName }) else { return nil }
        let attached = containersByID.values.filter { $0.network == network.id && $0.info.state == "running" }.count
        network.containerCount = attached == 0 ? nil : attached
        return network
    }

    func removeNetwork(_ idOrName: String) async throws(EngineError) {
        await enter("removeNetwork")
        guard let network = networksByID[idOrName] ?? networksByID.values.first(where: { $0.name == idOrName }) else {
            throw .notFound("network \(idOrName)")
        }
        if containersByID.values.contains(where: { $0.network == network.id }) { throw .conflict("network \(network.name) has active endpoints") }
        networksByID[network.id] = nil
    }

    func createContainer(_ spec: ContainerSpec) async throws(EngineError) -> String {
        await enter("createContainer")
        let name = spec.name ?? newID()
        if containersByID.values.contains(where: { $0.info.name == name }) { throw .conflict("the name \(name) is in use") }
        if let network = spec.network, networksByID[network] == nil { throw .notFound("network \(network)") }
        let id = newID()
        containersByID[id] = Container(
            info: ContainerInfo(id: id, name: name, image: spec.image, labels: spec.labels, state: "created", createdAt: SessionNetworks.now()),
            network: spec.network, command: spec.command)
        return id
    }

    /// The command a container was made with.
    func command(of id: String) -> [String]? { containersByID[id]?.command }

    /// The network a container was made on.
    func network(of id: String) -> String? { containersByID[id]?.network }

    func startContainer(_ id: String) async throws(EngineError) {
        await enter("startContainer")
        guard containersByID[id] != nil else { throw .notFound("container \(id)") }
        containersByID[id]?.info.state = "running"
    }

    func containers(labeled labels: [String]) async throws(EngineError) -> [ContainerInfo] {
        await enter("containers")
        let listed = containersByID.values.map(\.info).filter { Self.matches($0.labels, labels) }
        for (id, left) in removing {
            if left == Int.max { continue }
            if left <= 1 { removing[id] = nil; containersByID[id] = nil } else { removing[id] = left - 1 }
        }
        return listed
    }

    func removeContainer(_ id: String) async throws(EngineError) {
        await enter("removeContainer")
        guard containersByID[id] != nil else { throw .notFound("container \(id)") }
        if removing[id] != nil { throw .conflict("removal of container \(id) is already in progress") }
        if removalLag > 0 {
            removing[id] = removalLag
            containersByID[id]?.info.state = "removing"
        } else {
            containersByID[id] = nil
        }
    }

    func isRunning(_ containerID: String) async throws(EngineError) -> Bool {
        await enter("isRunning")
        let container = containersByID[containerID] ?? containersByID.values.first { $0.info.name == containerID }
        return container?.info.state == "running"
    }

    func renameContainer(_ id: String, to name: String) async throws(EngineError) {
        await enter("renameContainer")
        guard let key = containersByID[id] != nil ? id : containersByID.first(where: { $0.value.info.name == id })?.key else {
            throw .notFound("container \(id)")
        }
        if containersByID.values.contains(where: { $0.info.name == name }) { throw .conflict("the name \(name) is in use") }
        containersByID[key]?.info.name = name
    }

    func exec(_ containerID: String, argv: [String]) async throws(EngineError) -> any ExecConnection { throw .api("not in the in-memory engine") }
    /// An attachment whose agent never says a word and whose stream ends only when it is closed (an agent that hangs,
    /// and an engine that keeps the attachment open after the container is gone).
    func attach(_ containerID: String) async throws(EngineError) -> any ExecConnection {
        await enter("attach")
        guard containersByID[containerID] != nil else { throw .notFound("container \(containerID)") }
        return SilentConnection()
    }
}

/// An `ExecConnection` that never answers: its stdout ends when it is closed, not before.
final class SilentConnection: ExecConnection {
    let stdout: AsyncThrowingStream<[UInt8], any Error>
    private let continuation: AsyncThrowingStream<[UInt8], any Error>.Continuation
    init() { (stdout, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream() }
    func diagnostics() async -> String { "" }
    func write(_ bytes: [UInt8]) async throws(EngineError) {}
    func closeWrite() async {}
    func close() async { continuation.finish() }
}
