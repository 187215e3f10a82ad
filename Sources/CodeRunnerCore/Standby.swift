#if canImport(Glibc)
import Glibc
#endif

/// Standby containers: one-shot runs without the start-up cost.
///
/// Most of a cold one-shot run is Docker's: making its container (and, with `run.network = session`, leasing a network,
/// on which a container starts slower than on none), starting it, and removing both at the end (docs/benchmarks.md). A
/// standby is that container (and network) made ahead of need: after a one-shot run, `coderunner run` starts a detached keeper process
/// (`coderunner standby`) that removes that run's container and network (the run reported its result without waiting for
/// that) and prepares a standby for the next run (`run.standby` per language). The next one-shot run whose container
/// settings match claims it, runs in it and leaves it to its own keeper to remove, exactly as it would its own.
///
/// - A standby is used once: a program never sees a container another program ran in.
/// - Claiming is a rename to a name derived from the standby's own; Docker grants it to exactly one caller.
/// - Unclaimed, a standby's agent exits after `container.ttl` (the container removes itself) and the keeper, which waits
///   for that, then removes the network. A killed keeper leaves what a crash leaves: `net gc` collects it (ephemeral
///   resources whose owner process is gone).
public struct StandbyContainer: Sendable, Equatable {
    public var containerID: String
    public var name: String
    public var session: String
    /// nil when one-shot runs have no network (`run.network`).
    public var network: SessionNetwork?
    /// Its agent takes the run on its own stdin (attach) rather than through an exec.
    public var servesStdio: Bool = true
}

extension CodeRunner {
    public static let claimedSuffix = "-claimed"

    /// Seconds after its start during which a standby may be claimed (it expires `container.ttl` after its start).
    var standbyUsableSeconds: Double { Double(settings.containerTTL.microseconds) / 1e6 - 5 }

