import ArgumentParser
import AsyncHTTPClient
import CodeRunnerCore
import FoundationEssentials
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// `coderunner fleet status`: every node's health (`/health`) and pool (`/api/pool`, what `coderunner pool --json`
/// says about its engine), asked at once, and the fleet's totals. Exit 0 when every node answered healthy, 1 otherwise.
struct FleetStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Health, sessions and pool use of each node, and the fleet's totals.",
        discussion: """
            Asks each node's GET /health and GET /api/pool (with the server token, if given). Exit status: 0 when every \
            node is healthy, 1 when one is not or does not answer.

            Examples:
              coderunner fleet status --nodes http://10.0.0.5:3000 http://10.0.0.6:3000
              CODERUNNER_SERVER_TOKEN=secret coderunner fleet status --nodes http://a:3000 --json
            """)

    @Option(
        name: .long, parsing: .upToNextOption,
        help: ArgumentHelp("Base URLs of the nodes (http://host:port).", valueName: "url"))
    var nodes: [String] = []
    @Option(help: ArgumentHelp("The nodes' server.token (default: $CODERUNNER_SERVER_TOKEN).", valueName: "token"))
    var token: String?
    @Option(help: ArgumentHelp("How long to wait for each node.", valueName: "duration"), transform: DurationArgument.init(parsing:))
    var timeout = try! DurationArgument(parsing: "5s")
    @Flag(help: "Print JSON for scripts.") var json = false

    func validate() throws {
        guard !nodes.isEmpty else { throw ValidationError("name the nodes: --nodes http://host:port ...") }
        for node in nodes where NodeStatus.baseURL(node) == nil {
            throw ValidationError("'\(node)' is not a node URL; use http://host:port (https:// also works)")
        }
    }

    func run() async throws {
        try await withFailureHandling {
            let token = token ?? (getenv("CODERUNNER_SERVER_TOKEN").map { String(cString: $0) } ?? "")
            let statuses = await NodeStatus.fetchAll(nodes, token: token, timeout: timeout.value)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                Terminal.out(String(decoding: try encoder.encode(FleetReport(nodes: statuses)), as: UTF8.self) + "\n")
            } else {
                Terminal.out(Self.render(statuses))
            }
            if statuses.contains(where: { !$0.healthy }) {
                throw CommandFailure(message: "\(statuses.filter { !$0.healthy }.count) of \(statuses.count) nodes are not healthy", exitCode: 1)
            }
        }
    }

    static func render(_ statuses: [NodeStatus]) -> String {
        var rows = [["NODE", "INSTANCE", "STATUS", "SESSIONS", "SUBNETS USED", "CONTAINERS", "READY NETWORKS"]]
        for node in statuses {
            let pool = node.pool
            rows.append([
                node.url, node.instance ?? "-", node.error.map { "down: \($0)" } ?? node.status ?? "-", node.sessions.map(String.init) ?? "-",
                pool.map { "\($0.subnetsUsed)/\($0.totalCapacity)" } ?? "-", pool.map { String($0.containerCount) } ?? "-",
                pool.map { String($0.pools.reduce(0) { $0 + $1.ready }) } ?? "-",
            ])
        }
        let report = FleetReport(nodes: statuses)
        return TextTable.render(rows)
            + "\nFLEET: \(report.healthyNodes)/\(statuses.count) nodes healthy, \(report.sessions) sessions, "
            + "\(report.subnetsUsed)/\(report.subnetCapacity) subnets used\n"
    }
}

/// The fleet as `fleet status --json` prints it.
struct FleetReport: Encodable {
    var nodes: [NodeStatus]
    var healthyNodes: Int
    var sessions: Int
    var subnetsUsed: Int
    var subnetCapacity: Int

    init(nodes: [NodeStatus]) {
        self.nodes = nodes
        healthyNodes = nodes.filter(\.healthy).count
        sessions = nodes.compactMap(\.sessions).reduce(0, +)
        subnetsUsed = nodes.compactMap(\.pool?.subnetsUsed).reduce(0, +)
        subnetCapacity = nodes.compactMap(\.pool?.totalCapacity).reduce(0, +)
    }
}

/// One node's answers (or why there is none).
struct NodeStatus: Encodable, Sendable {
    var url: String
    var status: String?
    var instance: String?
    var sessions: Int?
    var engine: String?
    var pool: PoolReport?
    var error: String?
    var healthy: Bool { error == nil && status == "ok" }

    struct Health: Decodable {
        var status: String
        var instance: String?
        var sessions: Int?
        var engine: String?
    }

    /// `http://host:port` without a trailing slash, or nil when it is no http(s) URL with a host.
    static func baseURL(_ text: String) -> String? {
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { return nil }
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        return rest.isEmpty || rest.contains("/") ? nil : url
    }

    static func fetchAll(_ urls: [String], token: String, timeout: Duration) async -> [NodeStatus] {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let statuses = await withTaskGroup(of: (Int, NodeStatus).self) { group in
            for (index, url) in urls.enumerated() {
                group.addTask { (index, await fetch(baseURL(url) ?? url, client: client, token: token, timeout: timeout)) }
            }
            var results: [(Int, NodeStatus)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        try? await client.shutdown()
        return statuses
    }

    static func fetch(_ url: String, client: HTTPClient, token: String, timeout: Duration) async -> NodeStatus {
        var status = NodeStatus(url: url)
        func get(_ path: String) async throws -> (UInt, [UInt8]) {
            var request = HTTPClientRequest(url: url + path)
            if !token.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            let response = try await client.execute(request, timeout: .nanoseconds(nanoseconds))
            let body = try await response.body.collect(upTo: 16 << 20)
            return (response.status.code, Array(buffer: body))
        }
        do {
            let (code, body) = try await get("/health")
            if code == 401 { throw CommandFailure(message: "the node wants its server.token (--token)", exitCode: 1) }
            let health = try JSONDecoder().decode(Health.self, from: Data(body))
            status.status = health.status
            status.instance = health.instance
            status.sessions = health.sessions
            status.engine = health.engine
            let (poolCode, poolBody) = try await get("/api/pool")
            if poolCode == 200 { status.pool = try? JSONDecoder().decode(PoolReport.self, from: Data(poolBody)) }
        } catch let failure as CommandFailure {
            status.error = failure.message
        } catch {
            status.error = "\(error)"
        }
        return status
    }
}
