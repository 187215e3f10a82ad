#if canImport(Glibc)
import Glibc
#endif

/// Standby containers: one-shot runs without the start-up cost.
///
/// `docker run --rm` of a tiny program takes about 340 ms here. A one-shot run that makes its own session takes about
/// 580 ms: it creates an internal network on a fresh /24 (about 100 ms), starts a container on it (an internal bridge
/// starts about 100 ms slower than Docker's default one) and removes both at the end. A standby is that network and
/// container made ahead of need: after a one-shot run, `coderunner run` starts a detached keeper process
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
    static let claimedSuffix = "-claimed"

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
        let fingerprint = standbyFingerprint(runtime: runtime, limits: limits)
        let now = SessionNetworks.now()
        let usableFor = standbyUsableSeconds
        // Docker lists a container's image by tag while the tag still names it, by id once the tag was moved (a rebuilt
        // runtime image): a standby of an old image is never taken.
        return try await engine.containers(labeled: [
            ResourceLabel.managed, "\(ResourceLabel.standby)=\(fingerprint)", "\(ResourceLabel.language)=\(runtime.language)",
        ])
        .filter { $0.state == "running" && !$0.name.hasSuffix(Self.claimedSuffix) && $0.image == runtime.image && now - ($0.createdAt ?? now) < usableFor }
        .sorted { ($0.createdAt ?? 0, $0.name) < ($1.createdAt ?? 0, $1.name) }
    }

    /// Takes one standby for a run, or nil when none is ready (the run then starts cold). Never throws: a standby is
    /// only ever a shortcut.
    public func claimStandby(runtime: Runtime, limits: RunLimits) async -> StandbyContainer? {
        guard settings.standbyCount > 0, let candidates = try? await standbyCandidates(runtime: runtime, limits: limits) else { return nil }
        for candidate in candidates {
            guard let session = candidate.labels[ResourceLabel.session] else { continue }
            var network: SessionNetwork?
            if settings.oneShotRunsHaveNetwork {
                guard let networkID = candidate.labels[ResourceLabel.standbyNetwork],
                      let subnet = candidate.labels[ResourceLabel.subnet].flatMap(IPv4Network.init) else { continue }
                network = SessionNetwork(session: session, name: SessionNetworks.networkName(prefix: settings.networkPrefix, session: session),
                                         id: networkID, subnet: subnet)
            }
            do {
                try await engine.renameContainer(candidate.id, to: candidate.name + Self.claimedSuffix)
            } catch {
                continue  // another run took it, or it expired just now
            }
            return StandbyContainer(containerID: candidate.id, name: candidate.name, session: session, network: network,
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
        let made = try await withStandbyLock(language: runtime.language) { () async throws -> [StandbyContainer] in
            let ready = try await standbyCandidates(runtime: runtime, limits: limits).count
            var made: [StandbyContainer] = []
            for _ in ready..<max(ready, settings.standbyCount) {
                // Keep what was made before a failure: those still need their keeper.
                do { made.append(try await makeStandby(runtime: runtime, limits: limits)) } catch { creationError = error; break }
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
            let alive = Set((try? await engine.containers(labeled: [ResourceLabel.managed, ResourceLabel.standby]))?
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
        let network = settings.oneShotRunsHaveNetwork ? try await networks.create(session: session, ephemeral: true) : nil
        let name = "coderunner-\(session)-\(runtime.language)"
        var labels = [ResourceLabel.standby: standbyFingerprint(runtime: runtime, limits: limits)]
        if let network {
            labels[ResourceLabel.standbyNetwork] = network.id
            labels[ResourceLabel.subnet] = network.subnet.description
        }
        do {
            let id = try await createContainer(for: runtime, limits: limits, session: session, network: network, ephemeral: true,
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
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        let path = "\(directory)/coderunner-standby-\(getuid())-\(language).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return try await body() }  // no lock file possible: at worst one standby too many
        defer { close(fd) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await body()
    }
}