    /// What a container's settings must match for a run to use it: image, limits the container enforces, and the
    /// container-wide settings. Run-stage limits (timeout, output) are the agent's per run and do not count.
    func standbyFingerprint(runtime: Runtime, limits: RunLimits) -> String {
        let parts: [String] = [
            runtime.image, String(limits.memoryBytes), String(limits.cpus), String(limits.pids), String(settings.workdirSize),
            String(settings.tmpSize), String(settings.maxOpenFiles), String(settings.allowEgress), settings.networkPrefix,
            String(settings.containerTTL.microseconds), String(settings.oneShotRunsHaveNetwork),
        ]
        return String(Self.fnv1a(parts.joined(separator: "|")), radix: 16)
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// The running, unclaimed standby containers for these settings, oldest first. One within 5 s of its idle
    /// expiry (`container.ttl` after its start: nothing has used it) is left alone, so a run never claims a container
    /// whose agent is about to exit.
    func standbyCandidates(runtime: Runtime, limits: RunLimits) async throws(EngineError) -> [ContainerInfo] {
        try await standbys(runtime: runtime, limits: limits).ready
    }

    /// The unclaimed standbys for these settings: those ready to be claimed (running, oldest first), and how many are
    /// still starting (created, not yet running: a keeper is at work).
    func standbys(runtime: Runtime, limits: RunLimits) async throws(EngineError) -> (ready: [ContainerInfo], starting: Int) {
        let fingerprint = standbyFingerprint(runtime: runtime, limits: limits)
        let now = SessionNetworks.now()
        let usableFor = standbyUsableSeconds
        // Docker lists a container's image by tag while the tag still names it, by id once the tag was moved (a rebuilt
        // runtime image): a standby of an old image is never taken.
        let unclaimed = try await engine.containers(labeled: [
            ResourceLabel.managed, "\(ResourceLabel.standby)=\(fingerprint)", "\(ResourceLabel.language)=\(runtime.language)",
        ])
        .filter { !$0.name.hasSuffix(Self.claimedSuffix) && $0.image == runtime.image }
        let ready =
            unclaimed
            .filter { $0.state == "running" && now - ($0.createdAt ?? now) < usableFor }
            .sorted { ($0.createdAt ?? 0, $0.name) < ($1.createdAt ?? 0, $1.name) }
        return (ready, unclaimed.filter { $0.state == "created" }.count)
    }

    /// How long a run with no standby ready waits for one a keeper is starting (and claims it) before it starts its own
    /// container: a standby that is being started is ready sooner than a container this run would create now.
    static let standbyStartWait: Duration = .milliseconds(400)

    /// Takes one standby for a run, or nil when none is ready (the run then starts cold). Never throws: a standby is
    /// only ever a shortcut.
    public func claimStandby(runtime: Runtime, limits: RunLimits) async -> StandbyContainer? {
        guard settings.standbyCount > 0 else { return nil }
        let deadline = ContinuousClock.now + Self.standbyStartWait
        while true {
            guard let (ready, starting) = try? await standbys(runtime: runtime, limits: limits) else { return nil }
            if let claimed = await claim(ready) { return claimed }
            guard starting > 0, ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Claims the first of `candidates` no other run took.
    private func claim(_ candidates: [ContainerInfo]) async -> StandbyContainer? {
        for candidate in candidates {
            guard let session = candidate.labels[ResourceLabel.session] else { continue }
            var network: SessionNetwork?
            if settings.oneShotRunsHaveNetwork {
                guard let networkID = candidate.labels[ResourceLabel.standbyNetwork],
                    let subnet = candidate.labels[ResourceLabel.subnet].flatMap(IPv4Network.init)
                else { continue }
                network = SessionNetwork(
                    session: session, name: candidate.labels[ResourceLabel.leasedNetworkName] ?? networkID,
                    id: networkID, subnet: subnet)
            }
            do {
                try await engine.renameContainer(candidate.id, to: candidate.name + Self.claimedSuffix)
            } catch {
                continue  // another run took it, or it expired just now
            }
            return StandbyContainer(
                containerID: candidate.id, name: candidate.name, session: session, network: network,
                servesStdio: candidate.labels[ResourceLabel.stdio] == "1")
        }
        return nil
    }

    /// Prepares standby containers until `run.standby` are ready for these settings, then waits until each made here
    /// is gone (claimed and removed by a run, or expired) and removes its network. Creation is serialized per language
    /// on this host with a lock file, so keepers started by concurrent runs do not overshoot. Returns the names made.
    ///
    /// When the task is cancelled (the keeper was told to stop), the standbys it made that no run has claimed are claimed
    /// by the keeper itself and removed with their networks; claimed ones are left to their runs.
    @discardableResult
    public func keepStandby(runtime: Runtime, limits: RunLimits, poll: Duration = .seconds(1)) async throws -> [String] {
        // A standby that could never be claimed (container.ttl of 5 s or less) would only cost a network and a container.
        guard settings.standbyCount > 0, standbyUsableSeconds > 0 else { return [] }
        var creationError: (any Error)?
        let demand = StandbyDemand(language: runtime.language)
        let made = try await withStandbyLock(language: runtime.language) { () async throws -> [StandbyContainer] in
            let ready = try await standbyCandidates(runtime: runtime, limits: limits).count
            let wanted = demand.wantedStandbys(floor: settings.standbyFloor, ceiling: settings.standbyCount, window: settings.standbyWindow)
            // Side by side: dockerd starts several containers in little more time than one (about twice the
            // throughput here), and a CI loop's runs come faster than one standby a start.
            let results = await withTaskGroup(of: Result<StandbyContainer, any Error>.self) { group in
                for _ in ready..<max(ready, wanted) {
                    group.addTask {
                        do { return .success(try await self.makeStandby(runtime: runtime, limits: limits)) } catch { return .failure(error) }
                    }
                }
                return await group.reduce(into: [Result<StandbyContainer, any Error>]()) { $0.append($1) }
            }
            // Keep what was made beside a failure: those still need their keeper.
            var made: [StandbyContainer] = []
            for result in results {
                switch result {
                case .success(let standby): made.append(standby)
                case .failure(let error): creationError = error
                }
            }
            return made
        }
        if made.isEmpty, let creationError { throw creationError }
        // Wait for each to be gone, then make sure its network is too (a claiming run removes it itself).
        var remaining = made
        while !remaining.isEmpty {
            if Task.isCancelled {
                // In a task of its own: engine calls made from the cancelled task would be cancelled too.
                let unclaimed = remaining
                await Task {
                    for standby in unclaimed {
                        guard (try? await engine.renameContainer(standby.containerID, to: standby.name + Self.claimedSuffix)) != nil else { continue }
                        await cleanUp(container: standby.containerID, network: standby.network)
                    }
                }.value
                break
            }
            try? await Task.sleep(for: poll)
            // Runs have become rarer than the standbys ready: retire this keeper's surplus (never below the floor).
            if let ready = try? await standbyCandidates(runtime: runtime, limits: limits) {
                let wanted = demand.wantedStandbys(floor: settings.standbyFloor, ceiling: settings.standbyCount, window: settings.standbyWindow)
                let readyIDs = Set(ready.map(\.id))
                for standby in remaining.filter({ readyIDs.contains($0.containerID) }).prefix(max(0, ready.count - wanted)) {
                    let engine = self.engine
                    await Task {
                        guard (try? await engine.renameContainer(standby.containerID, to: standby.name + Self.claimedSuffix)) != nil else { return }
                        await cleanUp(container: standby.containerID, network: standby.network)
                    }.value
                }
            }
            let alive = Set(
                (try? await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.standby]))?
                    .filter { $0.state == "running" || $0.state == "created" }.map(\.id) ?? remaining.map(\.containerID))
            for standby in remaining where !alive.contains(standby.containerID) {
                // The container too: an exited one that auto-remove has not taken yet.
                await cleanUp(container: standby.containerID, network: standby.network)
            }
            remaining.removeAll { !alive.contains($0.containerID) }
        }
        return made.map(\.session)
    }

    public func makeStandby(runtime: Runtime, limits: RunLimits) async throws -> StandbyContainer {
        let session = SessionName.standby()
        let network = settings.oneShotRunsHaveNetwork ? try await networks.create(session: session, ephemeral: true, image: runtime.image) : nil
        let name = "coderunner-\(session)-\(runtime.language)"
        var labels = [ResourceLabel.standby: standbyFingerprint(runtime: runtime, limits: limits)]
        if let network {
            labels[ResourceLabel.standbyNetwork] = network.id
            labels[ResourceLabel.leasedNetworkName] = network.name
            labels[ResourceLabel.subnet] = network.subnet.description
        }
        do {
            let id = try await createContainer(
                for: runtime, limits: limits, session: session, network: network, ephemeral: true,
                extraLabels: labels, name: name, singleRun: true)
            return StandbyContainer(containerID: id, name: name, session: session, network: network)
        } catch {
            // In a task of its own: when the keeper was told to stop, calls made from its cancelled task fail at once.
            if let network {
                let networks = self.networks
                await Task { await networks.remove(network) }.value
            }
            throw error
        }
    }

    /// Runs `body` holding an exclusive lock on a per-language file in the temporary directory (released on exit,
    /// also when the process dies).
    func withStandbyLock<T>(language: String, _ body: () async throws -> T) async throws -> T {
        let path = StandbyDemand.stateFile(language: language, suffix: "lock")
        let fd = StandbyDemand.openOwnRegularFile(path, O_RDWR | O_CREAT)
        guard fd >= 0 else { return try await body() }  // no lock file of ours: at worst a standby too many
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await body()
    }
}

/// How many one-shot runs of a language started lately, shared by this user's processes through a small file next to
/// the standby lock: every run appends its start time, and keepers keep as many standbys ready as runs started within
/// `run.standbyWindow` (between `run.standbyFloor` and `run.standby`). A CI loop thus finds standbys ready run after
/// run, and a quiet machine shrinks back to the floor.
public struct StandbyDemand: Sendable {
    public let language: String
    /// Where the file lives: the temporary directory (`TMPDIR`, else /tmp) unless given.
    let directory: String?
    /// The file is rewritten with only the recent entries once it grows past this.
    static let compactAboveBytes = 16 << 10

