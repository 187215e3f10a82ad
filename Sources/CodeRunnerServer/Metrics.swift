import CodeRunnerCore
import Synchronization

/// Counters and the run-latency histogram behind `GET /metrics`. A mutex rather than an actor: every run records here,
/// and recording must never make a run wait behind a scrape.
public final class ServerMetrics: Sendable {
    /// Upper bounds (seconds) of the run latency histogram, from a warm Python hello world to a long compile.
    static let buckets: [Double] = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    struct Histogram {
        var counts = [UInt64](repeating: 0, count: ServerMetrics.buckets.count)
        var sum = 0.0
        var count: UInt64 = 0

        mutating func add(_ seconds: Double) {
            for (index, bound) in ServerMetrics.buckets.enumerated() where seconds <= bound { counts[index] += 1 }
            sum += seconds
            count += 1
        }
    }

    /// What the engine holds at scrape time (nil: the engine did not answer).
    public struct EngineGauges: Sendable {
        public var containers: Int?
        public var subnets: Int?
        public var networksReady: Int?
        public var networksLeased: Int?
        /// Standby containers not yet claimed, by language.
        public var standbys: [String: Int] = [:]
        public var leases = SessionNetworks.LeaseStatistics()
        /// Pool networks this server is making now.
        public var networksCreating = 0
        /// `server.standby` sessions ready and being made, by language, and what took them.
        public var readySessions: [String: (ready: Int, creating: Int)] = [:]
        public var readySessionStatistics = SessionStandbys.Statistics()
        /// Closed sessions whose removal failed and waits for a retry.
        public var cleanupsPending = 0
    }

    struct State {
        var runs: [String: UInt64] = [:]  // "language\u{0}status"
        var latency: [String: Histogram] = [:]  // by language
        /// The first run of each connection (what a user pressing Run first waits for), by language.
        var firstRunLatency: [String: Histogram] = [:]
        var liveSessions = 0
        var activeRuns = 0
        var sessionsTotal: UInt64 = 0
        var cleanupErrors: UInt64 = 0
        var busyRejections: UInt64 = 0
        var protocolErrors: UInt64 = 0
        /// When runs finished in the last `rateWindow`, for the operator view's rates (at most `maxRecentFinishes`).
        var recentFinishes: [ContinuousClock.Instant] = []
    }

    let state = Mutex(State())

    public init() {}

    func recordRun(language: String, status: String, seconds: Double, firstOfConnection: Bool = false) {
        state.withLock { state in
            state.runs[language + "\u{0}" + status, default: 0] += 1
            state.latency[language, default: Histogram()].add(seconds)
            if firstOfConnection { state.firstRunLatency[language, default: Histogram()].add(seconds) }
            let now = ContinuousClock.now
            if let first = state.recentFinishes.first, now - first > Self.rateWindow || state.recentFinishes.count >= Self.maxRecentFinishes {
                state.recentFinishes.removeAll { now - $0 > Self.rateWindow }
                if state.recentFinishes.count >= Self.maxRecentFinishes { state.recentFinishes.removeFirst(state.recentFinishes.count / 2) }
            }
            state.recentFinishes.append(now)
        }
    }

    func sessionOpened() {
        state.withLock {
            $0.liveSessions += 1
            $0.sessionsTotal += 1
        }
    }
    func sessionClosed() { state.withLock { $0.liveSessions -= 1 } }
    func runStarted() { state.withLock { $0.activeRuns += 1 } }
    func runEnded() { state.withLock { $0.activeRuns -= 1 } }
    func cleanupError() { state.withLock { $0.cleanupErrors += 1 } }
    func busyRejected() { state.withLock { $0.busyRejections += 1 } }
    func protocolError() { state.withLock { $0.protocolErrors += 1 } }

    var liveSessions: Int { state.withLock { $0.liveSessions } }

