/// Sessions made ahead of need for `serve`'s connections (`server.standby`): a leased network with one running
/// container of a language, named as a session's first container is. A connection's first run takes one and becomes
/// that session, so its run is a warm run (attach to a waiting agent) instead of a lease, a container start and an
/// attach while other connections start theirs.
///
/// - Exactly one taker: the standbys live in this actor, made by this process for this process, and `take` hands
///   each out once. Other processes never see them as theirs (they are labelled ephemeral with this process as owner,
///   so `net gc` collects them only once it is gone).
/// - Correct limits: a standby is made with the language's configured limits; a run that tightened the memory, CPU or
///   process limits of its container does not take one.
/// - Expiry: an unused standby's agent exits after `server.standbyMaxAge` (`idle --unused-ttl`); the refill retires
///   standbys 5 s before that and makes new ones, so a connection never takes one whose agent is about to exit. Once
///   taken, the container idles out after `container.ttl` like any session container.
/// - Refill: one container at a time, so the background work never takes more than one start's share of the CPU from
///   running programs.
/// - Capacity: ready sessions hold networks, so none is made while no more subnets are free than are wanted ready, and
///   with none free the oldest ready one is given back; a full pool refuses real sessions, never because of these.
public actor SessionStandbys {
    public struct Standby: Sendable {
        public var session: String
        public var language: String
        public var containerID: String
        var limits: RunLimits
        var madeAt: ContinuousClock.Instant
    }

    public struct Statistics: Sendable, Equatable {
        /// First runs that took a standby, and those that found none of their language ready.
        public var taken = 0
        public var missed = 0
        public var made = 0
        public var expired = 0
        public var failed = 0
        public init() {}
    }

    let runner: CodeRunner
    /// Standbys wanted per language.
    public nonisolated let wanted: [String: Int]
    let runtimes: [String: Runtime]
    let limits: [String: RunLimits]
    let unusedTTL: Duration
    private var ready: [String: [Standby]] = [:]
    private var creating: [String: Int] = [:]
    private var stopped = false
    public private(set) var statistics = Statistics()
    /// Why the last standby could not be made (for the server's log).
    public private(set) var lastError: String?

    /// How long before its agent exits an unused standby is retired (never handed out).
    static let retireMargin: Duration = .seconds(5)

    /// - Parameters:
    ///   - wanted: language → count (languages with a count of 0 are left out).
    ///   - runtimes, limits: the runtime and configured limits of each wanted language.
    public init(runner: CodeRunner, wanted: [String: Int], runtimes: [String: Runtime], limits: [String: RunLimits], unusedTTL: Duration) {
        self.runner = runner
        self.wanted = wanted.filter { $0.value > 0 }
        self.runtimes = runtimes
        self.limits = limits
        self.unusedTTL = unusedTTL
    }

    /// Hands out a standby session of `language` made with exactly these container limits, or nil (the caller then
    /// starts a session of its own). Never the same one twice.
    public func take(language: String, limits requested: RunLimits, now: ContinuousClock.Instant = .now) -> String? {
        guard wanted[language] != nil else { return nil }
        let usable = ready[language, default: []].filter { now - $0.madeAt < unusedTTL - Self.retireMargin }
        guard let index = usable.firstIndex(where: { Self.sameContainer($0.limits, requested) }),
            let position = ready[language]?.firstIndex(where: { $0.containerID == usable[index].containerID })
        else {
            statistics.missed += 1
            return nil
        }
        let standby = ready[language]!.remove(at: position)
        statistics.taken += 1
        return standby.session
    }

    /// Whether a container made with `made` enforces exactly `requested` (the limits the container itself holds;
    /// timeouts and the output limit are the agent's, per run).
    static func sameContainer(_ made: RunLimits, _ requested: RunLimits) -> Bool {
        made.memoryBytes == requested.memoryBytes && made.cpus == requested.cpus && made.pids == requested.pids
    }

    /// Ready and being made, per wanted language.
    public var counts: [String: (ready: Int, creating: Int)] {
        Dictionary(uniqueKeysWithValues: wanted.keys.map { ($0, (ready[$0, default: []].count, creating[$0, default: 0])) })
    }

    /// One pass: retires standbys near their expiry, then makes one standby for each language below its count (the
    /// language furthest below first). Returns whether it made one, so the caller knows to go on without waiting.
    @discardableResult
    public func refillOnce(now: ContinuousClock.Instant = .now) async -> Bool {
        guard !stopped else { return false }
        var retired: [Standby] = []
        for language in ready.keys {
            ready[language]!.removeAll { standby in
                let old = now - standby.madeAt >= unusedTTL - Self.retireMargin
                if old { retired.append(standby) }
                return old
            }
        }
        statistics.expired += retired.count
        for standby in retired { try? await runner.endSession(standby.session) }
        // Ready sessions never crowd out real ones: none is made unless more subnets are free than are wanted ready, and
        // when none is free at all, the oldest ready one gives its network back (a run of another language needs it).
        let free = (try? await runner.networks.unleasedCapacity()) ?? 0
        if free <= wanted.values.reduce(0, +) {
            if free <= 0, let oldest = ready.values.flatMap({ $0 }).min(by: { $0.madeAt < $1.madeAt }) {
                ready[oldest.language]?.removeAll { $0.containerID == oldest.containerID }
                statistics.expired += 1
                try? await runner.endSession(oldest.session)
            }
            return false
        }
        let short = wanted.map { ($0.key, $0.value - ready[$0.key, default: []].count - creating[$0.key, default: 0]) }
            .filter { $0.1 > 0 }
            .sorted { ($0.1, $1.0) > ($1.1, $0.0) }
        guard let (language, _) = short.first, let runtime = runtimes[language], let limits = limits[language] else { return false }
        creating[language, default: 0] += 1
        defer { creating[language, default: 1] -= 1 }
        do {
            let standby = try await make(runtime: runtime, limits: limits)
            if stopped {
                try? await runner.endSession(standby.session)
                return false
            }
            ready[language, default: []].append(standby)
            statistics.made += 1
            return true
        } catch {
            statistics.failed += 1
            lastError = String(describing: error)
            return false
        }
    }

    /// A session named as `serve`'s connections are, on a leased network, with the language's first container running.
    func make(runtime: Runtime, limits: RunLimits) async throws -> Standby {
        let session = Self.sessionName()
        do {
            let network = try await runner.networks.create(session: session, ephemeral: true, image: runtime.image)
            let id = try await runner.createContainer(
                for: runtime, limits: limits, session: session, network: network, ephemeral: true,
                extraLabels: [ResourceLabel.serveStandby: "1"],
                name: CodeRunner.preferredContainerName(session: session, language: runtime.language), unusedTTL: unusedTTL)
            return Standby(session: session, language: runtime.language, containerID: id, limits: limits, madeAt: .now)
        } catch {
            // In a task of its own: calls made from a cancelled task would fail at once.
            let runner = self.runner
            await Task { try? await runner.endSession(session) }.value
            throw error
        }
    }

    /// Removes every standby not handed out and makes no more (server shutdown).
    public func removeAll() async {
        stopped = true
        // One being made now is removed by its maker, which sees `stopped`.
        while creating.values.contains(where: { $0 > 0 }) { try? await Task.sleep(for: .milliseconds(20)) }
        let all = ready.values.flatMap { $0 }
        ready = [:]
        // Eight at a time (hundreds at once would time out in dockerd), and those that failed once more, one by one.
        let failed = Locked<[String]>([])
        let runner = self.runner
        await GarbageCollector.inParallel(all.map(\.session)) { session in
            do { try await runner.endSession(session) } catch { failed.withLock { $0.append(session) } }
        }
        for session in failed.withLock({ $0 }) { try? await runner.endSession(session) }
    }

    /// A connection's session name: `ws-` and 12 random hex digits.
    public static func sessionName() -> String {
        "ws-" + SessionName.randomHex(12)
    }

    /// Parses `server.standby`: `language=count` pairs separated by commas (`python=2,javascript=1`); empty for none.
    public static func parseCounts(_ text: String, source: SettingSource = .defaultValue) throws(ConfigurationError) -> [String: Int] {
        var counts: [String: Int] = [:]
        for item in text.split(separator: ",").map({ $0.trimmingWhitespace() }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace() }
            guard parts.count == 2, !parts[0].isEmpty, let count = Int(parts[1]), (0...10_000).contains(count) else {
                throw .badValue(
                    key: "server.standby", value: text, source: source,
                    reason: "expected language=count pairs separated by commas, such as python=2,javascript=1 (count 0...10000)")
            }
            counts[parts[0].lowercased()] = count
        }
        return counts
    }
}
