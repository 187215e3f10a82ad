import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `serve`'s log lines on stderr: text (`time level label: message key=value ...`) or, with `server.logFormat = json`,
/// one JSON object per line for log shippers.
public struct ServerLogHandler: LogHandler {
    public enum Format: Sendable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let format: Format
    /// Hummingbird logs the cancellation that ends the listener at shutdown as an error; that is the plan, not a fault.
    var quietCancellation = false

    public init(label: String, level: Logger.Level, format: Format) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        if quietCancellation, event.message.description.contains("CancellationError") { return }
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        guard format == .json else {
            var line = "\(Self.timestamp()) \(event.level.rawValue) \(label): \(event.message)"
            for key in fields.keys.sorted() {
                let value = fields[key]!.description
                line += " \(key)=" + (value.contains(" ") || value.isEmpty ? JSON.quote(value) : value)
            }
            Self.write(line + "\n")
            return
        }
        var line =
            "{\"time\":\(JSON.quote(Self.timestamp())),\"level\":\"\(event.level.rawValue)\",\"label\":\(JSON.quote(label)),\"message\":\(JSON.quote(event.message.description))"
        for key in fields.keys.sorted() where !["time", "level", "label", "message"].contains(key) {
            line += ",\(JSON.quote(key)):\(JSON.quote(fields[key]!.description))"
        }
        line += "}\n"
        Self.write(line)
    }

    static func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// RFC 3339 UTC with milliseconds, without Foundation.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return
            "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}

extension ServerSettings {
    /// The server's logger in the configured format and level (no global bootstrap: the CLI's other commands are untouched).
    public func makeLogger(label: String = "coderunner.serve") -> Logger {
        makeLogger(label: label, quietCancellation: false)
    }

    func makeLogger(label: String, quietCancellation: Bool) -> Logger {
        let level = logLevel
        let format: ServerLogHandler.Format = logFormat == "json" ? .json : .text
        return Logger(label: label) {
            var handler = ServerLogHandler(label: $0, level: level, format: format)
            handler.quietCancellation = quietCancellation
            return handler
        }
    }
}