    /// Prometheus text exposition (version 0.0.4). `containers` and `subnets` come from the engine at scrape time.
    func render(_ engine: EngineGauges) -> String {
        let snapshot = state.withLock { $0 }
        var out = ""
        func escape(_ value: String) -> String {
            value.replacingOccurrences("\\", "\\\\").replacingOccurrences("\"", "\\\"").replacingOccurrences("\n", "\\n")
        }
        func number(_ value: Double) -> String {
            value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
        out += "# HELP coderunner_runs_total Runs finished, by language and status.\n# TYPE coderunner_runs_total counter\n"
        for key in snapshot.runs.keys.sorted() {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            out += "coderunner_runs_total{language=\"\(escape(String(parts[0])))\",status=\"\(escape(String(parts[1])))\"} \(snapshot.runs[key]!)\n"
        }
        func histograms(_ name: String, _ help: String, _ byLanguage: [String: Histogram]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
            for language in byLanguage.keys.sorted() {
                let histogram = byLanguage[language]!
                let label = "language=\"\(escape(language))\""
                for (index, bound) in Self.buckets.enumerated() {
                    out += "\(name)_bucket{\(label),le=\"\(number(bound))\"} \(histogram.counts[index])\n"
                }
                out += "\(name)_bucket{\(label),le=\"+Inf\"} \(histogram.count)\n"
                out += "\(name)_sum{\(label)} \(histogram.sum)\n"
                out += "\(name)_count{\(label)} \(histogram.count)\n"
            }
        }
        histograms("coderunner_run_duration_seconds", "Wall time of runs as the server saw them, container set-up included.", snapshot.latency)
        histograms(
            "coderunner_first_run_duration_seconds", "Wall time of each connection's first run (network lease and container included).",
            snapshot.firstRunLatency)
        func gauge(_ name: String, _ help: String, _ value: String, type: String = "gauge") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        gauge("coderunner_sessions_live", "WebSocket sessions open now.", String(snapshot.liveSessions))
        gauge("coderunner_sessions_total", "WebSocket sessions opened since start.", String(snapshot.sessionsTotal), type: "counter")
        gauge("coderunner_runs_active", "Runs executing now.", String(snapshot.activeRuns))
        if let containers = engine.containers {
            gauge("coderunner_containers", "coderunner containers on the engine (all processes).", String(containers))
        }
        if let subnets = engine.subnets { gauge("coderunner_subnets_used", "Session networks (one /24 each) on the engine.", String(subnets)) }
        if let ready = engine.networksReady {
            gauge("coderunner_networks_ready", "Session networks ready for the next sessions (all processes).", String(ready))
        }
        if let leased = engine.networksLeased {
            gauge("coderunner_networks_leased", "Session networks a session holds (all processes).", String(leased))
        }
        gauge("coderunner_networks_creating", "Session networks this server is making for the pool now.", String(engine.networksCreating))
        out +=
            "# HELP coderunner_ready_sessions Sessions ready for connections' first runs (server.standby), by language.\n# TYPE coderunner_ready_sessions gauge\n"
        for language in engine.readySessions.keys.sorted() {
            out += "coderunner_ready_sessions{language=\"\(escape(language))\"} \(engine.readySessions[language]!.ready)\n"
        }
        out +=
            "# HELP coderunner_ready_sessions_creating Ready sessions being made now, by language.\n# TYPE coderunner_ready_sessions_creating gauge\n"
        for language in engine.readySessions.keys.sorted() {
            out += "coderunner_ready_sessions_creating{language=\"\(escape(language))\"} \(engine.readySessions[language]!.creating)\n"
        }
        let taken = engine.readySessionStatistics
        gauge("coderunner_ready_sessions_taken_total", "First runs that took a ready session.", String(taken.taken), type: "counter")
        gauge(
            "coderunner_ready_sessions_missed_total", "First runs that found no ready session of their language and limits.", String(taken.missed),
            type: "counter")
        gauge(
            "coderunner_ready_sessions_expired_total", "Ready sessions replaced unused (server.standbyMaxAge).", String(taken.expired),
            type: "counter")
        gauge("coderunner_ready_sessions_failed_total", "Ready sessions that could not be made.", String(taken.failed), type: "counter")
        out +=
            "# HELP coderunner_standby_containers Standby containers ready to be claimed, by language.\n# TYPE coderunner_standby_containers gauge\n"
        for language in engine.standbys.keys.sorted() {
            out += "coderunner_standby_containers{language=\"\(escape(language))\"} \(engine.standbys[language]!)\n"
        }
        gauge("coderunner_network_leases_total", "Session networks this server leased.", String(engine.leases.count), type: "counter")
        gauge(
            "coderunner_network_lease_seconds_total", "Time spent leasing them (sum; divide by the count for the mean wait).",
            String(engine.leases.seconds), type: "counter")
        gauge("coderunner_network_lease_slowest_seconds", "The slowest lease so far.", String(engine.leases.slowestSeconds))
        gauge(
            "coderunner_networks_made_total", "Session networks this server made for the pool.", String(engine.leases.networksMade), type: "counter")
        gauge("coderunner_cleanups_pending", "Closed sessions whose removal failed and is retried every sweep.", String(engine.cleanupsPending))
        gauge(
            "coderunner_cleanup_errors_total", "Failed removals of session containers or networks, and failed sweeps.",
            String(snapshot.cleanupErrors), type: "counter")
        gauge(
            "coderunner_busy_rejections_total", "Runs or connections refused by a global or per-client cap.", String(snapshot.busyRejections),
            type: "counter")
        gauge("coderunner_protocol_errors_total", "Client messages answered with an error.", String(snapshot.protocolErrors), type: "counter")
        return out
    }
}

extension String {
    /// Plain substring replacement without Foundation.
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
