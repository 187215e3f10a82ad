import CodeRunnerCore
import FoundationEssentials
import Synchronization

/// The last errors the server logged or sent (refused requests, failed kernels, failed clean-ups), newest last, for
/// `GET /api/operator`. Bounded: a client sending bad messages in a loop replaces old entries, it never grows memory.
public final class RecentErrors: Sendable {
    public struct Entry: Sendable, Encodable, Equatable {
        /// Seconds since 1970.
        public var time: Double
        public var session: String?
        public var client: String?
        public var code: String
        public var message: String
    }

    let capacity: Int
    private let state = Mutex<(entries: [Entry], next: Int)>(([], 0))

    public init(capacity: Int = 50) { self.capacity = max(1, capacity) }

    func record(session: String?, client: String? = nil, code: String, message: String) {
        // A message is the client's or a program's text: cut it so the buffer stays small.
        let entry = Entry(
            time: Date().timeIntervalSince1970, session: session, client: client, code: String(code.prefix(64)),
            message: String(message.prefix(500)))
        state.withLock { state in
            if state.entries.count < capacity {
                state.entries.append(entry)
            } else {
                state.entries[state.next] = entry
            }
            state.next = (state.next + 1) % capacity
        }
    }

    /// Oldest first.
    var entries: [Entry] {
        state.withLock { state in
            state.entries.count < capacity ? state.entries : Array(state.entries[state.next...] + state.entries[..<state.next])
        }
    }
}

/// What a live session says about itself to the operator view.
struct LiveSessionSummary: Sendable {
    var kind: String
    var ageSeconds: Double
    var runs: [String]
    var kernels: Int
    var touchedEngine: Bool
    /// The engine session its containers are labelled with (a standby's name when it took one); nil before its first run.
    var engineSession: String?
}

/// The answer of `GET /api/operator`.
struct OperatorReport: Encodable {
    struct Node: Encodable {
        var instance: String?
        var draining: Bool
        var sessions: Int
        var maxSessions: Int
        var runs: Int
        var maxConcurrentRuns: Int
        var cleanupsPending: Int
    }
    struct Session: Encodable {
        var name: String
        var client: String
        var kind: String
        var ageSeconds: Double
        var runs: Int
        var runIDs: [String]
        var kernels: Int
        var touchedEngine: Bool
        var engineSession: String?
        var network: String?
        var subnet: String?
        var containers: [PoolReport.Container]
    }
    struct Pool: Encodable {
        var totalCapacity: Int
        var subnetsUsed: Int
        var containerCount: Int
        var busyContainers: Int
        var pools: [PoolReport.Pool]
        /// Engine sessions no live session of this server holds (other nodes', standbys, leftovers).
        var otherSessions: Int
    }
    var time: Double
    var node: Node
    var sessions: [Session]
    var pool: Pool?
    /// Why `pool` and the sessions' containers are missing: the engine did not answer.
    var engineError: String?
    var runs: ServerMetrics.RunSummary
    var recentErrors: [RecentErrors.Entry]
}

extension ServerContext {
    /// Everything `GET /api/operator` shows: the admission state joined with the engine's inventory and the metrics.
    func operatorReport() async -> OperatorReport {
        let (live, sessionCount, runCount, draining) = admission.withLock { state in
            (Array(state.live.values), state.sessions, state.runs, state.draining)
        }
        var summaries: [(session: any LiveSession, summary: LiveSessionSummary)] = []
        for session in live { summaries.append((session, await session.summary())) }
        var engineSessions: [String: PoolReport.Session] = [:]
        var pool: OperatorReport.Pool?
        var engineError: String?
        do {
            let report = try await Inventory(engine: runner.engine, settings: runner.settings).report(withAgentStatus: false)
            for session in report.sessions { engineSessions[session.name] = session }
            let held = Set(summaries.compactMap { $0.summary.engineSession })
            pool = OperatorReport.Pool(
                totalCapacity: report.totalCapacity, subnetsUsed: report.subnetsUsed, containerCount: report.containerCount,
                busyContainers: report.busyContainers, pools: report.pools,
                otherSessions: report.sessions.filter { !held.contains($0.name) }.count)
        } catch {
            engineError = "the engine did not answer: \(error)"
        }
        let sessions = summaries.map { session, summary in
            let engine = summary.engineSession.flatMap { engineSessions[$0] }
            return OperatorReport.Session(
                name: session.name, client: session.client, kind: summary.kind, ageSeconds: summary.ageSeconds, runs: summary.runs.count,
                runIDs: summary.runs.sorted(), kernels: summary.kernels, touchedEngine: summary.touchedEngine,
                engineSession: summary.engineSession, network: engine?.network, subnet: engine?.subnet, containers: engine?.containers ?? [])
        }.sorted { ($0.ageSeconds, $0.name) > ($1.ageSeconds, $1.name) }
        let node = OperatorReport.Node(
            instance: runner.settings.instance.nilIfEmpty, draining: draining, sessions: sessionCount, maxSessions: settings.maxSessions,
            runs: runCount, maxConcurrentRuns: settings.maxConcurrentRuns, cleanupsPending: await cleanups.pending.count)
        return OperatorReport(
            time: Date().timeIntervalSince1970, node: node, sessions: sessions, pool: pool, engineError: engineError,
            runs: metrics.runSummary(), recentErrors: recentErrors.entries)
    }
}
