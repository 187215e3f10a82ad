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

/// Creates, finds and removes session networks. Owns the subnet allocator; Docker's own list of networks is
/// the source of truth across processes, so every allocation starts from it.
public actor SessionNetworks {
    let engine: any ContainerEngine
    let settings: EngineSettings
    public let allocator: SubnetAllocator

    public init(engine: any ContainerEngine, settings: EngineSettings) throws(SubnetError) {
        self.engine = engine
        self.settings = settings
        self.allocator = try SubnetAllocator(poolTexts: settings.pools)
    }

    public static func networkName(prefix: String, session: String) -> String { prefix + session }

    /// Subnets every Docker network on the engine uses (ours and others'), so allocation skips them up front.
    func subnetsInUse() async throws(EngineError) -> Set<IPv4Network> {
        var used: Set<IPv4Network> = []
        for network in try await engine.networks(labeled: []) {
            for subnet in network.subnets { if let parsed = IPv4Network(subnet) { used.insert(parsed) } }
        }
        return used
    }

    /// The network of a named session if it exists. When a race left several (Docker does not enforce unique names),
    /// every process picks the same one: the oldest, ties broken by id.
    public func find(session: String) async throws(EngineError) -> SessionNetwork? {
        let matches = try await engine.networks(labeled: ["\(ResourceLabel.session)=\(session)", ResourceLabel.managed])
        guard let network = Self.canonical(matches), let subnetText = network.labels[ResourceLabel.subnet] ?? network.subnets.first,
              let subnet = IPv4Network(subnetText) else { return nil }
        return SessionNetwork(session: session, name: network.name, id: network.id, subnet: subnet, creator: network.labels[ResourceLabel.creator])
    }

    static func canonical(_ networks: [NetworkInfo]) -> NetworkInfo? {
        networks.min { a, b in
            let ca = a.createdAt ?? .infinity, cb = b.createdAt ?? .infinity
            return ca != cb ? ca < cb : a.id < b.id
        }
    }

    /// Creates the session's network on the next free /24. A subnet Docker refuses (another process or network took it
    /// meanwhile) is remembered as taken and the next one tried; a name clash means another process created the same
    /// named session at the same moment, and its network is adopted.
    public func create(session: String, ephemeral: Bool) async throws -> SessionNetwork {
        // Overlapping runs of one session in this process share one creation.
        if let pending = inFlight[session] { return try await pending.value }
        let task = Task { try await self.createNetwork(session: session, ephemeral: ephemeral) }
        inFlight[session] = task
        defer { inFlight[session] = nil }
        return try await task.value
    }

    private var inFlight: [String: Task<SessionNetwork, any Error>] = [:]

    private func createNetwork(session: String, ephemeral: Bool) async throws -> SessionNetwork {
        // Named sessions get a unique suffix: Docker does not enforce unique network names, and two processes racing to
        // create the same session must not make a name that Docker later calls ambiguous.
        let name = Self.networkName(prefix: settings.networkPrefix, session: ephemeral ? session : session + "-" + SessionName.ephemeral().suffix(6))
        let taken = try await subnetsInUse()
        await allocator.recover(taken)
        var labels = settings.networkLabels
        labels[ResourceLabel.managed] = "1"
        labels[ResourceLabel.session] = session
        labels[ResourceLabel.ownerPID] = String(getpid())
        labels[ResourceLabel.ownerHost] = Self.hostName
        labels[ResourceLabel.created] = String(Int(Self.now()))
        labels[ResourceLabel.creator] = settings.sessionCreator
        if ephemeral { labels[ResourceLabel.ephemeral] = "1" }
        for _ in 0..<64 {
            let subnet = try await allocator.allocate(excluding: taken)
            labels[ResourceLabel.subnet] = subnet.description
            let spec = NetworkSpec(name: name, subnet: subnet, driver: settings.networkDriver, isInternal: !settings.allowEgress, labels: labels)
            do {
                let id = try await engine.createNetwork(spec)
                let created = SessionNetwork(session: session, name: name, id: id, subnet: subnet)
                if ephemeral { return created }
                // Two processes may create the same named session at once: both then settle on the canonical network
                // and the other one is removed by the process that made it.
                guard let winner = try await find(session: session), winner.id != id else { return created }
                try? await engine.removeNetwork(id)
                await allocator.release(subnet)
                return winner
            } catch .subnetTaken {
                continue  // allocator keeps it marked: someone else has it
            } catch .conflict(let message) {
                await allocator.release(subnet)
                if let existing = try await find(session: session) { return existing }
                throw EngineError.conflict(message)
            } catch {
                await allocator.release(subnet)
                throw error
            }
        }
        throw EngineError.api("could not find a free subnet after 64 attempts; run `coderunner pool` to see what holds the pools")
    }

    public func remove(_ network: SessionNetwork) async {
        do { try await engine.removeNetwork(network.id) } catch {}
        await allocator.release(network.subnet)
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

/// Who creates a named session, recorded on its network so that a run from another job does not join it by accident
/// (`CodeRunner.checkCreator`): the uid, plus `CODERUNNER_JOB` when set, which tells apart CI jobs under one uid.
public enum SessionCreator {
    public static func current(environment: [String: String]) -> String {
        let job = environment["CODERUNNER_JOB"].map { String($0.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F }.prefix(64)) } ?? ""
        return "uid=\(getuid())" + (job.isEmpty ? "" : " job=\(job)")
    }
}

/// Session names users type (`--session NAME`) become Docker labels and network names: keep them simple.
public enum SessionName {
    public static func validate(_ name: String) throws(SessionError) {
        guard !name.isEmpty, name.count <= 48,
              name.unicodeScalars.allSatisfy({ ($0.properties.isASCIIHexDigit || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }),
              name.first != "-" else {
            throw .badName(name)
        }
        if let prefix = reservedPrefix(of: name) { throw .reservedName(name, prefix: prefix) }
    }

    /// Prefixes of the names coderunner generates itself: one-shot runs (`run-`), shells without `--session`
    /// (`shell-`), notebooks (`nb-`) and standbys (`sb-`). `pool` lists them, so another job could otherwise join one
    /// by its name; a user's `--session` may not start with them.
    public static let reservedPrefixes = ["run-", "shell-", "nb-", standbyPrefix]

    public static func reservedPrefix(of name: String) -> String? {
        reservedPrefixes.first { name.lowercased().hasPrefix($0) }
    }

    /// A fresh random name for a one-shot run.
    public static func ephemeral() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdef")
        return "run-" + String((0..<10).map { _ in alphabet[Int(generator.next() % 16)] })
    }

    /// Sessions of standby containers (`Standby.swift`) are named `sb-…`.
    public static let standbyPrefix = "sb-"
    public static func standby() -> String { standbyPrefix + ephemeral().dropFirst(4) }
    public static func isStandby(_ name: String) -> Bool { name.hasPrefix(standbyPrefix) }
}

public enum SessionError: Error, Equatable, CustomStringConvertible {
    case badName(String)
    case reservedName(String, prefix: String)
    case tooManyContainers(session: String, limit: Int)
    /// The named session exists and was made by another creator (`SessionCreator`); joining it needs `--join`.
    case otherCreator(session: String, creator: String, ours: String)

    public var description: String {
        switch self {
        case .badName(let name):
            return "session name '\(name)' is not allowed: use 1-48 letters, digits, '-' or '_', not starting with '-'"
        case .reservedName(let name, let prefix):
            return "session name '\(name)' starts with '\(prefix)', which coderunner keeps for the sessions it names itself (\(SessionName.reservedPrefixes.joined(separator: ", "))); pick another name, e.g. ci-$JOB_ID"
        case .tooManyContainers(let session, let limit):
            return "session \(session) already has \(limit) busy containers (session.maxContainers); wait for a run to end or raise the limit"
        case .otherCreator(let session, let creator, let ours):
            return "session \(session) was created by \(creator), not by this job (\(ours)); to run in it anyway pass --join (its programs then share a network with yours), or pick another session name"
        }
    }
}
