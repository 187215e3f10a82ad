import CodeRunnerCore
import Logging

/// Everything `serve` reads from the configuration, validated once at start so a bad value fails with the key's name.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level
    /// `text` or `json` log lines.
    public var logFormat: String
    /// Bearer token every route and socket must present when non-empty.
    public var token: String
    /// Origins allowed to open WebSockets besides the request's own host (and requests without Origin); `*` = any.
    public var allowedOrigins: [String]
    /// Host names the server answers to besides loopback names, IP literals and `host` (DNS rebinding guard); `*` = any.
    public var allowedHosts: [String]
    /// How long a Socket.IO socket may stay without a successful CONNECT before it is closed.
    public var handshakeTimeout: Duration
    /// Engine.IO heartbeat: the server pings every `pingInterval`; a pong must come within `pingTimeout` of its ping.
    public var pingInterval: Duration
    public var pingTimeout: Duration
    /// How long a draining server lets running programs finish before it closes the sessions.
    public var drainGrace: Duration
    /// The HAProxy agent-check port (`AgentCheck`); nil: none. 0 binds any free port (tests).
    public var agentCheckPort: Int?
    /// Largest WebSocket message accepted; bigger ones get an `error` reply and are dropped.
    public var maxMessageBytes: Int
    public var maxSessions: Int
    public var maxSessionsPerClient: Int
    public var maxConcurrentRuns: Int
    public var maxRunsPerSession: Int
    public var runsPerMinute: Int
    /// Sessions kept ready per language (`server.standby`; languages are checked against the runtimes by `serve`).
    public var standbyCounts: [String: Int]
    /// How long a ready session waits for a connection (`server.standbyMaxAge`).
    public var standbyTTL: Duration

    /// The `server.*` keys live in `Configuration.keys` with everything else (config in one place).
    public init(_ configuration: Configuration) throws(ConfigurationError) {
        func value(_ key: String) -> String { configuration.string(key) }
        func integer(_ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            let text = value(key)
            guard let number = Int(text), range.contains(number) else {
                throw .badValue(
                    key: key, value: text, source: configuration.entry(key)?.source ?? .defaultValue,
                    reason: "expected a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        host = value("server.host")
        port = try integer("server.port", 0...65535)
        let level = value("server.logLevel").lowercased()
        guard let parsed = Logger.Level(rawValue: level) else {
            throw .badValue(
                key: "server.logLevel", value: level, source: configuration.entry("server.logLevel")?.source ?? .defaultValue,
                reason: "use trace, debug, info, notice, warning, error or critical")
        }
        logLevel = parsed
        logFormat = value("server.logFormat").lowercased()
        guard logFormat == "text" || logFormat == "json" else {
            throw .badValue(
                key: "server.logFormat", value: logFormat, source: configuration.entry("server.logFormat")?.source ?? .defaultValue,
                reason: "use text or json")
        }
        token = value("server.token")
        allowedOrigins = value("server.allowedOrigins").split(separator: ",").map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        allowedHosts = value("server.allowedHosts").split(separator: ",").map { $0.trimmingCharacters().lowercased() }.filter { !$0.isEmpty }
        handshakeTimeout = try configuration.duration("server.handshakeTimeout")
        guard handshakeTimeout >= .milliseconds(100), handshakeTimeout <= .seconds(600) else {
            throw .badValue(
                key: "server.handshakeTimeout", value: value("server.handshakeTimeout"),
                source: configuration.entry("server.handshakeTimeout")?.source ?? .defaultValue, reason: "use 100ms to 10m, such as 5s")
        }
        func heartbeat(_ key: String) throws(ConfigurationError) -> Duration {
            let duration = try configuration.duration(key)
            guard duration >= .milliseconds(100), duration <= .seconds(600) else {
                throw .badValue(
                    key: key, value: value(key), source: configuration.entry(key)?.source ?? .defaultValue, reason: "use 100ms to 10m, such as 25s")
            }
            return duration
        }
        pingInterval = try heartbeat("server.pingInterval")
        pingTimeout = try heartbeat("server.pingTimeout")
        drainGrace = try configuration.duration("server.drainGrace")
        guard drainGrace <= .seconds(3600) else {
            throw .badValue(
                key: "server.drainGrace", value: value("server.drainGrace"),
                source: configuration.entry("server.drainGrace")?.source ?? .defaultValue, reason: "use 0s to 1h, such as 30s")
        }
        agentCheckPort = value("server.agentCheckPort").isEmpty ? nil : try integer("server.agentCheckPort", 0...65535)
        let sizeText = value("server.maxMessageSize")
        do {
            maxMessageBytes = Int(try Quantity.byteSize(sizeText))
        } catch {
            throw .badValue(
                key: "server.maxMessageSize", value: sizeText, source: configuration.entry("server.maxMessageSize")?.source ?? .defaultValue,
                reason: error.description)
        }
        guard maxMessageBytes >= 1024 else {
            throw .badValue(
                key: "server.maxMessageSize", value: sizeText, source: configuration.entry("server.maxMessageSize")?.source ?? .defaultValue,
                reason: "must be at least 1k")
        }
        maxSessions = try integer("server.maxSessions", 1...100_000)
        maxSessionsPerClient = try integer("server.maxSessionsPerClient", 1...100_000)
        maxConcurrentRuns = try integer("server.maxConcurrentRuns", 1...100_000)
        maxRunsPerSession = try integer("server.maxRunsPerSession", 1...1000)
        runsPerMinute = try integer("server.runsPerMinute", 1...1_000_000)
        standbyCounts = try SessionStandbys.parseCounts(
            value("server.standby"), source: configuration.entry("server.standby")?.source ?? .defaultValue)
        standbyTTL = try configuration.duration("server.standbyMaxAge")
        guard standbyTTL >= .seconds(15), standbyTTL <= .seconds(24 * 3600) else {
            throw .badValue(
                key: "server.standbyMaxAge", value: value("server.standbyMaxAge"),
                source: configuration.entry("server.standbyMaxAge")?.source ?? .defaultValue, reason: "use 15s to 24h, such as 10m")
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
