#if canImport(Glibc)
import Glibc
#endif

/// What a container's agent says about itself (`coderunner-agent status`).
public struct AgentStatus: Sendable, Codable, Equatable {
    public var busy: Bool
    public var idleSeconds: Int
    public var ttlSeconds: Int
    /// Seconds until the container removes itself; nil while busy.
    public var ttlLeft: Int? { busy ? nil : max(0, ttlSeconds - idleSeconds) }

    /// Parses `busy=0 idle_seconds=12 ttl=60`.
    public init?(line: String) {
        var values: [Substring: Int] = [:]
        for field in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Int(parts[1]) else { continue }
            values[parts[0]] = value
        }
        guard let busy = values["busy"], let idle = values["idle_seconds"], let ttl = values["ttl"] else { return nil }
        self.busy = busy != 0
        self.idleSeconds = idle
        self.ttlSeconds = ttl
    }
}

/// A snapshot of everything coderunner holds on the engine: pools, session networks, containers.
public struct PoolReport: Sendable, Codable {
    public struct Pool: Sendable, Codable {
        public var cidr: String
        public var capacity: Int
        public var used: Int
        public var free: Int
        /// Networks of the pool ready for the next session, those a session holds, and those a process is making now.
        public var ready: Int
        public var leased: Int
        public var creating: Int
        public var warnings: [String]
    }

    public struct Container: Sendable, Codable {
        public var id: String
        public var name: String
        public var language: String
        public var state: String
        public var busy: Bool?
        public var ttlLeftSeconds: Int?
        public var ageSeconds: Int?
    }

    public struct Session: Sendable, Codable {
        public var name: String
        public var network: String?
        public var subnet: String?
        public var ephemeral: Bool
        public var ageSeconds: Int?
        public var containers: [Container]
    }

    public var pools: [Pool]
    public var sessions: [Session]
    public var totalCapacity: Int
    public var subnetsUsed: Int
    public var containerCount: Int
    public var busyContainers: Int
}

/// Reads the engine's state (Docker's labels are the source of truth) into a `PoolReport`.
public struct Inventory: Sendable {
    public let engine: any ContainerEngine
    public let settings: EngineSettings

    public init(engine: any ContainerEngine, settings: EngineSettings) {
        self.engine = engine
        self.settings = settings
    }

    /// Asks each running container's agent whether it is busy and how long it has left.
    public func agentStatus(of containerID: String) async -> AgentStatus? {
        guard let connection = try? await engine.exec(containerID, argv: [CodeRunner.agentPath, "status"]) else { return nil }
        var bytes: [UInt8] = []
        do {
            for try await chunk in connection.stdout {
                bytes += chunk
                if bytes.count > 4096 { break }
            }
        } catch {}
        await connection.close()
        return AgentStatus(line: String(decoding: bytes, as: UTF8.self))
    }

