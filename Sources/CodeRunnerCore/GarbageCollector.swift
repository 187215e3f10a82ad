#if canImport(Glibc)
import Glibc
#endif

/// Collects what crashed or finished processes left behind. Only resources with coderunner's labels are ever touched.
public struct GarbageCollector: Sendable {
    public let engine: any ContainerEngine
    public let settings: EngineSettings
    /// Images a claim before removing a ready network may be made from (never started, so any local one does): the
    /// runtimes' images. The image of a coderunner container the collection lists comes first (it surely exists).
    public let claimImages: [String]

    public init(engine: any ContainerEngine, settings: EngineSettings, claimImages: [String] = []) {
        self.engine = engine
        self.settings = settings
        self.claimImages = claimImages
    }

    /// The image for removal claims: a listed container's, else the first of `claimImages` the engine has. Nil when
    /// there is none: then no session of this configuration can lease a network either (a lease is made from a
    /// runtime's image), and ready networks are removed unclaimed.
    func claimImage(listed: [ContainerInfo]) async -> String? {
        if let image = listed.first?.image { return image }
        for candidate in claimImages where (try? await engine.image(candidate)) != nil { return candidate }
        return nil
    }

    public struct Removal: Sendable, Codable, Equatable {
        public var kind: String  // "container", "lease" or "network"
        public var name: String
        public var reason: String
        /// Docker's answer when the removal failed (the resource is still there); nil when it was removed.
        public var failed: String?

        public init(kind: String, name: String, reason: String, failed: String? = nil) {
            self.kind = kind
            self.name = name
            self.reason = reason
            self.failed = failed
        }
    }

