/// Limits of one run, after defaults, config, environment and flags were combined.
public struct RunLimits: Sendable, Equatable {
    public var timeout: Duration
    public var compileTimeout: Duration
    public var memoryBytes: UInt64
    public var cpus: Double
    public var pids: Int
    public var outputLimitBytes: UInt64
    public init(timeout: Duration, compileTimeout: Duration, memoryBytes: UInt64, cpus: Double, pids: Int, outputLimitBytes: UInt64) {
        self.timeout = timeout
        self.compileTimeout = compileTimeout
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.pids = pids
        self.outputLimitBytes = outputLimitBytes
    }

    /// The first limit that is zero (or would reach the agent or Docker as zero, which they read as "no limit"), or nil.
    /// The engine refuses to run with one: every face must turn a zero into an error before it gets here.
    public var zeroLimit: String? {
        if timeout.milliseconds <= 0 { return "timeout \(timeout)" }
        if compileTimeout.milliseconds <= 0 { return "compile timeout \(compileTimeout)" }
        if memoryBytes == 0 { return "memory 0" }
        if !(cpus.isFinite && cpus * 1e9 >= 1) { return "cpus \(cpus)" }
        if pids <= 0 { return "pids \(pids)" }
        if outputLimitBytes == 0 { return "output limit 0" }
        return nil
    }
}

/// Where a one-shot run's container is attached. A one-shot run is a session of one container that talks to nobody, so
/// by default it has no network at all: only loopback, which is stricter than an internal bridge (Docker 20.10 gives
/// those a default route and relies on iptables alone to stop egress) and faster (no network to create and remove, and
/// no embedded DNS to set up at start). `session` gives it its own internal /24 like a named session.
public enum OneShotNetwork: String, Sendable, CaseIterable {
    case none
    case session
}

/// The typed view of a `Configuration` that the engine runs on. Building it validates every value once,
/// so a bad setting fails at start with a message naming the key and where it came from.
public struct EngineSettings: Sendable {
    public var networkPrefix: String
    public var networkDriver: String
    public var networkLabels: [String: String]
    public var allowEgress: Bool
    public var pools: [String]
    public var containerTTL: Duration
    public var cleanupInterval: Duration
    public var workdirSize: UInt64
    public var tmpSize: UInt64
    public var maxOpenFiles: Int
    public var maxFileSize: UInt64
    public var maxContainersPerSession: Int
    /// Pool networks `net gc` (and `serve`'s sweep) keep ready for new sessions; ready ones beyond it are removed.
    public var readyNetworks: Int
    /// Most standby containers per language for one-shot runs (`run.standby`).
    public var standbyCount: Int
    /// Standby containers per language kept once runs are rare (`run.standbyFloor`, at most `standbyCount`).
    public var standbyFloor: Int
    /// How far back runs count towards the standby count (`run.standbyWindow`).
    public var standbyWindow: Duration
    /// The network of a one-shot run's container (`run.network`).
    public var oneShotNetwork: OneShotNetwork
    /// One-shot runs (and their standbys) get a session network: asked for, or needed for egress (`network.allowEgress`).
    public var oneShotRunsHaveNetwork: Bool { oneShotNetwork == .session || allowEgress }
    public var orphanAge: Duration
    public var submissionLimits: SubmissionLimits
    public var outputLimit: UInt64
    public var compileTimeoutOverride: Duration?
    public var engineTimeout: Duration
    /// Recorded on the networks of sessions this process creates (`SessionCreator`).
    public var sessionCreator: String
    /// `server.instance`: this node's name among nodes that share the engine ("" when alone).
    public var instance: String
    /// Labels on everything this process makes besides each resource's own: the instance, when named.
    public var instanceLabels: [String: String] { instance.isEmpty ? [:] : [ResourceLabel.instance: instance] }
    /// Run in a named session another creator made (`--join`); otherwise that is refused with `SessionError.otherCreator`.
    public var joinOtherCreators = false

