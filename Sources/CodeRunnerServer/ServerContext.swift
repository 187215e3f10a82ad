import CodeRunnerCore
import Logging
import Synchronization

/// What every connection and route shares: the engine, the catalog, settings, metrics and the admission counters.
public final class ServerContext: Sendable {
    public let runner: CodeRunner
    public let catalog: RuntimeCatalog
    public let configuration: Configuration
    public let settings: ServerSettings
    public let logger: Logger
    public let metrics = ServerMetrics()
    /// The last errors logged or sent, for the operator view (`GET /api/operator`).
    public let recentErrors = RecentErrors()
    /// Sessions made ahead of need for connections' first runs (`server.standby`).
    public let standbys: SessionStandbys
    /// Removal of closed connections' sessions, a few at a time, retried when it fails.
    let cleanups: SessionCleanups

    struct Admission {
        var sessionsByClient: [String: Int] = [:]
        var sessions = 0
        var runs = 0
        var draining = false
        /// What a shutdown must stop: WebSocket sessions and `POST /api/run` runs, by name.
        var live: [String: any LiveSession] = [:]
        /// `POST /api/run` starts by client address (a request has no session to count them in).
        var restStarts: [String: RunRate] = [:]
        var lastRunStarted: ContinuousClock.Instant?
    }
    let admission = Mutex(Admission())

    /// Each runtime's example program (file name and source), shown by the web page for a new file.
    let examples: [String: (file: String, source: String)]

    public init(runner: CodeRunner, catalog: RuntimeCatalog, configuration: Configuration, settings: ServerSettings, logger: Logger) {
        self.runner = runner
        self.catalog = catalog
        self.configuration = configuration
        self.settings = settings
        self.logger = logger
        var examples: [String: (file: String, source: String)] = [:]
        for runtime in catalog.runtimes where !runtime.manifest.example.isEmpty {
            let path = runtime.directory + "/" + runtime.manifest.example
            if let bytes = LocalFile.read(path, limit: 64 * 1024) {
                examples[runtime.language] = (FilePath.baseName(path), String(decoding: bytes, as: UTF8.self))
            }
        }
        self.examples = examples
        var runtimes: [String: Runtime] = [:]
        var limits: [String: RunLimits] = [:]
        for language in settings.standbyCounts.keys {
            guard let runtime = try? catalog.runtime(named: language),
                let configured = try? runner.settings.limits(for: runtime, configuration: configuration)
            else { continue }
            runtimes[runtime.language] = runtime
            limits[runtime.language] = configured
        }
        let wanted = Dictionary(
            settings.standbyCounts.compactMap { language, count in
                (try? catalog.runtime(named: language)).map { ($0.language, count) }
            }, uniquingKeysWith: max)
        standbys = SessionStandbys(runner: runner, wanted: wanted, runtimes: runtimes, limits: limits, unusedTTL: settings.standbyTTL)
        cleanups = SessionCleanups(runner: runner)
    }

    /// Languages of `server.standby` no runtime answers to (`serve` refuses to start with one).
    public static func unknownStandbyLanguages(_ settings: ServerSettings, catalog: RuntimeCatalog) -> [String] {
        settings.standbyCounts.keys.filter { (try? catalog.runtime(named: $0)) == nil }.sorted()
    }

    /// Why a connection or run was refused; becomes an `error` message (or an HTTP status) with a clear text.
    struct Refusal: Error {
        var code: String
        var message: String
    }

