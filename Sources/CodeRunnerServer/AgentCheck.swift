import CodeRunnerCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// What a load balancer needs to know about this node, in HAProxy's agent-check words: HAProxy connects to the
/// `server.agentCheckPort`, reads one line and closes. `up ready 37%` scales the server's configured weight to the free
/// share of the node's tightest capacity (sessions, subnets, concurrent-run slots); `drain` stops new connections while
/// open ones stay; `down` takes it out (the engine does not answer). Pure, for the unit tests.
public struct NodeCapacity: Sendable, Equatable {
    public var draining = false
    public var engineReachable = true
    public var sessions = 0
    public var maxSessions = 1
    /// Subnets of this node's pools; each session holds at most one, so `subnets - sessions` are sure to be free.
    public var subnets = 1
    public var runs = 0
    public var maxRuns = 1

    public init(
        draining: Bool = false, engineReachable: Bool = true, sessions: Int = 0, maxSessions: Int = 1, subnets: Int = 1, runs: Int = 0,
        maxRuns: Int = 1
    ) {
        self.draining = draining
        self.engineReachable = engineReachable
        self.sessions = sessions
        self.maxSessions = maxSessions
        self.subnets = subnets
        self.runs = runs
        self.maxRuns = maxRuns
    }

    /// The free share of the tightest resource, 0...100. A node with any room left answers at least 1%, so a busy
    /// node still takes its share rather than none (0% is HAProxy's "no new connections").
    public var freePercent: Int {
        func free(_ used: Int, _ total: Int) -> Double { total <= 0 ? 0 : max(0, Double(total - used)) / Double(total) }
        let share = min(free(sessions, maxSessions), free(sessions, subnets), free(runs, maxRuns))
        let percent = Int((share * 100).rounded(.down))
        return percent == 0 && sessions < maxSessions && sessions < subnets ? 1 : percent
    }

    /// The agent-check reply line (with its newline, which HAProxy requires).
    public var agentReply: String {
        if !engineReachable { return "down #the container engine does not answer\n" }
        if draining { return "drain #draining\n" }
        return "up ready \(freePercent)%\n"
    }
}

extension ServerContext {
    /// This node's capacity now; the engine's reachability comes from the last probe (`AgentCheckService`).
    func capacity(engineReachable: Bool) -> NodeCapacity {
        let (sessions, runs, draining) = admission.withLock { ($0.sessions, $0.runs, $0.draining) }
        return NodeCapacity(
            draining: draining, engineReachable: engineReachable, sessions: sessions, maxSessions: settings.maxSessions,
            subnets: runner.networks.allocator.capacity, runs: runs, maxRuns: settings.maxConcurrentRuns)
    }
}

/// Answers HAProxy's agent-check on `server.agentCheckPort` with `NodeCapacity.agentReply`, and probes the engine
/// every few seconds so an answer never waits on it. It stays up while the node drains (the drain service stops
/// before it), so the balancer hears `drain` until the end.
final class AgentCheckService: Service, Sendable {
    let context: ServerContext
    let port: Int
    let probeInterval: Duration
    private let engineReachable = Mutex(true)
    /// The bound port once listening (port 0 picks one: the tests).
    let boundPort = Mutex<Int?>(nil)

    init(context: ServerContext, port: Int, probeInterval: Duration = .seconds(2)) {
        self.context = context
        self.port = port
        self.probeInterval = probeInterval
    }

    func reply() -> String {
        context.capacity(engineReachable: engineReachable.withLock { $0 }).agentReply
    }

    func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: context.settings.host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let bound = server.channel.localAddress?.port ?? port
        boundPort.withLock { $0 = bound }
        context.logger.notice("agent-check listening", metadata: ["port": "\(bound)"])
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.probeEngine() }
                try? await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask {
                            try? await connection.executeThenClose { _, outbound in
                                try await outbound.write(ByteBuffer(string: self.reply()))
                            }
                        }
                    }
                }
                group.cancelAll()
            }
        }
    }

    private func probeEngine() async {
        while !Task.isCancelled {
            let reachable: Bool
            do {
                _ = try await withDeadline(.seconds(5)) { try await self.context.runner.engine.info() }
                reachable = true
            } catch {
                reachable = false
            }
            let changed = engineReachable.withLock { state in
                defer { state = reachable }
                return state != reachable
            }
            if changed { context.logger.warning("container engine \(reachable ? "answers again" : "does not answer"): agent-check says so") }
            try? await Task.sleep(for: probeInterval)
        }
    }
}

/// Runs `body`, or throws `CancellationError` once `limit` has passed (the engine may hang rather than refuse).
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw CancellationError()
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}
