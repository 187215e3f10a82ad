/// Where a setting's effective value came from, lowest precedence first.
public enum SettingSource: Int, Sendable, Comparable, CustomStringConvertible {
    case defaultValue, runtimeManifest, configFile, environment, flag

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .defaultValue: return "default"
        case .runtimeManifest: return "runtime manifest"
        case .configFile: return "config file"
        case .environment: return "environment"
        case .flag: return "flag"
        }
    }
}

/// One configuration key as users see it: in the config file (`[section] key = value`),
/// as an environment variable, and in `coderunner config`.
public struct SettingKey: Sendable, Hashable {
    public var name: String
    public var defaultValue: String
    public var help: String

    public init(name: String, defaultValue: String, help: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.help = help
    }

    /// `network.pools` -> `CODERUNNER_NETWORK_POOLS`; `server.logLevel` -> `CODERUNNER_SERVER_LOG_LEVEL`.
    public var environmentName: String { Self.environmentName(for: name) }

    static func environmentName(for key: String) -> String {
        var result = "CODERUNNER_"
        for character in key {
            if character == "." || character == "-" {
                result.append("_")
            } else if character.isUppercase {
                result.append("_")
                result.append(character)
            } else {
                result.append(Character(character.uppercased()))
            }
        }
        return result
    }
}

public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case unreadableFile(String)
    case syntax(file: String, line: Int, reason: String)
    case unknownKey(String, source: String, suggestion: String?)
    case badValue(key: String, value: String, source: SettingSource, reason: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path):
            return "cannot read config file \(path); check the path given with --config or CODERUNNER_CONFIG"
        case .syntax(let file, let line, let reason):
            return "\(file):\(line): \(reason)"
        case .unknownKey(let key, let source, let suggestion):
            let hint = suggestion.map { " (did you mean '\($0)'?)" } ?? ""
            return "unknown setting '\(key)' in \(source)\(hint); `coderunner config` lists every setting"
        case .badValue(let key, let value, let source, let reason):
            return "setting \(key) = '\(value)' (from \(source)) is invalid: \(reason)"
        }
    }
}

