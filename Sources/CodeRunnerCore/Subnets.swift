/// An IPv4 CIDR block such as `10.64.0.0/12`.
public struct IPv4Network: Sendable, Hashable, CustomStringConvertible, Comparable {
    public var address: UInt32  // network address, host bits zero
    public var prefixLength: Int

    public init(address: UInt32, prefixLength: Int) {
        self.prefixLength = prefixLength
        let mask: UInt32 = prefixLength == 0 ? 0 : ~UInt32(0) << (32 - prefixLength)
        self.address = address & mask
    }

    /// Parses `a.b.c.d/n`; rejects host bits set, so typos like `10.64.1.0/12` are caught.
    public init?(_ text: String) {
        let parts = text.trimmingWhitespace().split(separator: "/")
        guard parts.count == 2, let prefix = Int(parts[1]), (0...32).contains(prefix),
            let address = Self.parseAddress(String(parts[0]))
        else { return nil }
        self.init(address: address, prefixLength: prefix)
        if self.address != address { return nil }
    }

    public static func parseAddress(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    public static func formatAddress(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 255).\(value >> 8 & 255).\(value & 255)"
    }

    public var description: String { "\(Self.formatAddress(address))/\(prefixLength)" }
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }
    public var lastAddress: UInt32 { address &+ UInt32(truncatingIfNeeded: size - 1) }
    /// The first usable address, which Docker would also pick as the gateway.
    public var gateway: String { Self.formatAddress(address + 1) }

    public func contains(_ other: IPv4Network) -> Bool {
        other.prefixLength >= prefixLength && other.address >= address && other.lastAddress <= lastAddress
    }

    public func overlaps(_ other: IPv4Network) -> Bool {
        address <= other.lastAddress && other.address <= lastAddress
    }

    /// Inside 10/8, 172.16/12 or 192.168/16 (RFC 1918).
    public var isPrivate: Bool {
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].contains { IPv4Network($0)!.contains(self) }
    }

    /// How many /24 subnets fit (a pool smaller than /24 holds none).
    public var subnet24Count: Int { prefixLength > 24 ? 0 : 1 << (24 - prefixLength) }

    public func subnet24(at index: Int) -> IPv4Network {
        IPv4Network(address: address + UInt32(index) << 8, prefixLength: 24)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.address, lhs.prefixLength) < (rhs.address, rhs.prefixLength)
    }
}

public enum SubnetError: Error, Equatable, CustomStringConvertible {
    case badPool(String)
    case overlappingPools(String, String)
    case exhausted(pools: [String], capacity: Int)

    public var description: String {
        switch self {
        case .badPool(let text):
            return "subnet pool '\(text)' is not an IPv4 CIDR of /24 or larger (example: 10.64.0.0/12); fix network.pools"
        case .overlappingPools(let a, let b):
            return "subnet pools \(a) and \(b) overlap; fix network.pools"
        case .exhausted(let pools, let capacity):
            return
                "all \(capacity) session subnets of the pools \(pools.joined(separator: ", ")) are in use; end sessions, run `coderunner net gc` to collect orphans, or add a pool to network.pools"
        }
    }
}

/// Hands out /24 subnets from the configured pools.
///
/// Deterministic: a cursor walks the pools in order and wraps around, so the next allocation after a release
/// does not immediately reuse the released subnet (Docker may still be tearing it down). Safe inside one process
/// because it is an actor; across processes Docker is the source of truth: callers report subnets Docker refused
/// as overlapping with `markTaken`, and seed the allocator with the subnets of existing networks (`recover`).
public actor SubnetAllocator {
    public nonisolated let pools: [IPv4Network]
    public nonisolated let capacity: Int
    private var inUse: Set<IPv4Network> = []
    private var cursor = 0  // global index over all pools' /24s

    public init(pools: [IPv4Network]) throws(SubnetError) {
        for pool in pools where pool.prefixLength > 24 { throw .badPool(pool.description) }
        for (i, a) in pools.enumerated() {
            for b in pools[(i + 1)...] where a.overlaps(b) { throw .overlappingPools(a.description, b.description) }
        }
        self.pools = pools
        self.capacity = pools.reduce(0) { $0 + $1.subnet24Count }
    }

    public init(poolTexts: [String]) throws(SubnetError) {
        var parsed: [IPv4Network] = []
        for text in poolTexts {
            guard let pool = IPv4Network(text) else { throw .badPool(text) }
            parsed.append(pool)
        }
        try self.init(pools: parsed)
    }

    public var usedCount: Int { inUse.count }
    public var allocated: Set<IPv4Network> { inUse }

    func subnet(atGlobalIndex index: Int) -> IPv4Network {
        var remaining = index
        for pool in pools {
            if remaining < pool.subnet24Count { return pool.subnet24(at: remaining) }
            remaining -= pool.subnet24Count
        }
        preconditionFailure("index \(index) beyond capacity \(capacity)")
    }

    /// The next free /24, marked in use. Subnets in `exclude` (known to be taken by someone else) are skipped and remembered.
    public func allocate(excluding exclude: Set<IPv4Network> = []) throws(SubnetError) -> IPv4Network {
        guard capacity > 0 else { throw .exhausted(pools: pools.map(\.description), capacity: capacity) }
        for step in 0..<capacity {
            let index = (cursor + step) % capacity
            let candidate = subnet(atGlobalIndex: index)
            if inUse.contains(candidate) { continue }
            if exclude.contains(where: { $0.overlaps(candidate) }) { continue }
            inUse.insert(candidate)
            cursor = (index + 1) % capacity
            return candidate
        }
        throw .exhausted(pools: pools.map(\.description), capacity: capacity)
    }

    /// Moves the next allocation to a random place in the pools: processes that all start from the same list of taken
    /// subnets would otherwise try the same free one, one after another, and the last would need as many tries as
    /// there are processes.
    public func scatter() {
        if capacity > 0 { cursor = Int.random(in: 0..<capacity) }
    }

    /// Records a subnet as in use without allocating it (recovered from Docker, or refused by Docker as overlapping).
    public func markTaken(_ subnet: IPv4Network) {
        if pools.contains(where: { $0.contains(subnet) }) { inUse.insert(subnet) }
    }

    public func recover(_ subnets: some Sequence<IPv4Network>) {
        for subnet in subnets { markTaken(subnet) }
    }

    public func release(_ subnet: IPv4Network) {
        inUse.remove(subnet)
    }
}
