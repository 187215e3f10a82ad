#if canImport(Glibc)
import Glibc
#endif

/// Collects what crashed or finished processes left behind. Only resources with coderunner's labels are ever touched.
public struct GarbageCollector: Sendable {
    public let engine: any ContainerEngine
    public let settings: EngineSettings

    public init(engine: any ContainerEngine, settings: EngineSettings) {
        self.engine = engine; self.settings = settings
    }

    public struct Removal: Sendable, Codable, Equatable {
        public var kind: String  // "container" or "network"
        public var name: String
        public var reason: String
    }

    /// Whether the process that created a resource is gone. Only answerable for resources made on this host.
    static func ownerIsGone(_ labels: [String: String]) -> Bool {
        guard labels[ResourceLabel.ownerHost] == SessionNetworks.hostName,
              let pidText = labels[ResourceLabel.ownerPID], let pid = Int32(pidText), pid > 0 else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Plans (and unless `dryRun`, performs) the collection.
    /// - Containers: not running any more, or ephemeral ones whose owning process is gone; with `all`, every coderunner container.
    /// - Networks: no running container and older than `gc.orphanAge`, or ephemeral with the owner gone; with `all`, every one.
    public func collect(all: Bool, dryRun: Bool) async throws(EngineError) -> [Removal] {
        let now = SessionNetworks.now()
        let orphanAge = Double(settings.orphanAge.microseconds) / 1e6
        let containers = try await engine.containers(labeled: [ResourceLabel.managed])
        var removals: [Removal] = []
        var removedContainerIDs: Set<String> = []
        for container in containers {
            let reason: String?
            if all { reason = "--all" }
            else if container.state == "created", !Self.ownerIsGone(container.labels), now - (container.createdAt ?? now) < orphanAge {
                reason = nil  // a live run is about to start it
            } else if container.state != "running" { reason = "container is \(container.state)" }
            // A claimed standby is in use by a run whose process is not on its labels (the keeper that made it is): while
            // it runs it is left alone, and its agent's idle expiry ends it if that run is gone.
            else if container.labels[ResourceLabel.ephemeral] != nil && !container.name.hasSuffix(CodeRunner.claimedSuffix)
                && Self.ownerIsGone(container.labels) { reason = "its coderunner process is gone" }
            else { reason = nil }
            guard let reason else { continue }
            removals.append(Removal(kind: "container", name: container.name, reason: reason))
            removedContainerIDs.insert(container.id)
            if !dryRun { try? await engine.removeContainer(container.id) }
        }
        let liveSessions = Set(containers.filter { ($0.state == "running" || $0.state == "created") && !removedContainerIDs.contains($0.id) }
            .compactMap { $0.labels[ResourceLabel.session] })
        for network in try await engine.networks(labeled: [ResourceLabel.managed]) {
            let session = network.labels[ResourceLabel.session] ?? ""
            let reason: String?
            if all { reason = "--all" }
            else if liveSessions.contains(session) { reason = nil }
            else if network.labels[ResourceLabel.ephemeral] != nil && Self.ownerIsGone(network.labels) { reason = "its coderunner process is gone" }
            else if let created = network.createdAt ?? network.labels[ResourceLabel.created].flatMap(Double.init), now - created > orphanAge {
                reason = "no live containers for over \(Quantity.formatDuration(settings.orphanAge))"
            } else { reason = nil }
            guard let reason else { continue }
            if !dryRun {
                do { try await engine.removeNetwork(network.id) } catch {
                    continue  // someone attached a container meanwhile: it is in use after all
                }
            }
            removals.append(Removal(kind: "network", name: network.name, reason: reason))
        }
        return removals
    }

    /// What the keeper after every one-shot `coderunner run` collects, so that leftovers of killed processes do not pile
    /// up where nobody runs `net gc` (a CI runner that kills a job's processes when the job ends can kill a keeper before
    /// it has removed its run's network): the resources of process-owned sessions (one-shot runs, standbys, `serve`
    /// connections, shells; labelled ephemeral) made on this host whose coderunner process is gone and that are older
    /// than `olderThan`: containers that are not running (created or exited: a running one expires by itself after
    /// `container.ttl`), then networks with no container left. Nothing else is touched; `net gc` remains the full
    /// collection.
    public func collectWhatDeadProcessesLeft(olderThan: Duration) async throws(EngineError) -> [Removal] {
        let now = SessionNetworks.now()
        let minimumAge = Double(olderThan.microseconds) / 1e6
        var removals: [Removal] = []
        var containers = try await engine.containers(labeled: [ResourceLabel.managed])
        for container in containers where container.state != "running" && container.labels[ResourceLabel.ephemeral] != nil
            && Self.ownerIsGone(container.labels) && now - (container.createdAt ?? now) > minimumAge {
            do { try await engine.removeContainer(container.id) } catch { continue }
            removals.append(Removal(kind: "container", name: container.name, reason: "container is \(container.state)"))
        }
        let removedNames = Set(removals.map(\.name))
        containers.removeAll { removedNames.contains($0.name) }
        let sessionsWithContainers = Set(containers.compactMap { $0.labels[ResourceLabel.session] })
        for network in try await engine.networks(labeled: [ResourceLabel.managed, ResourceLabel.ephemeral]) {
            guard !sessionsWithContainers.contains(network.labels[ResourceLabel.session] ?? ""), Self.ownerIsGone(network.labels),
                  let created = network.createdAt ?? network.labels[ResourceLabel.created].flatMap(Double.init), now - created > minimumAge
            else { continue }
            do { try await engine.removeNetwork(network.id) } catch { continue }  // a container joined meanwhile: in use
            removals.append(Removal(kind: "network", name: network.name, reason: "its coderunner process is gone"))
        }
        return removals
    }
}