/// Every setting coderunner reads, in one place: defaults < config file < CODERUNNER_* environment < flags.
/// Per-runtime settings (`runtime.<language>.memory|cpus|timeout|image`) take their defaults from the runtime manifests.
public struct Configuration: Sendable {
    public static let keys: [SettingKey] = [
        .init(name: "server.host", defaultValue: "127.0.0.1", help: "address `serve` listens on"),
        .init(name: "server.port", defaultValue: "8080", help: "port `serve` listens on"),
        .init(name: "server.logLevel", defaultValue: "info", help: "log level: trace, debug, info, notice, warning, error"),
        .init(name: "server.logFormat", defaultValue: "text", help: "log line format of `serve`: text or json"),
        .init(name: "server.token", defaultValue: "", help: "bearer token `serve` requires on every route and socket (empty: none)"),
        .init(
            name: "server.allowedOrigins", defaultValue: "",
            help: "origins allowed to open WebSockets and POST /api/run besides the server's own (*: any)"),
        .init(
            name: "server.allowedHosts", defaultValue: "",
            help: "extra Host names `serve` answers to besides loopback names, IP addresses and server.host (guards against DNS rebinding; *: any)"),
        .init(
            name: "server.handshakeTimeout", defaultValue: "5s",
            help: "time a Socket.IO client has to authenticate (CONNECT) before its socket is closed"),
        .init(
            name: "server.instance", defaultValue: "",
            help: "this node's name when several share one engine: on its resources' labels; its sweeps leave other instances' alone"),
        .init(
            name: "server.drainGrace", defaultValue: "30s",
            help: "on SIGTERM or POST /admin/drain: how long running programs may finish before sessions are closed (1012)"),
        .init(
            name: "server.agentCheckPort", defaultValue: "",
            help: "TCP port answering HAProxy's agent-check (ready and a weight from free capacity, drain, down); empty: off"),
        .init(name: "server.pingInterval", defaultValue: "25s", help: "how often `serve` pings Socket.IO clients (Engine.IO pingInterval)"),
        .init(
            name: "server.pingTimeout", defaultValue: "20s",
            help: "how long a Socket.IO client has to answer a ping before its socket is closed (Engine.IO pingTimeout)"),
        .init(name: "server.maxMessageSize", defaultValue: "4m", help: "largest WebSocket message `serve` accepts"),
        .init(name: "server.maxSessions", defaultValue: "1000", help: "connections (sessions) `serve` holds at once"),
        .init(name: "server.maxSessionsPerClient", defaultValue: "50", help: "connections one client address may hold at once"),
        .init(name: "server.maxConcurrentRuns", defaultValue: "64", help: "runs `serve` executes at once across all sessions"),
        .init(name: "server.maxRunsPerSession", defaultValue: "2", help: "runs one session may have going at once"),
        .init(
            name: "server.standby", defaultValue: "python=2,javascript=2",
            help:
                "sessions per language `serve` keeps ready (a leased network with a running container), so a connection's first run is a warm run: language=count pairs (empty: none)"
        ),
        .init(
            name: "server.standbyMaxAge", defaultValue: "10m",
            help: "how long a ready session of server.standby waits for a connection before it is replaced"),
        .init(
            name: "server.runsPerMinute", defaultValue: "120", help: "runs one session (or one address's POST /api/run requests) may start per minute"
        ),
        .init(
            name: "docker.host", defaultValue: "unix:///var/run/docker.sock",
            help: "Docker Engine API endpoint (unix:///path or tcp://host:port); DOCKER_HOST also sets it"),
        .init(name: "engine.timeout", defaultValue: "30s", help: "timeout of one Docker Engine API call"),
        .init(name: "run.outputLimit", defaultValue: "1m", help: "stdout+stderr bytes a run may print before it is stopped (status output-limit)"),
        .init(name: "run.compileTimeout", defaultValue: "", help: "wall-clock limit of a compile stage (empty: the runtime's default)"),
        .init(name: "files.maxSize", defaultValue: "10m", help: "largest single submitted file"),
        .init(name: "files.maxCount", defaultValue: "100", help: "most files in one submission"),
        .init(name: "files.maxTotal", defaultValue: "32m", help: "largest total size of one submission"),
        .init(name: "network.pools", defaultValue: "10.64.0.0/12,10.10.0.0/16", help: "CIDR pools session /24 subnets are allocated from, in order"),
        .init(name: "network.prefix", defaultValue: "coderunner-session-", help: "name prefix of session networks"),
        .init(name: "network.driver", defaultValue: "bridge", help: "Docker network driver of session networks"),
        .init(name: "network.labels", defaultValue: "", help: "extra labels on session networks (k=v,k2=v2)"),
        .init(name: "network.ready", defaultValue: "8", help: "session networks kept ready for new sessions (net gc removes ready ones beyond it)"),
        .init(
            name: "network.allowEgress", defaultValue: "false", help: "let programs reach outside networks (session networks are internal by default)"
        ),
        .init(name: "container.ttl", defaultValue: "60s", help: "idle time after which a session container removes itself"),
        .init(name: "container.cleanupInterval", defaultValue: "30s", help: "how often `serve` sweeps expired sessions and orphans"),
        .init(name: "container.workdirSize", defaultValue: "64m", help: "size of the tmpfs work dir (/app) in each container"),
        .init(name: "container.tmpSize", defaultValue: "64m", help: "size of the tmpfs /tmp in each container"),
        .init(name: "container.maxOpenFiles", defaultValue: "256", help: "nofile limit of programs"),
        .init(name: "container.maxFileSize", defaultValue: "64m", help: "largest file a program may write (fsize limit)"),
        .init(
            name: "run.network", defaultValue: "none",
            help:
                "network of a one-shot run's container: none (loopback only, the fastest and strictest) or session (its own internal /24, as named sessions have)"
        ),
        .init(
            name: "run.standby", defaultValue: "4",
            help:
                "most standby containers per language kept ready for one-shot runs, as many as the runs of the last run.standbyWindow need (0: none); each removes itself after container.ttl unused"
        ),
        .init(name: "run.standbyFloor", defaultValue: "1", help: "standby containers per language kept after a quiet spell (at most run.standby)"),
        .init(name: "run.standbyWindow", defaultValue: "20s", help: "how far back one-shot runs count towards the number of standby containers kept"),
        .init(name: "session.maxContainers", defaultValue: "10", help: "containers one session may hold at once (overlapping runs)"),
        .init(name: "gc.orphanAge", defaultValue: "5m", help: "age after which an unused session network counts as orphaned"),
        .init(
            name: "runtimes.dir", defaultValue: "", help: "folder with the runtime definitions (empty: next to the binary, then the source checkout)"),
    ]