    /// Reserves a session slot for a new connection, or says why not (global cap, per-client cap, shutting down).
    func admitSession(client: String) -> Refusal? {
        let refusal: Refusal? = admission.withLock { state in
            if state.draining { return Refusal(code: "shutting-down", message: "the server is shutting down; reconnect later") }
            if state.sessions >= settings.maxSessions {
                return Refusal(
                    code: "busy", message: "the server is at its limit of \(settings.maxSessions) sessions (server.maxSessions); try again shortly")
            }
            if state.sessionsByClient[client, default: 0] >= settings.maxSessionsPerClient {
                return Refusal(
                    code: "busy",
                    message: "your address already has \(settings.maxSessionsPerClient) open sessions (server.maxSessionsPerClient); close one first")
            }
            state.sessions += 1
            state.sessionsByClient[client, default: 0] += 1
            return nil
        }
        if let refusal {
            if refusal.code == "busy" { metrics.busyRejected() }
            recentErrors.record(session: nil, client: client, code: refusal.code, message: "connection refused: " + refusal.message)
        }
        return refusal
    }

    /// Records a session admitted by `admitSession` so a shutdown stops it; false when a shutdown began meanwhile
    /// (the caller then ends it at once).
    @discardableResult
    func register(_ session: any LiveSession) -> Bool {
        let registered = admission.withLock { state in
            state.live[session.name] = session
            return !state.draining
        }
        metrics.sessionOpened()
        return registered
    }

    func releaseSession(_ session: any LiveSession) {
        admission.withLock { state in
            state.sessions -= 1
            state.sessionsByClient[session.client, default: 1] -= 1
            if state.sessionsByClient[session.client] == 0 { state.sessionsByClient[session.client] = nil }
            state.live[session.name] = nil
        }
        metrics.sessionClosed()
    }

    /// `server.runsPerMinute` for `POST /api/run`, counted by client address as WebSocket runs are counted by session.
    func admitRestRun(client: String) -> ProtocolError? {
        let now = ContinuousClock.now
        let refusal: ProtocolError? = admission.withLock { state in
            for (address, var rate) in state.restStarts {
                rate.forget(before: now)
                state.restStarts[address] = rate.isEmpty ? nil : rate
            }
            var rate = state.restStarts[client] ?? RunRate()
            if let refusal = rate.admit(now: now, settings: settings) { return refusal }
            state.restStarts[client] = rate
            return nil
        }
        if refusal != nil { metrics.busyRejected() }
        return refusal
    }

    /// Reserves one of the global run slots.
    func admitRun() -> Refusal? {
        let refusal: Refusal? = admission.withLock { state in
            if state.draining { return Refusal(code: "shutting-down", message: "the server is shutting down; the run was not started") }
            if state.runs >= settings.maxConcurrentRuns {
                return Refusal(
                    code: "busy",
                    message: "the server is running \(settings.maxConcurrentRuns) programs already (server.maxConcurrentRuns); try again in a moment")
            }
            state.runs += 1
            state.lastRunStarted = .now
            return nil
        }
        if refusal?.code == "busy" { metrics.busyRejected() } else if refusal == nil { metrics.runStarted() }
        return refusal
    }

    func releaseRun() {
        admission.withLock { $0.runs -= 1 }
        metrics.runEnded()
    }

    var isDraining: Bool { admission.withLock { $0.draining } }

    /// Runs executing now (WebSocket and REST).
    var runsGoing: Int { admission.withLock { $0.runs } }

    /// Whether background work (making ready sessions) may use the host now: fewer runs go than it has CPUs, and none
    /// started in the last `quiet`. A class pressing Run keeps runs coming every few milliseconds, each lasting tens
    /// of milliseconds; a container start (about half a second of CPU in dockerd, containerd and the kernel) made
    /// between them would slow the runs to their time limit.
    func hostIsIdle(cpus: Int, quiet: Duration = .seconds(1)) -> Bool {
        admission.withLock { state in
            state.runs < cpus && (state.lastRunStarted.map { ContinuousClock.now - $0 >= quiet } ?? true)
        }
    }

    /// WebSocket close code 1012 (service restart): the server is going away; the client should reconnect (through
    /// the load balancer, to another node). The original web client reconnects by itself.
    static let serviceRestart: UInt16 = 1012