    /// Whether the process that created a resource is gone. Only answerable for resources made on this host.
    static func ownerIsGone(_ labels: [String: String]) -> Bool {
        guard labels[ResourceLabel.ownerHost] == SessionNetworks.hostName,
            let pidText = labels[ResourceLabel.ownerPID], let pid = Int32(pidText), pid > 0
        else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Whether this process may collect a resource: one of its own instance (or of no named instance), or another
    /// instance's whose process is provably gone. Nodes sharing an engine (`server.instance`) thus never collect each
    /// other's live or idle resources; `--all` is the operator's explicit exception.
    func mayCollect(_ labels: [String: String]) -> Bool {
        guard let owner = labels[ResourceLabel.instance], owner != settings.instance else { return true }
        return Self.ownerIsGone(labels)
    }

    /// Docker lists a container's creation time in whole seconds: one made 0.1 s ago may look 1.1 s old.
    static let listedTimeGranularity: Double = 1

    /// How long a lease may hold a network before its session has a container (the first one is being created).
    static let leaseGraceSeconds: Double = 60

    /// Plans (and unless `dryRun`, performs) the collection.
    /// - Containers: not running any more, or ephemeral ones whose owning process is gone; with `all`, every coderunner container.
    /// - Leases (a session's hold on a pool network): the session has no container left and its process is gone, or
    ///   (a named session, whose containers expired) no container for `leaseGraceSeconds`; with `all`, every one.
    /// - Pool networks: the ready ones beyond `network.ready` (the oldest first); with `all`, every one.
    /// - Networks of sessions made before pooling: no running container and older than `gc.orphanAge`, or ephemeral
    ///   with the owner gone; with `all`, every one.
    /// Removals run several at a time (a network's removal gets slow when thousands exist); `progress` hears of each.
    public func collect(all: Bool, dryRun: Bool, progress: (@Sendable (Removal) -> Void)? = nil) async throws(EngineError) -> [Removal] {
        let now = SessionNetworks.now()
        let orphanAge = Double(settings.orphanAge.microseconds) / 1e6
        let everything = try await engine.containers(labeled: [ResourceLabel.managed]).filter { all || mayCollect($0.labels) }
        let leases = everything.filter { $0.labels[ResourceLabel.lease] != nil }
        let containers = everything.filter { $0.labels[ResourceLabel.lease] == nil }
        var removals: [Removal] = []
        var removedContainerIDs: Set<String> = []
        for container in containers {
            let reason: String?
            if all {
                reason = "--all"
            } else if container.state == "created", !Self.ownerIsGone(container.labels),
                now - (container.createdAt ?? now) < orphanAge + Self.listedTimeGranularity
            {
                reason = nil  // a live run is about to start it
            } else if container.state != "running" {
                reason = "container is \(container.state)"
            }
            // A claimed standby is in use by a run whose process is not on its labels (the keeper that made it is): while
            // it runs it is left alone, and its agent's idle expiry ends it if that run is gone.
            else if container.labels[ResourceLabel.ephemeral] != nil && !container.name.hasSuffix(CodeRunner.claimedSuffix)
                && Self.ownerIsGone(container.labels)
            {
                reason = "its coderunner process is gone"
            } else {
                reason = nil
            }
            guard let reason else { continue }
            removals.append(Removal(kind: "container", name: container.name, reason: reason))
            removedContainerIDs.insert(container.id)
        }
        let removedContainers = containers.filter { removedContainerIDs.contains($0.id) }
        let liveSessions = Set(
            containers.filter { ($0.state == "running" || $0.state == "created") && !removedContainerIDs.contains($0.id) }
                .compactMap { $0.labels[ResourceLabel.session] })
        // Leases whose session is over.
        var released: [ContainerInfo] = []
        var leaseRemovals: [Removal] = []
        for lease in leases {
            let session = lease.labels[ResourceLabel.leaseSession] ?? ""
            let age = lease.labels[ResourceLabel.created].flatMap(Double.init).map { now - $0 } ?? .infinity
            let reason: String?
            if all {
                reason = "--all"
            } else if liveSessions.contains(session) {
                reason = nil
            } else if lease.labels[ResourceLabel.ephemeral] != nil {
                reason = Self.ownerIsGone(lease.labels) ? "its coderunner process is gone" : nil
            } else {
                reason = age > Self.leaseGraceSeconds ? "session \(session) has no containers left" : nil
            }
            guard let reason else { continue }
            released.append(lease)
            leaseRemovals.append(Removal(kind: "lease", name: lease.name, reason: reason))
        }
        // Containers and the leases of their sessions go in one pass: what decides a lease's fate was known before any
        // removal, and a second pass would wait for the slowest container of the first.
        if !dryRun {
            await Self.inParallel(removedContainers + released, width: Self.containerRemovalWidth) { container in
                try? await engine.removeContainer(container.id)
            }
        }
        removals += leaseRemovals
        for removed in removals { progress?(removed) }
        let stillLeased = Set(leases.filter { lease in !released.contains { $0.id == lease.id } }.compactMap { $0.labels[ResourceLabel.lease] })
        let networks = try await engine.networks(labeled: [ResourceLabel.managed]).filter { all || mayCollect($0.labels) }
        let networkRemovals = Locked<[Removal]>([])
        let removeNetwork = networkRemover(
            claimImage: dryRun ? nil : await claimImage(listed: everything), dryRun: dryRun, into: networkRemovals, progress: progress)
        await Self.removeReady(
            networks, leased: stillLeased, pools: all ? nil : settings.pools, keep: all ? 0 : settings.readyNetworks,
            reason: all ? "--all" : "ready beyond network.ready (\(settings.readyNetworks))", remove: removeNetwork)
        // Networks of sessions made before pooling.
        var legacy: [(NetworkInfo, String)] = []
        for network in networks where network.labels[ResourceLabel.pool] == nil {
            let session = network.labels[ResourceLabel.session] ?? ""
            let reason: String?
            if all {
                reason = "--all"
            } else if liveSessions.contains(session) {
                reason = nil
            } else if network.labels[ResourceLabel.ephemeral] != nil && Self.ownerIsGone(network.labels) {
                reason = "its coderunner process is gone"
            } else if let created = network.createdAt ?? network.labels[ResourceLabel.created].flatMap(Double.init), now - created > orphanAge {
                reason = "no live containers for over \(Quantity.formatDuration(settings.orphanAge))"
            } else {
                reason = nil
            }
            guard let reason else { continue }
            legacy.append((network, reason))
        }
        await Self.inParallel(legacy) { network, reason in await removeNetwork(network, reason) }
        return removals + networkRemovals.withLock { $0 }
    }

    /// Removes the ready pool networks (no lease holds them) beyond `keep`, the oldest first (`pool drain --networks`).
    public func removeReadyNetworks(keep: Int, progress: (@Sendable (Removal) -> Void)? = nil) async throws(EngineError) -> [Removal] {
        let leases = try await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.lease])
        let leased = Set(leases.compactMap { $0.labels[ResourceLabel.lease] })
        let networks = try await engine.networks(labeled: [ResourceLabel.managed])
        let removals = Locked<[Removal]>([])
        await Self.removeReady(
            networks, leased: leased, pools: settings.pools, keep: keep, reason: keep == 0 ? "every ready network" : "ready beyond \(keep)",
            remove: networkRemover(claimImage: await claimImage(listed: leases), dryRun: false, into: removals, progress: progress))
        return removals.withLock { $0 }
    }

    /// `pools`: only ready networks on these pools count (nil: every pool); others belong to another configuration.
    static func removeReady(
        _ networks: [NetworkInfo], leased: Set<String>, pools: [String]?, keep: Int, reason: String,
        remove: @escaping @Sendable (NetworkInfo, String) async -> Void
    ) async {
        let ranges = pools?.compactMap(IPv4Network.init)
        func inPools(_ network: NetworkInfo) -> Bool {
            guard let ranges else { return true }
            return network.subnets.contains { subnet in IPv4Network(subnet).map { candidate in ranges.contains { $0.overlaps(candidate) } } ?? false }
        }
        let ready = networks.filter { $0.labels[ResourceLabel.pool] != nil && !leased.contains($0.id) && inPools($0) }
            .sorted { ($0.createdAt ?? 0, $0.id) < ($1.createdAt ?? 0, $1.id) }
        await inParallel(Array(ready.dropLast(keep))) { network in await remove(network, reason) }
    }

    /// Removes a network (unless `dryRun`) and records it, with Docker's answer when it refused (a container is attached:
    /// in use after all). A pool network is removed under a claim (`SessionNetworks.removalClaimSession`): the list
    /// that called it ready is already old, and a session may lease it at any moment; one that did is left, unrecorded.
    func networkRemover(
        claimImage: String?, dryRun: Bool, into removals: Locked<[Removal]>, progress: (@Sendable (Removal) -> Void)?
    ) -> @Sendable (NetworkInfo, String) async -> Void {
        { [engine, settings] network, reason in
            var failure: String?
            if !dryRun {
                var claim: String?
                if network.labels[ResourceLabel.pool] != nil, let claimImage,
                    let subnet = network.labels[ResourceLabel.subnet].flatMap(IPv4Network.init) ?? network.subnets.first.flatMap(IPv4Network.init)
                {
                    let spec = SessionNetworks.leaseSpec(
                        of: network, subnet: subnet, session: SessionNetworks.removalClaimSession, ephemeral: true, image: claimImage,
                        settings: settings)
                    do throws(EngineError) {
                        claim = try await engine.createContainer(spec)
                    } catch .conflict {
                        return  // leased since it was listed
                    } catch {
                        failure = "could not claim it for removal: \(error)"
                    }
                }
                if failure == nil {
                    do { try await engine.removeNetwork(network.id) } catch { failure = "\(error)" }
                }
                if let claim { try? await engine.removeContainer(claim) }
            }
            let removal = Removal(kind: "network", name: network.name, reason: reason, failed: failure)
            removals.withLock { $0.append(removal) }
            progress?(removal)
        }
    }

    /// How many containers a sweep removes at a time. On an idle engine the width hardly matters; on a busy one each
    /// removal waits behind the engine's other work, and throughput grows with the width (measured in docs/fleet.md,
    /// "Runs after the sweep change").
    static let containerRemovalWidth = 32

    /// Runs `body` for every item, `width` at a time.
    static func inParallel<Item: Sendable>(_ items: [Item], width: Int = 8, _ body: @escaping @Sendable (Item) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            var next = items.makeIterator()
            for _ in 0..<width {
                guard let item = next.next() else { break }
                group.addTask { await body(item) }
            }
            while await group.next() != nil {
                if let item = next.next() { group.addTask { await body(item) } }
            }
        }
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
        for container in containers
        where container.state != "running" && container.labels[ResourceLabel.ephemeral] != nil
            && container.labels[ResourceLabel.lease] == nil
            && Self.ownerIsGone(container.labels) && now - (container.createdAt ?? now) > minimumAge
        {
            do { try await engine.removeContainer(container.id) } catch { continue }
            removals.append(Removal(kind: "container", name: container.name, reason: "container is \(container.state)"))
        }
        let removedNames = Set(removals.map(\.name))
        containers.removeAll { removedNames.contains($0.name) }
        let sessionsWithContainers = Set(containers.compactMap { $0.labels[ResourceLabel.session] })
        // Leases of dead processes whose sessions have nothing left: their networks go back to the pool.
        for lease in containers
        where lease.labels[ResourceLabel.lease] != nil && lease.labels[ResourceLabel.ephemeral] != nil
            && !sessionsWithContainers.contains(lease.labels[ResourceLabel.leaseSession] ?? "") && Self.ownerIsGone(lease.labels)
        {
            do { try await engine.removeContainer(lease.id) } catch { continue }
            removals.append(Removal(kind: "lease", name: lease.name, reason: "its coderunner process is gone"))
        }
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