    public static let runtimeKeySuffixes: [(String, String)] = [
        ("memory", "memory limit of the language's containers (memory = memory+swap)"),
        ("cpus", "CPU quota of the language's containers, in CPUs"),
        ("timeout", "wall-clock limit of a run stage"),
        ("pids", "process limit of the language's containers"),
        ("image", "image of the language's containers"),
    ]

    public struct Entry: Sendable, Equatable {
        public var value: String
        public var source: SettingSource
        public var origin: String?  // file path for config file values
    }

    public private(set) var entries: [String: Entry] = [:]
    public private(set) var configFilePath: String?

    public init() {
        for key in Self.keys { entries[key.name] = Entry(value: key.defaultValue, source: .defaultValue) }
    }

    /// Fills the per-runtime defaults from manifests.
    public mutating func addRuntimeDefaults(_ manifests: [RuntimeManifest]) {
        for manifest in manifests {
            let defaults = [
                ("memory", manifest.limits.memory), ("cpus", String(manifest.limits.cpus)),
                ("timeout", manifest.limits.timeout), ("pids", String(manifest.limits.pids)), ("image", manifest.image),
            ]
            for (suffix, value) in defaults {
                let key = "runtime.\(manifest.language).\(suffix)"
                if entries[key] == nil || entries[key]!.source < .runtimeManifest {
                    entries[key] = Entry(value: value, source: .runtimeManifest)
                }
            }
        }
    }

    /// Whether `key` is a setting name (global or `runtime.<lang>.<suffix>`).
    public static func isKnown(_ key: String) -> Bool {
        if keys.contains(where: { $0.name == key }) { return true }
        let parts = key.split(separator: ".")
        return parts.count == 3 && parts[0] == "runtime" && runtimeKeySuffixes.contains { $0.0 == parts[2] }
    }

    public mutating func set(_ key: String, _ value: String, source: SettingSource, origin: String? = nil) throws(ConfigurationError) {
        guard Self.isKnown(key) else {
            throw .unknownKey(key, source: origin ?? source.description, suggestion: Self.suggestion(for: key))
        }
        if let existing = entries[key], existing.source > source { return }
        entries[key] = Entry(value: value, source: source, origin: origin)
    }

    /// Applies a parsed config file.
    public mutating func apply(file path: String, text: String) throws(ConfigurationError) {
        configFilePath = path
        for (key, value) in try ConfigFileParser.parse(text, file: path) {
            try set(key, value, source: .configFile, origin: path)
        }
    }

    /// Applies `CODERUNNER_*` variables (and `DOCKER_HOST`). Unknown `CODERUNNER_*` names are errors, so typos do not go unnoticed.
    public mutating func apply(environment: [String: String], runtimeLanguages: [String]) throws(ConfigurationError) {
        var known: [String: String] = [:]
        for key in Self.keys { known[key.environmentName] = key.name }
        for language in runtimeLanguages {
            for (suffix, _) in Self.runtimeKeySuffixes {
                let name = "runtime.\(language).\(suffix)"
                known[SettingKey.environmentName(for: name)] = name
            }
        }
        if let dockerHost = environment["DOCKER_HOST"], !dockerHost.isEmpty {
            try set("docker.host", dockerHost, source: .environment, origin: "DOCKER_HOST")
        }
        // Variables that are not settings: where to find things, and test switches.
        let ignored: Set<String> = [
            "CODERUNNER_CONFIG", "CODERUNNER_SKIP_DOCKER_TESTS", "CODERUNNER_SESSION", "CODERUNNER_JOB", "CODERUNNER_BIN", "CODERUNNER_AGENT",
            "CODERUNNER_BASE_IMAGE", "CODERUNNER_RUNTIMES_DIR", "CODERUNNER_DESTRUCTIVE_TESTS", "CODERUNNER_SLOW_TESTS",
            "CODERUNNER_SOAK_SECONDS", "CODERUNNER_TRACE",
        ]
        for (name, value) in environment where name.hasPrefix("CODERUNNER_") && !ignored.contains(name) {
            guard let key = known[name] ?? Self.runtimeKey(forEnvironmentName: name) else {
                throw .unknownKey(name, source: "environment", suggestion: nil)
            }
            try set(key, value, source: .environment, origin: name)
        }
    }