    /// Drains the node: no new sessions (and `drain` on the agent-check port) and no new runs at once; runs already
    /// going may finish for up to `grace`; then every live session is closed (1012) and its runs stopped, containers
    /// and networks removed.
    public func drain(grace: Duration = .zero) async {
        admission.withLock { $0.draining = true }
        let deadline = ContinuousClock.now.advanced(by: grace)
        if runsGoing > 0 {
            logger.notice("draining: letting running programs finish", metadata: ["runs": "\(runsGoing)", "grace": "\(grace)"])
        }
        while runsGoing > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let sessions = admission.withLock { Array($0.live.values) }
        logger.notice("shutting down", metadata: ["sessions": "\(sessions.count)", "runsStillGoing": "\(runsGoing)"])
        await withTaskGroup(of: Void.self) { group in
            for session in sessions {
                group.addTask { await session.shutDown(reason: "the server is shutting down", closeCode: Self.serviceRestart) }
            }
            group.addTask { await self.standbys.removeAll() }
        }
        // Sessions whose clean-up failed (now or earlier): a few more tries before the process, and with it the
        // sweep that would retry them, is gone.
        for attempt in 1...3 {
            let left = await cleanups.retryPending()
            if left == 0 { break }
            logger.warning("session clean-ups still failing", metadata: ["sessions": "\(left)", "attempt": "\(attempt)"])
            if attempt < 3 { try? await Task.sleep(for: .seconds(2)) }
        }
    }

    /// The runtime for a language name or alias, or for a file's extension when no language is given.
    func runtime(language: String?, entry: String) throws(ProtocolError) -> Runtime {
        do {
            if let language, !language.isEmpty { return try catalog.runtime(named: language) }
            return try catalog.runtime(forFile: entry)
        } catch {
            throw ProtocolError(code: "unknown-language", message: error.description)
        }
    }

    /// The runtime and entry of a run: the client's `entry` (or its only file) when given; else they are chosen from the
    /// files as `coderunner run DIR` chooses them (EntryInference), except that several possible entries resolve to the
    /// first in the client's order (as `entry` defaulted to the first file before) and files of no known language fall
    /// back to the first file. Sources of several languages without `language` or `entry` are refused.
    func runtimeAndEntry(for spec: RunSpec) throws(ProtocolError) -> (runtime: Runtime, entry: String) {
        let first = spec.files.first?.path ?? ""
        if spec.entry == nil && spec.files.count > 1 {
            do throws(EntryInferenceError) {
                let choice = try EntryInference.choose(
                    files: spec.files, catalog: catalog, language: spec.language?.nilIfEmpty, entry: nil,
                    firstWhenAmbiguous: true)
                return (choice.runtime, choice.entry)
            } catch .noSourceFiles, .noSourceFilesFor {
                // Not a question of inference: the old rule (first file, its extension) gives the usual error or runs it.
            } catch {
                throw ProtocolError(code: "unknown-language", message: error.message(languageOption: "`language`", entryOption: "`entry`"))
            }
        }
        let entry = spec.entry ?? first
        return (try runtime(language: spec.language, entry: entry), entry)
    }

    /// The limits of a run: the runtime's configured limits, tightened (never loosened) by what the client asked for.
    func limits(for runtime: Runtime, requested: RequestedLimits?) throws(ProtocolError) -> RunLimits {
        var limits: RunLimits
        do { limits = try runner.settings.limits(for: runtime, configuration: configuration) } catch {
            throw ProtocolError(code: "internal", message: error.description)
        }
        guard let requested else { return limits }
        if let timeout = requested.timeout { limits.timeout = min(limits.timeout, timeout) }
        if let memory = requested.memory { limits.memoryBytes = min(limits.memoryBytes, memory) }
        if let cpus = requested.cpus { limits.cpus = min(limits.cpus, cpus) }
        if let output = requested.outputLimit { limits.outputLimitBytes = min(limits.outputLimitBytes, output) }
        return limits
    }
}