    public init(language: String, directory: String? = nil) {
        self.language = language
        self.directory = directory
    }

    static func stateFile(language: String, suffix: String, directory: String? = nil) -> String {
        let directory = directory ?? getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        return "\(directory)/coderunner-standby-\(getuid())-\(language).\(suffix)"
    }

    var path: String { Self.stateFile(language: language, suffix: "runs", directory: directory) }

    /// Notes that a one-shot run starts now. Best effort: without the file, standbys stay at the floor.
    public func recordRun(at now: Double = SessionNetworks.now()) {
        let fd = Self.openOwnRegularFile(path, O_WRONLY | O_APPEND | O_CREAT)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let line = "\(Int(now * 1000))\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
    }

    /// Start times (seconds) of the runs recorded, oldest first; unreadable lines are skipped.
    func recordedRuns() -> [Double] {
        let fd = Self.openOwnRegularFile(path, O_RDONLY)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 4 * Self.compactAboveBytes {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return bytes.split(separator: UInt8(ascii: "\n")).compactMap { Int(String(decoding: $0, as: UTF8.self)).map { Double($0) / 1000 } }
    }

    /// Standbys to keep ready: the runs started within `window`, between `floor` and `ceiling`.
    public func wantedStandbys(floor: Int, ceiling: Int, window: Duration, now: Double = SessionNetworks.now()) -> Int {
        let since = now - Double(window.microseconds) / 1e6
        let runs = recordedRuns()
        let recent = runs.filter { $0 >= since }
        if runs.count > recent.count, runs.count * 8 > Self.compactAboveBytes { compact(keeping: recent) }
        return Self.wanted(recentRuns: recent.count, floor: floor, ceiling: ceiling)
    }

    /// Opens a file of ours in a folder other users may write into (/tmp): never through a symlink, never blocking
    /// on a FIFO someone left under our name, and only a regular file this user owns; -1 otherwise.
    static func openOwnRegularFile(_ path: String, _ flags: Int32) -> Int32 {
        let fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        guard fd >= 0 else { return -1 }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == getuid() else {
            close(fd)
            return -1
        }
        return fd
    }

    static func wanted(recentRuns: Int, floor: Int, ceiling: Int) -> Int {
        min(ceiling, max(floor, recentRuns))
    }

    /// Rewrites the file with only `recent` (through a new file renamed over it, so readers never see half of it).
    func compact(keeping recent: [Double]) {
        let temporary = path + ".\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)  // never an existing file (shared /tmp)
        guard fd >= 0 else { return }
        let text = recent.map { "\(Int($0 * 1000))\n" }.joined()
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        if rename(temporary, path) != 0 { unlink(temporary) }
    }
}
