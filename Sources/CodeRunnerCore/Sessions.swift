#if canImport(Glibc)
import Glibc
#endif

/// A session's network: a bridge network on its own /24, internal unless egress is allowed, labelled so
/// `pool`, `net gc` and a restarted process can find it.
public struct SessionNetwork: Sendable, Equatable {
    public var session: String
    public var name: String
    public var id: String
    public var subnet: IPv4Network
    /// Who created the session (`ResourceLabel.creator`); nil on networks made before it was recorded.
    public var creator: String? = nil
}

/// Session networks, leased from a pool: creating and removing a bridge network gets slower with every network that
/// exists (Docker's iptables bookkeeping; figures in docs/capacity.md), so networks are made once and handed from
/// session to session instead.
///
/// A pool network is an internal (unless egress is allowed) bridge on its own /24, labelled `ResourceLabel.pool`,
/// with nothing of any session on its labels. A session holds one through a **lease**: a container that is created
/// but never started, named after the network (`LEASE-PREFIX` + network id), whose labels say which session holds it,
/// who created the session and which process (pid and host) owns it. Docker grants a container name to one creator,
/// so of many processes leasing one network at once exactly one succeeds; the lease is given back by removing it, once
/// the session's containers are gone, and the network is then ready for the next session. Docker's lists stay the
/// source of truth: a restarted process finds every lease, and a lease whose process is gone (a process-owned
/// session, on this host) is reclaimed once nothing of its session is left. A network with a container still
/// attached is never leased.
public actor SessionNetworks {
    let engine: any ContainerEngine
    let settings: EngineSettings
    public nonisolated let allocator: SubnetAllocator

    public init(engine: any ContainerEngine, settings: EngineSettings) throws(SubnetError) {
        self.engine = engine
        self.settings = settings
        self.allocator = try SubnetAllocator(poolTexts: settings.pools)
    }

    /// A pool network's name: the prefix and its subnet (`coderunner-session-net-10-64-3-0`).
    static func poolNetworkName(prefix: String, subnet: IPv4Network) -> String {
        prefix + "net-" + IPv4Network.formatAddress(subnet.address).split(separator: ".").joined(separator: "-")
    }

    /// The lease's container name: one per network, which is what makes a lease exclusive.
    static func leaseName(prefix: String, networkID: String) -> String { prefix + "lease-" + networkID.prefix(12) }

    /// The kind of pool network these settings make (`ResourceLabel.pool`).
    var poolKind: String { settings.networkDriver + (settings.allowEgress ? "/egress" : "/internal") }

    /// Subnets every Docker network on the engine uses (ours and others'), so allocation skips them up front.
    func subnetsInUse() async throws(EngineError) -> Set<IPv4Network> {
        var used: Set<IPv4Network> = []
        for network in try await engine.networks(labeled: []) {
            for subnet in network.subnets { if let parsed = IPv4Network(subnet) { used.insert(parsed) } }
        }
        return used
    }

    /// Networks of other instances (`server.instance`) on this process's pools: nodes that share an engine must have
    /// disjoint pools, or one would lease, count and collect the other's networks. Sorted by subnet.
    public func otherInstancesNetworksInPools() async throws(EngineError) -> [(instance: String, subnet: IPv4Network)] {
        var found: [(instance: String, subnet: IPv4Network)] = []
        for network in try await engine.networks(labeled: [ResourceLabel.managed, ResourceLabel.instance]) {
            guard let owner = network.labels[ResourceLabel.instance], owner != settings.instance else { continue }
            for subnet in network.subnets.compactMap(IPv4Network.init) where allocator.pools.contains(where: { $0.contains(subnet) }) {
                found.append((owner, subnet))
            }
        }
        return found.sorted { $0.subnet < $1.subnet }
    }

    /// The network a session holds, if any. Should a race have left it two leases (two processes starting one named
    /// session at once), every process picks the same one: the oldest, ties broken by id.
    public func find(session: String) async throws(EngineError) -> SessionNetwork? {
        let leases = try await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.lease, "\(ResourceLabel.leaseSession)=\(session)"])
        return Self.canonicalLease(leases).flatMap(Self.sessionNetwork(lease:))
    }

    static func canonicalLease(_ leases: [ContainerInfo]) -> ContainerInfo? {
        leases.min { a, b in
            let ca = a.labels[ResourceLabel.created].flatMap(Double.init) ?? .infinity
            let cb = b.labels[ResourceLabel.created].flatMap(Double.init) ?? .infinity
            return ca != cb ? ca < cb : a.id < b.id
        }
    }

    /// What a lease's labels say about the network it holds.
    public static func sessionNetwork(lease: ContainerInfo) -> SessionNetwork? {
        guard let session = lease.labels[ResourceLabel.leaseSession], let id = lease.labels[ResourceLabel.lease],
            let subnet = lease.labels[ResourceLabel.subnet].flatMap(IPv4Network.init)
        else { return nil }
        return SessionNetwork(
            session: session, name: lease.labels[ResourceLabel.leasedNetworkName] ?? id, id: id, subnet: subnet,
            creator: lease.labels[ResourceLabel.creator])
    }

    /// Whether a lease's holder is gone for good: a process-owned session whose process (on this host) has exited.
    /// Named sessions outlive processes; `net gc` gives their networks back once their containers are gone.
    static func holderIsGone(_ lease: ContainerInfo) -> Bool {
        lease.labels[ResourceLabel.ephemeral] != nil && GarbageCollector.ownerIsGone(lease.labels)
    }

    /// Leases a network for `session`: a ready one of the pool, else one whose holder is gone and left nothing
    /// behind, else a new one made for the pool. `image` is any local image (the lease container is never started).
    public func create(session: String, ephemeral: Bool, image: String) async throws -> SessionNetwork {
        // Overlapping runs of one session in this process share one lease.
        if let pending = inFlight[session] { return try await pending.value }
        let started = ContinuousClock.now
        let task = Task { try await self.lease(session: session, ephemeral: ephemeral, image: image) }
        inFlight[session] = task
        defer { inFlight[session] = nil }
        let leased = try await task.value
        let seconds = Double((ContinuousClock.now - started).microseconds) / 1e6
        statistics.count += 1
        statistics.seconds += seconds
        statistics.slowestSeconds = max(statistics.slowestSeconds, seconds)
        return leased
    }

    private var inFlight: [String: Task<SessionNetwork, any Error>] = [:]

    /// Network creations this process has in Docker at once. dockerd makes networks largely one after another, slower
    /// the more exist, so fifty sent at once wait there past `engine.timeout` and fail (docs/capacity.md); queued here,
    /// they only wait.
    static let creationsInDocker = 4
    private let creationSlots = AsyncSlots(width: SessionNetworks.creationsInDocker)

    /// Leases made by this process and how long they took (`serve`'s /metrics).
    /// Pool networks this process is making now (`/metrics`; Docker has no record of a network before it exists).
    public private(set) var creating = 0

    public struct LeaseStatistics: Sendable, Equatable {
        public var count: UInt64 = 0
        public var seconds: Double = 0
        public var slowestSeconds: Double = 0
        /// Networks this process made for the pool.
        public var networksMade: UInt64 = 0
        public init() {}
    }

    public private(set) var statistics = LeaseStatistics()

    private func lease(session: String, ephemeral: Bool, image: String) async throws -> SessionNetwork {
        let kind = poolKind
        async let listedNetworks = engine.networks(labeled: [ResourceLabel.managed, "\(ResourceLabel.pool)=\(kind)"])
        let leases = try await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.lease])
        let networks = try await listedNetworks
        let holders = Dictionary(grouping: leases) { $0.labels[ResourceLabel.lease] ?? "" }
        // Ready networks first, in random order (concurrent sessions then rarely reach for the same one), then those
        // whose holder is gone.
        // Only networks in the configured pools (another configuration's pools may hold some too).
        let pools = allocator.pools
        let ours = networks.filter { network in
            network.subnets.compactMap(IPv4Network.init).contains { subnet in pools.contains { $0.contains(subnet) } }
        }
        let ready = ours.filter { holders[$0.id] == nil }.shuffled()
        let abandoned = ours.filter { network in holders[network.id].map { $0.allSatisfy(Self.holderIsGone) } ?? false }.shuffled()
        for network in ready + abandoned {
            let dead = holders[network.id] ?? []
            if !dead.isEmpty {
                // What the gone process left must be gone first (`net gc` or the next keeper removes it).
                var stranded = false
                for lease in dead {
                    let session = lease.labels[ResourceLabel.leaseSession] ?? ""
                    if try await !engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"]).isEmpty {
                        stranded = true
                    }
                }
                if stranded { continue }
                // By id: a lease another process made meanwhile (with a new id) is never removed.
                for lease in dead { try? await engine.removeContainer(lease.id) }
            }
            if let leased = try await take(network, session: session, ephemeral: ephemeral, image: image) { return leased }
        }
        for _ in 0..<8 {
            let network = try await createPoolNetwork(markerImage: image)
            if let leased = try await take(network, session: session, ephemeral: ephemeral, image: image) { return leased }
        }
        throw EngineError.conflict("every network leased for session \(session) was taken by another process first; try again")
    }

    /// Creates the lease of `network` for `session`; nil when another process holds it (or it has a container attached).
    private func take(_ network: NetworkInfo, session: String, ephemeral: Bool, image: String) async throws -> SessionNetwork? {
        guard let subnet = network.labels[ResourceLabel.subnet].flatMap(IPv4Network.init) ?? network.subnets.first.flatMap(IPv4Network.init) else {
            return nil
        }
        let spec = Self.leaseSpec(of: network, subnet: subnet, session: session, ephemeral: ephemeral, image: image, settings: settings)
        let leaseID: String
        do {
            leaseID = try await engine.createContainer(spec)
        } catch {
            if case .conflict = error { return nil }  // another process leased it first
            throw error
        }
        let leased = SessionNetwork(session: session, name: network.name, id: network.id, subnet: subnet, creator: settings.sessionCreator)
        // Never share a network with what another session left attached to it.
        let attached: Int
        do { attached = try await engine.network(network.id).map { $0.containerCount ?? 0 } ?? -1 } catch { attached = -1 }
        guard attached == 0 else {
            try? await engine.removeContainer(leaseID)
            return nil
        }
        guard !ephemeral, let winner = try await find(session: session), winner.id != network.id else { return leased }
        // Two processes started this named session at once: both settle on the canonical lease.
        try? await engine.removeContainer(leaseID)
        return winner
    }

    /// The lease container of `network` for `session` (never started; its name is the network's lease name).
    static func leaseSpec(
        of network: NetworkInfo, subnet: IPv4Network, session: String, ephemeral: Bool, image: String, settings: EngineSettings
    ) -> ContainerSpec {
        var labels = [
            ResourceLabel.managed: "1", ResourceLabel.lease: network.id, ResourceLabel.leasedNetworkName: network.name,
            ResourceLabel.leaseSession: session, ResourceLabel.subnet: subnet.description, ResourceLabel.creator: settings.sessionCreator,
            ResourceLabel.ownerPID: String(getpid()), ResourceLabel.ownerHost: Self.hostName, ResourceLabel.created: String(Self.now()),
        ]
        if ephemeral { labels[ResourceLabel.ephemeral] = "1" }
        labels.merge(settings.instanceLabels) { _, instance in instance }
        return ContainerSpec(
            name: Self.leaseName(prefix: settings.networkPrefix, networkID: network.id), image: image, command: ["lease"], environment: [],
            labels: labels, network: nil, user: "0:0", workingDirectory: "/", memoryBytes: 16 << 20, nanoCPUs: 100_000_000, pidsLimit: 1,
            tmpfs: [:], readOnlyRoot: true, maxOpenFiles: 16, autoRemove: false)
    }

    /// The session a sweep's removal claim names: a ready network is removed only under a lease of its own (Docker
    /// grants the lease name to one caller), so a session leasing it at the same moment either got it first (the network
    /// is left) or finds it claimed and takes another. Not a valid session name (it has a space), so no session has it.
    static let removalClaimSession = "network removal"

    /// Makes a ready network for the pool on the next free /24. A subnet Docker refuses (another process or network
    /// took it meanwhile) is remembered as taken and the next one tried. While Docker makes it, a creation marker
    /// (from `markerImage`, when given and present) lets `pool` in any process count it as creating.
    func createPoolNetwork(markerImage: String?) async throws -> NetworkInfo {
        creating += 1
        defer { creating -= 1 }
        let taken = try await subnetsInUse()
        await allocator.recover(taken)
        var labels = settings.networkLabels.merging(settings.instanceLabels) { _, instance in instance }
        labels[ResourceLabel.managed] = "1"
        labels[ResourceLabel.pool] = poolKind
        labels[ResourceLabel.created] = String(Int(Self.now()))
        for _ in 0..<64 {
            let subnet = try await allocator.allocate(excluding: taken)
            labels[ResourceLabel.subnet] = subnet.description
            let name = Self.poolNetworkName(prefix: settings.networkPrefix, subnet: subnet)
            let spec = NetworkSpec(name: name, subnet: subnet, driver: settings.networkDriver, isInternal: !settings.allowEgress, labels: labels)
            await creationSlots.acquire()
            let marker = await creationMarker(subnet: subnet, image: markerImage)
            let created: Result<String, EngineError>
            do { created = .success(try await engine.createNetwork(spec)) } catch { created = .failure(error) }
            if let marker { try? await engine.removeContainer(marker) }
            creationSlots.release()
            do {
                let id = try created.get()
                statistics.networksMade += 1
                return NetworkInfo(
                    id: id, name: name, subnets: [subnet.description], labels: labels, isInternal: !settings.allowEgress,
                    createdAt: Self.now(), containerCount: 0)
            } catch .subnetTaken {
                await allocator.scatter()  // allocator keeps it marked: someone else has it; others may be racing for the next
                continue
            } catch {
                await allocator.release(subnet)
                throw error
            }
        }
        throw EngineError.api("could not find a free subnet after 64 attempts; run `coderunner pool` to see what holds the pools")
    }

    /// The creation marker of a pool network on `subnet`: a container created and never started, labelled with the
    /// subnet and this process (a dead process's markers go with its other leftovers). Best effort: without an image,
    /// or when Docker refuses, the network is made unmarked.
    private func creationMarker(subnet: IPv4Network, image: String?) async -> String? {
        guard let image else { return nil }
        let labels = [
            ResourceLabel.managed: "1", ResourceLabel.networkCreating: subnet.description, ResourceLabel.ephemeral: "1",
            ResourceLabel.ownerPID: String(getpid()), ResourceLabel.ownerHost: Self.hostName, ResourceLabel.created: String(Self.now()),
        ].merging(settings.instanceLabels) { _, instance in instance }
        let spec = ContainerSpec(
            name: nil, image: image, command: ["creating"], environment: [], labels: labels, network: nil, user: "0:0",
            workingDirectory: "/", memoryBytes: 16 << 20, nanoCPUs: 100_000_000, pidsLimit: 1, tmpfs: [:], readOnlyRoot: true,
            maxOpenFiles: 16, autoRemove: false)
        return try? await engine.createContainer(spec)
    }

    /// Makes `count` ready networks ahead of need (`pool warm --networks`), several at a time.
    public func fill(count: Int, markerImage: String? = nil) async throws -> Int {
        var made = 0
        var remaining = count
        while remaining > 0 {
            let batch = min(remaining, 8)
            made += try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<batch { group.addTask { _ = try await self.createPoolNetwork(markerImage: markerImage) } }
                var count = 0
                for try await _ in group { count += 1 }
                return count
            }
            remaining -= batch
        }
        return made
    }

    /// How many networks of this kind are ready (in the pool, not leased).
    public func readyCount() async throws(EngineError) -> Int { try await occupancy().ready }

    /// The pool's networks of this kind: ready, and leased by some session (every process's).
    public func occupancy() async throws(EngineError) -> (ready: Int, leased: Int) {
        let networks = try await engine.networks(labeled: [ResourceLabel.managed, "\(ResourceLabel.pool)=\(poolKind)"])
        let leased = Set(
            try await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.lease]).compactMap { $0.labels[ResourceLabel.lease] })
        let held = networks.filter { leased.contains($0.id) }.count
        return (networks.count - held, held)
    }

    /// Session subnets no session holds: the pools' capacity less every process's leases.
    public func unleasedCapacity() async throws(EngineError) -> Int {
        let leases = Set(
            try await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.lease]).compactMap { $0.labels[ResourceLabel.lease] })
        return allocator.capacity - leases.count
    }

    /// Makes networks ready, one at a time (dockerd's work, off every session's path), until `network.ready` are.
    /// `serve` calls it after each sweep, so a burst of new connections finds networks ready.
    public func topUp(markerImage: String? = nil) async throws -> Int {
        var made = 0
        while try await readyCount() < settings.readyNetworks, !Task.isCancelled {
            _ = try await createPoolNetwork(markerImage: markerImage)
            made += 1
        }
        return made
    }

    /// Removes a session's leases on a network that is gone (whatever is left of the session).
    public func dropLeases(session: String, networkID: String) async {
        let leases =
            (try? await engine.containers(labeled: [
                ResourceLabel.managed, "\(ResourceLabel.lease)=\(networkID)", "\(ResourceLabel.leaseSession)=\(session)",
            ])) ?? []
        for lease in leases { try? await engine.removeContainer(lease.id) }
    }

    /// Gives the session's network back to the pool: removes its lease, once nothing of the session is left (its
    /// containers are removed first by every caller; if one is still there, the lease stays for `net gc`).
    public func remove(_ network: SessionNetwork) async {
        await release(networkID: network.id, session: network.session)
    }

    /// Removes the leases on `networkID` (of `session`, or of any session) whose session has no container left.
    public func release(networkID: String, session: String? = nil) async {
        var labels = [ResourceLabel.managed, "\(ResourceLabel.lease)=\(networkID)"]
        if let session { labels.append("\(ResourceLabel.leaseSession)=\(session)") }
        guard let leases = try? await engine.containers(labeled: labels) else { return }
        for lease in leases {
            let holder = lease.labels[ResourceLabel.leaseSession] ?? ""
            guard let left = try? await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(holder)"]), left.isEmpty else {
                continue
            }
            try? await engine.removeContainer(lease.id)
        }
    }

    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    public static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