    public init(_ configuration: Configuration) throws(ConfigurationError) {
        networkPrefix = configuration.string("network.prefix")
        networkDriver = configuration.string("network.driver")
        var labels: [String: String] = [:]
        for pair in configuration.list("network.labels") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else {
                throw .badValue(
                    key: "network.labels", value: pair, source: configuration.entry("network.labels")!.source,
                    reason: "expected k=v pairs separated by commas")
            }
            labels[String(parts[0])] = String(parts[1])
        }
        networkLabels = labels
        allowEgress = try configuration.bool("network.allowEgress")
        pools = configuration.list("network.pools")
        containerTTL = try configuration.duration("container.ttl")
        cleanupInterval = try configuration.duration("container.cleanupInterval")
        workdirSize = try configuration.bytes("container.workdirSize")
        tmpSize = try configuration.bytes("container.tmpSize")
        maxOpenFiles = try configuration.integer("container.maxOpenFiles", range: 16...1_048_576)
        maxFileSize = try Self.positive(configuration.bytes("container.maxFileSize"), key: "container.maxFileSize", configuration)
        maxContainersPerSession = try configuration.integer("session.maxContainers", range: 1...1000)
        readyNetworks = try configuration.integer("network.ready", range: 0...4352)
        standbyCount = try configuration.integer("run.standby", range: 0...16)
        standbyFloor = min(standbyCount, try configuration.integer("run.standbyFloor", range: 0...16))
        standbyWindow = try configuration.duration("run.standbyWindow")
        let network = configuration.string("run.network")
        guard let oneShotNetwork = OneShotNetwork(rawValue: network) else {
            throw .badValue(
                key: "run.network", value: network, source: configuration.entry("run.network")!.source, reason: "expected none or session")
        }
        self.oneShotNetwork = oneShotNetwork
        orphanAge = try configuration.duration("gc.orphanAge")
        submissionLimits = SubmissionLimits(
            maxFileBytes: try configuration.bytes("files.maxSize"),
            maxFileCount: try configuration.integer("files.maxCount", range: 1...100_000),
            maxTotalBytes: try configuration.bytes("files.maxTotal"))
        outputLimit = try Self.positive(configuration.bytes("run.outputLimit"), key: "run.outputLimit", configuration)
        compileTimeoutOverride =
            configuration.string("run.compileTimeout").isEmpty
            ? nil
            : try Self.positive(configuration.duration("run.compileTimeout"), key: "run.compileTimeout", configuration)
        engineTimeout = try configuration.duration("engine.timeout")
        sessionCreator = SessionCreator.current(environment: [:])
        instance = configuration.string("server.instance")
        guard instance.utf8.count <= 63, instance.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw .badValue(
                key: "server.instance", value: instance, source: configuration.entry("server.instance")?.source ?? .defaultValue,
                reason: "use up to 63 letters, digits, '-', '_' or '.', such as node-a")
        }
    }

    /// The default limits of a runtime (manifest, overridden by `runtime.<lang>.*` settings).
    public func limits(for runtime: Runtime, configuration: Configuration) throws(ConfigurationError) -> RunLimits {
        let prefix = "runtime.\(runtime.language)."
        let compileTimeout: Duration
        if let compileTimeoutOverride {
            compileTimeout = compileTimeoutOverride
        } else {
            do { compileTimeout = try Quantity.duration(runtime.manifest.limits.compileTimeout ?? "30s") } catch {
                throw .badValue(
                    key: "compileTimeout", value: runtime.manifest.limits.compileTimeout ?? "", source: .runtimeManifest, reason: error.description)
            }
        }
        return RunLimits(
            timeout: try Self.positive(configuration.duration(prefix + "timeout"), key: prefix + "timeout", configuration),
            compileTimeout: compileTimeout,
            memoryBytes: try Self.positive(configuration.bytes(prefix + "memory"), key: prefix + "memory", configuration),
            cpus: try configuration.double(prefix + "cpus"),
            pids: try configuration.integer(prefix + "pids", range: 8...100_000),
            outputLimitBytes: outputLimit)
    }

    /// A limit setting must be a real limit: the agent and Docker read 0 as "no limit", so 0 is refused here, by name.
    static func positive<Value: Comparable & AdditiveArithmetic>(
        _ value: Value, key: String, _ configuration: Configuration
    ) throws(ConfigurationError) -> Value {
        guard value > .zero else {
            let entry = configuration.entry(key)
            throw .badValue(
                key: key, value: entry?.value ?? "0", source: entry?.source ?? .defaultValue,
                reason: "a limit must be above 0 (0 would mean no limit at all)")
        }
        return value
    }
}