    /// `CODERUNNER_RUNTIME_PYTHON_MEMORY` -> `runtime.python.memory`, for languages not loaded yet.
    static func runtimeKey(forEnvironmentName name: String) -> String? {
        let prefix = "CODERUNNER_RUNTIME_"
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        for (suffix, _) in runtimeKeySuffixes where rest.hasSuffix("_" + suffix.uppercased()) {
            let language = rest.dropLast(suffix.count + 1).lowercased()
            if !language.isEmpty { return "runtime.\(language).\(suffix)" }
        }
        return nil
    }

    public func entry(_ key: String) -> Entry? { entries[key] }

    public func string(_ key: String) -> String { entries[key]?.value ?? "" }

    public func duration(_ key: String) throws(ConfigurationError) -> Duration {
        let entry = entries[key] ?? Entry(value: "", source: .defaultValue)
        do { return try Quantity.duration(entry.value) } catch {
            throw .badValue(key: key, value: entry.value, source: entry.source, reason: error.description)
        }
    }

    public func bytes(_ key: String) throws(ConfigurationError) -> UInt64 {
        let entry = entries[key] ?? Entry(value: "", source: .defaultValue)
        do { return try Quantity.byteSize(entry.value) } catch {
            throw .badValue(key: key, value: entry.value, source: entry.source, reason: error.description)
        }
    }

    public func integer(_ key: String, range: ClosedRange<Int> = 0...Int.max) throws(ConfigurationError) -> Int {
        let entry = entries[key] ?? Entry(value: "", source: .defaultValue)
        guard let value = Int(entry.value.trimmingWhitespace()), range.contains(value) else {
            throw .badValue(
                key: key, value: entry.value, source: entry.source, reason: "expected a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func double(_ key: String) throws(ConfigurationError) -> Double {
        let entry = entries[key] ?? Entry(value: "", source: .defaultValue)
        guard let value = Double(entry.value.trimmingWhitespace()), value > 0, value.isFinite else {
            throw .badValue(key: key, value: entry.value, source: entry.source, reason: "expected a positive number such as 0.5 or 2")
        }
        return value
    }

    public func bool(_ key: String) throws(ConfigurationError) -> Bool {
        let entry = entries[key] ?? Entry(value: "", source: .defaultValue)
        switch entry.value.lowercased() {
        case "true", "yes", "1", "on": return true
        case "false", "no", "0", "off": return false
        default: throw .badValue(key: key, value: entry.value, source: entry.source, reason: "expected true or false")
        }
    }

    public func list(_ key: String) -> [String] {
        string(key).split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
    }

    /// Default config file locations, first existing wins: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml.
    public static func defaultFilePaths(environment: [String: String]) -> [String] {
        var paths: [String] = []
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty { paths.append(xdg + "/coderunner/config.toml") }
        if let home = environment["HOME"], !home.isEmpty { paths.append(home + "/.config/coderunner/config.toml") }
        paths.append("/etc/coderunner/config.toml")
        return paths
    }

    /// Loads everything but flags: defaults, manifests, the config file (explicit path, CODERUNNER_CONFIG, or a default location), the environment.
    public static func load(
        explicitFile: String?, environment: [String: String], manifests: [RuntimeManifest]
    ) throws(ConfigurationError) -> Configuration {
        var configuration = Configuration()
        configuration.addRuntimeDefaults(manifests)
        let explicit = explicitFile ?? environment["CODERUNNER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if let explicit {
            guard let bytes = FileSystem.readFile(explicit) else { throw .unreadableFile(explicit) }
            try configuration.apply(file: explicit, text: String(decoding: bytes, as: UTF8.self))
        } else {
            for path in defaultFilePaths(environment: environment) {
                if let bytes = FileSystem.readFile(path) {
                    try configuration.apply(file: path, text: String(decoding: bytes, as: UTF8.self))
                    break
                }
            }
        }
        try configuration.apply(environment: environment, runtimeLanguages: manifests.map(\.language))
        return configuration
    }

    /// All effective settings, sorted, for `coderunner config`.
    public var sortedEntries: [(key: String, entry: Entry)] {
        entries.sorted { $0.key < $1.key }.map { (key: $0.key, entry: $0.value) }
    }

    static func suggestion(for key: String) -> String? {
        let candidates = keys.map(\.name)
        let lower = key.lowercased()
        return candidates.min { editDistance($0.lowercased(), lower) < editDistance($1.lowercased(), lower) }
            .flatMap { editDistance($0.lowercased(), lower) <= 3 ? $0 : nil }
    }

    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
