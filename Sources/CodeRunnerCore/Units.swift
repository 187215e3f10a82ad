/// Parsing of the human-friendly quantities users type on the command line and in config files
/// (`500ms`, `2s`, `1m`; `128m`, `1g`). One parser for every face (CLI, config, server) so they agree.
public enum QuantityParseError: Error, Equatable, CustomStringConvertible {
    case badDuration(String)
    case badByteSize(String)
    case badNumber(String)

    public var description: String {
        switch self {
        case .badDuration(let text):
            return "'\(text)' is not a duration: use a number with a unit, such as 500ms, 2s, 1.5m or 1h"
        case .badByteSize(let text):
            return "'\(text)' is not a size: use a number with a unit, such as 512k, 128m or 1g"
        case .badNumber(let text):
            return "'\(text)' is not a positive number"
        }
    }
}

public enum Quantity {
    /// Parses `500ms`, `2s`, `1.5m`, `1h`; a bare number means seconds.
    public static func duration(_ text: String) throws(QuantityParseError) -> Duration {
        let trimmed = text.trimmingWhitespace().lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000_001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(trimmed)
        var scale = 1.0
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            scale = factor
            break
        }
        guard !number.isEmpty, let value = Double(number), value.isFinite, value >= 0, value * scale <= 86_400 * 365 else {
            throw .badDuration(text)
        }
        let micros = Int64((value * scale * 1_000_000).rounded())
        return .microseconds(micros)
    }

    /// Parses `128m`, `1g`, `512k`, `1048576` (bytes), with optional `b`/`ib` suffixes (`128MiB`, `1gb`).
    public static func byteSize(_ text: String) throws(QuantityParseError) -> UInt64 {
        var trimmed = Substring(text.trimmingWhitespace().lowercased())
        if trimmed.hasSuffix("ib") { trimmed = trimmed.dropLast(2) } else if trimmed.hasSuffix("b") { trimmed = trimmed.dropLast() }
        var scale: Double = 1
        if let last = trimmed.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4][String(last)] {
            scale = Double(1 << (10 * power))
            trimmed = trimmed.dropLast()
        }
        guard !trimmed.isEmpty, let value = Double(trimmed), value.isFinite, value >= 0, value * scale < 1e18 else {
            throw .badByteSize(text)
        }
        return UInt64((value * scale).rounded())
    }

    /// Renders a byte count the way users type it (`128m`, `1g`, `1.5k`).
    public static func formatBytes(_ bytes: UInt64) -> String {
        let units: [(String, UInt64)] = [("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)]
        for (suffix, size) in units where bytes >= size {
            if bytes % size == 0 { return "\(bytes / size)\(suffix)" }
            let value = Double(bytes) / Double(size)
            return "\((value * 10).rounded() / 10)\(suffix)"
        }
        return "\(bytes)"
    }

    /// Renders a duration compactly (`500ms`, `2s`, `1.5s`, `2m`).
    public static func formatDuration(_ duration: Duration) -> String {
        let micros = duration.microseconds
        if micros % 60_000_000 == 0, micros >= 60_000_000 { return "\(micros / 60_000_000)m" }
        if micros % 1_000_000 == 0 { return "\(micros / 1_000_000)s" }
        if micros % 1000 == 0 { return "\(micros / 1000)ms" }
        return "\(micros)us"
    }
}

extension Duration {
    /// Whole microseconds, saturating; used for limits and timing reports.
    public var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000 &+ attoseconds / 1_000_000_000_000
    }

    public var milliseconds: Int64 { microseconds / 1000 }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
