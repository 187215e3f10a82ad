import CodeRunnerCore

/// Why `serve` refused to start: another node's networks lie in this node's subnet pools.
public struct PoolOverlapError: Error, CustomStringConvertible {
    public var instance: String
    public var otherInstances: [String]
    public var subnets: [String]

    public var description: String {
        let mine = instance.isEmpty ? "this server (no server.instance)" : "instance '\(instance)'"
        let shown = subnets.prefix(3).joined(separator: ", ") + (subnets.count > 3 ? ", …" : "")
        return "\(mine) would share subnet pools with instance \(otherInstances.map { "'\($0)'" }.joined(separator: ", ")) "
            + "(\(subnets.count) of their networks are in network.pools: \(shown)); give each node sharing this engine its own pools "
            + "(CODERUNNER_NETWORK_POOLS, e.g. 10.64.0.0/14 and 10.68.0.0/14) and its own CODERUNNER_SERVER_INSTANCE"
    }
}

extension CodeRunnerHTTPServer {
    /// Nodes sharing an engine need disjoint pools: checked at start against the networks other instances made (a
    /// node that never made one yet cannot be seen; the check repeats at each start).
    func checkPoolsAreThisInstances() async throws(PoolOverlapError) {
        let found: [(instance: String, subnet: IPv4Network)]
        do { found = try await context.runner.networks.otherInstancesNetworksInPools() } catch {
            context.logger.warning("could not list networks to check the pools against other instances", metadata: ["error": "\(error)"])
            return
        }
        guard !found.isEmpty else { return }
        throw PoolOverlapError(
            instance: context.runner.settings.instance, otherInstances: Array(Set(found.map(\.instance))).sorted(),
            subnets: found.map(\.subnet.description))
    }
}
