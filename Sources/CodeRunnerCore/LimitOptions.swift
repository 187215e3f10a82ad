/// Checks the container limits a user asks for (`--memory`, `--cpus`) against what Docker accepts and what the engine's
/// host has, so a typo or an impossible value is refused before the run instead of being passed on (or ignored).
public enum LimitOptionError: Error, Equatable, CustomStringConvertible {
    case badMemory(String, range: String)
    case memoryAboveHost(String, range: String)
    case badCPUs(String, range: String)
    case cpusAboveHost(String, range: String)

    public var description: String {
        switch self {
        case .badMemory(let text, let range):
            return "--memory \(text) is not a valid size: use a number with a unit (k, m, g) from \(range), e.g. 128m"
        case .memoryAboveHost(let text, let range):
            return "--memory \(text) is more than the engine's host has: use a size from \(range)"
        case .badCPUs(let text, let range):
            return "--cpus \(text) is not a valid number of CPUs: use a number from \(range), e.g. 0.5"
        case .cpusAboveHost(let text, let range):
            return "--cpus \(text) is more than the engine's host has: use a number from \(range)"
        }
    }
}

public enum LimitOptions {
    /// Docker refuses a memory limit under 6 MiB.
    public static let minimumMemoryBytes: UInt64 = 6 << 20
    /// Docker's CPU quota cannot go below 1 ms per 100 ms period.
    public static let minimumCPUs = 0.01

    /// `--memory`: a size from 6m up to the host's memory (when known).
    public static func memory(_ text: String, host: HostCapacity?) throws(LimitOptionError) -> UInt64 {
        let range =
            "\(Quantity.formatBytes(minimumMemoryBytes)) to "
            + (host.map { "\($0.memoryBytes >> 20)m (the engine's host memory)" } ?? "the host's memory")
        guard let bytes = try? Quantity.byteSize(text), bytes >= minimumMemoryBytes else { throw .badMemory(text, range: range) }
        if let host, host.memoryBytes > 0, bytes > host.memoryBytes { throw .memoryAboveHost(text, range: range) }
        return bytes
    }

    /// `--cpus`: a number from 0.01 up to the host's CPU count (when known).
    public static func cpus(_ text: String, host: HostCapacity?) throws(LimitOptionError) -> Double {
        let range =
            "\(minimumCPUs) to "
            + (host.map { "\($0.cpus) (the engine's host has \($0.cpus) CPU\($0.cpus == 1 ? "" : "s"))" } ?? "the host's CPU count")
        let trimmed = text.trimmingWhitespace()
        guard let value = Double(trimmed), value.isFinite, value >= minimumCPUs else { throw .badCPUs(text, range: range) }
        if let host, host.cpus > 0, value > Double(host.cpus) { throw .cpusAboveHost(text, range: range) }
        return value
    }
}