    public func report(withAgentStatus: Bool = true) async throws(EngineError) -> PoolReport {
        let now = SessionNetworks.now()
        let allNetworks = try await engine.networks(labeled: [])
        let ours = allNetworks.filter { $0.labels[ResourceLabel.managed] != nil }
        let everything = try await engine.containers(labeled: [ResourceLabel.managed])
        let leases = everything.filter { $0.labels[ResourceLabel.lease] != nil }
        let markers = everything.compactMap { $0.labels[ResourceLabel.networkCreating].flatMap(IPv4Network.init) }
        let containers = everything.filter { $0.labels[ResourceLabel.lease] == nil && $0.labels[ResourceLabel.networkCreating] == nil }
        let leasedNetworks = Set(leases.compactMap { $0.labels[ResourceLabel.lease] })
        var statuses: [String: AgentStatus] = [:]
        if withAgentStatus {
            await withTaskGroup(of: (String, AgentStatus?).self) { group in
                for container in containers where container.state == "running" {
                    group.addTask { (container.id, await agentStatus(of: container.id)) }
                }
                for await (id, status) in group { if let status { statuses[id] = status } }
            }
        }
        var sessions: [String: PoolReport.Session] = [:]
        for lease in leases {
            guard let held = SessionNetworks.sessionNetwork(lease: lease) else { continue }
            sessions[held.session] = PoolReport.Session(
                name: held.session, network: held.name, subnet: held.subnet.description, ephemeral: lease.labels[ResourceLabel.ephemeral] != nil,
                ageSeconds: lease.labels[ResourceLabel.created].flatMap(Double.init).map { Int(now - $0) }, containers: [])
        }
        // Networks of sessions made before networks were pooled.
        for network in ours where network.labels[ResourceLabel.pool] == nil {
            let name = network.labels[ResourceLabel.session] ?? network.name
            sessions[name] = PoolReport.Session(
                name: name, network: network.name, subnet: network.labels[ResourceLabel.subnet] ?? network.subnets.first,
                ephemeral: network.labels[ResourceLabel.ephemeral] != nil, ageSeconds: network.createdAt.map { Int(now - $0) }, containers: [])
        }
        for container in containers {
            let name = container.labels[ResourceLabel.session] ?? "?"
            let status = statuses[container.id]
            let entry = PoolReport.Container(
                id: String(container.id.prefix(12)), name: container.name, language: container.labels[ResourceLabel.language] ?? "?",
                state: container.state, busy: status?.busy, ttlLeftSeconds: status?.ttlLeft,
                ageSeconds: container.createdAt.map { Int(now - $0) })
            if sessions[name] == nil {
                sessions[name] = PoolReport.Session(
                    name: name, network: nil, subnet: nil, ephemeral: container.labels[ResourceLabel.ephemeral] != nil,
                    ageSeconds: nil, containers: [])
            }
            sessions[name]!.containers.append(entry)
        }
        // Pools: every Docker network's subnet counts against a pool, ours or not (Docker refuses overlaps either way).
        let hostRoutes = HostRoutes.read()
        var pools: [PoolReport.Pool] = []
        for text in settings.pools {
            guard let pool = IPv4Network(text) else {
                pools.append(.init(cidr: text, capacity: 0, used: 0, free: 0, ready: 0, leased: 0, creating: 0, warnings: ["not an IPv4 CIDR"]))
                continue
            }
            var used: Set<IPv4Network> = []
            var warnings: [String] = []
            var ready = 0
            var leased = 0
            for network in ours
            where network.labels[ResourceLabel.pool] != nil && network.subnets.contains(where: { IPv4Network($0).map(pool.contains) ?? false }) {
                if leasedNetworks.contains(network.id) { leased += 1 } else { ready += 1 }
            }
            for network in allNetworks {
                for subnet in network.subnets.compactMap(IPv4Network.init) where pool.overlaps(subnet) {
                    if network.labels[ResourceLabel.managed] != nil {
                        used.insert(subnet)
                    } else {
                        warnings.append("overlaps Docker network \(network.name) (\(subnet))")
                        for index in 0..<pool.subnet24Count where pool.subnet24(at: index).overlaps(subnet) { used.insert(pool.subnet24(at: index)) }
                    }
                }
            }
            if !pool.isPrivate { warnings.append("not a private (RFC 1918) range: session traffic could shadow real addresses") }
            for route in hostRoutes where route.prefixLength > 0 && route.overlaps(pool) {
                let ownBridge = allNetworks.contains { network in network.subnets.contains(route.description) }
                if !ownBridge { warnings.append("overlaps host route \(route)") }
            }
            let capacity = pool.subnet24Count
            if capacity > 0 && used.count >= capacity && ready == 0 {
                warnings.append("full: new sessions are refused until one ends (or add a pool to network.pools)")
            }
            pools.append(
                .init(
                    cidr: pool.description, capacity: capacity, used: min(used.count, capacity),
                    free: max(0, capacity - used.count), ready: ready, leased: leased,
                    creating: markers.filter(pool.contains).count, warnings: warnings))
        }
        let sortedSessions = sessions.values.sorted { ($0.ageSeconds ?? 0, $0.name) < ($1.ageSeconds ?? 0, $1.name) }
        return PoolReport(
            pools: pools, sessions: sortedSessions, totalCapacity: pools.reduce(0) { $0 + $1.capacity },
            subnetsUsed: pools.reduce(0) { $0 + $1.used }, containerCount: containers.count,
            busyContainers: statuses.values.filter(\.busy).count)
    }
}

/// IPv4 routes of the host (`/proc/net/route`), to warn about pools that would shadow them.
public enum HostRoutes {
    public static func read(path: String = "/proc/net/route") -> [IPv4Network] {
        guard let bytes = FileSystem.readFile(path) else { return [] }
        var routes: [IPv4Network] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16) else { continue }
            // The file holds addresses in host (little-endian) byte order.
            let address = destination.byteSwapped
            let prefix = mask.nonzeroBitCount
            routes.append(IPv4Network(address: address, prefixLength: prefix))
        }
        return routes
    }
}