/// What `ServerContext.drain` stops on shutdown: a WebSocket session (`ClientSession`) or a `POST /api/run` run.
protocol LiveSession: Sendable {
    var name: String { get }
    /// The peer address it is counted under (`server.maxSessionsPerClient`).
    var client: String { get }
    /// Stops its runs and removes its containers and network, then closes the socket with `closeCode`; returns when
    /// that is done.
    func shutDown(reason: String, closeCode: UInt16) async
    /// What the operator view shows about it (`GET /api/operator`).
    func summary() async -> LiveSessionSummary
}

/// The runs started in the last minute, for `server.runsPerMinute` (a WebSocket session's, or one address's REST runs).
struct RunRate: Sendable {
    private var starts: [ContinuousClock.Instant] = []

    var isEmpty: Bool { starts.isEmpty }

    mutating func forget(before now: ContinuousClock.Instant) {
        starts.removeAll { now - $0 > .seconds(60) }
    }

    /// Why a run may not start now (`rate-limited`), or nil after counting it.
    mutating func admit(now: ContinuousClock.Instant, settings: ServerSettings) -> ProtocolError? {
        forget(before: now)
        guard starts.count < settings.runsPerMinute else {
            return ProtocolError(
                code: "rate-limited", message: "more than \(settings.runsPerMinute) runs in a minute (server.runsPerMinute); wait a little")
        }
        starts.append(now)
        return nil
    }
}

/// A client mistake or refusal, reported as `error {id?, code, message}`; the connection stays usable.
struct ProtocolError: Error, Sendable {
    var code: String
    var message: String

    /// A WebSocket message over `server.maxMessageSize` (both protocols answer it the same way).
    static func tooLarge(size: Int, limit: Int) -> ProtocolError {
        ProtocolError(
            code: "too-large", message: "the message has \(size) bytes, over the \(limit) bytes limit (server.maxMessageSize); it was dropped")
    }
}

/// Limits a client asked for. Every value is a real limit: the only initializer refuses zero, negative, non-finite and
/// too-small values, so no value of this type can mean "no limit", and taking the minimum with the server's limits can
/// only tighten them (issue 17: a client's `timeout: "0s"` or `outputLimit: 0` used to switch the limit off).
struct RequestedLimits: Sendable, Equatable {
    let timeout: Duration?
    let memory: UInt64?
    let cpus: Double?
    let outputLimit: UInt64?

    /// The smallest limits that still mean something: the agent counts time in milliseconds, Docker refuses memory
    /// under 6 MiB and CPU quotas under 0.01 (and reads a quota that rounds to 0 as none).
    static let minimumTimeout: Duration = .milliseconds(1)
    static let minimumMemory: UInt64 = 6 << 20
    static let minimumCPUs = 0.01

    init(timeout: Duration? = nil, memory: UInt64? = nil, cpus: Double? = nil, outputLimit: UInt64? = nil) throws(ProtocolError) {
        func refuse(_ message: String) -> ProtocolError {
            ProtocolError(code: "bad-request", message: message + "; a client can only tighten the server's limits, never switch one off")
        }
        if let timeout, timeout < Self.minimumTimeout { throw refuse("limits.timeout must be at least 1ms") }
        if let memory, memory < Self.minimumMemory { throw refuse("limits.memory must be at least 6m (Docker's minimum)") }
        if let cpus, !(cpus.isFinite && cpus >= Self.minimumCPUs) { throw refuse("limits.cpus must be a number of at least 0.01, such as 0.5") }
        if let outputLimit, outputLimit == 0 { throw refuse("limits.outputLimit must be at least 1 byte") }
        self.timeout = timeout
        self.memory = memory
        self.cpus = cpus
        self.outputLimit = outputLimit
    }
}

#if canImport(Glibc)
import Glibc
#endif

enum LocalFile {
    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while result.count < limit {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            result += buffer[0..<count]
        }
        return result
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
