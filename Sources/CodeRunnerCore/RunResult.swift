/// How a run ended, from the user's point of view.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case ok
    case compileError = "compile-error"
    case runtimeError = "runtime-error"
    case signal
    case timeout
    case cpuLimit = "cpu-limit"
    case memoryLimit = "memory-limit"
    case outputLimit = "output-limit"
    case stopped
    case internalError = "internal-error"
}

/// Measurements of one stage (compile or run).
public struct StageReport: Sendable, Codable, Equatable {
    public var name: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var signalName: String?
    public var wallMilliseconds: Double
    public var cpuMilliseconds: Double
    public var peakMemoryBytes: UInt64
    public init(name: String, exitCode: Int32?, signal: Int32?, wallMilliseconds: Double, cpuMilliseconds: Double, peakMemoryBytes: UInt64) {
        self.name = name
        self.exitCode = exitCode
        self.signal = signal
        self.signalName = signal.map(SignalNames.name(of:))
        self.wallMilliseconds = wallMilliseconds
        self.cpuMilliseconds = cpuMilliseconds
        self.peakMemoryBytes = peakMemoryBytes
    }

    /// Every key always present (null when there is no value): a stable schema (docs/json.md).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(signal, forKey: .signal)
        try container.encode(signalName, forKey: .signalName)
        try container.encode(wallMilliseconds, forKey: .wallMilliseconds)
        try container.encode(cpuMilliseconds, forKey: .cpuMilliseconds)
        try container.encode(peakMemoryBytes, forKey: .peakMemoryBytes)
    }
}

/// The outcome of a run, as `run --json` prints it and the server sends it.
public struct RunResult: Sendable, Codable, Equatable {
    public var status: RunStatus
    public var language: String
    public var exitCode: Int32?
    public var signal: Int32?
    public var signalName: String?
    public var stages: [StageReport]
    public var truncated: Bool
    /// Wall time of the whole run as the engine saw it, including container set-up.
    public var totalMilliseconds: Double
    public var message: String?
    public var session: String?
    /// The run could not start because every session subnet of the pools is in use: not part of reports (`serve`
    /// answers such a run with `busy` and the reason).
    public var capacityFull = false

    enum CodingKeys: String, CodingKey {
        case status, language, exitCode, signal, signalName, stages, truncated, totalMilliseconds, message, session
    }

    public init(
        status: RunStatus, language: String, exitCode: Int32?, signal: Int32?, stages: [StageReport], truncated: Bool,
        totalMilliseconds: Double, message: String?, session: String?
    ) {
        self.status = status
        self.language = language
        self.exitCode = exitCode
        self.signal = signal
        self.signalName = signal.map(SignalNames.name(of:))
        self.stages = stages
        self.truncated = truncated
        self.totalMilliseconds = totalMilliseconds
        self.message = message
        self.session = session
    }

    /// Every key always present (null when there is no value): a stable schema (docs/json.md).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encode(language, forKey: .language)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(signal, forKey: .signal)
        try container.encode(signalName, forKey: .signalName)
        try container.encode(stages, forKey: .stages)
        try container.encode(truncated, forKey: .truncated)
        try container.encode(totalMilliseconds, forKey: .totalMilliseconds)
        try container.encode(message, forKey: .message)
        try container.encode(session, forKey: .session)
    }

    /// The exit code `coderunner run` passes on (README, "Statuses and exit codes"): the program's own; 124 timeout; 128+N for signal N
    /// (137 for a memory-limit kill); the compiler's on a compile error; 125 when coderunner itself failed.
    public var processExitCode: Int32 {
        switch status {
        case .ok: return 0
        case .compileError: return exitCode ?? 1
        case .runtimeError: return exitCode ?? 1
        case .signal: return 128 + (signal ?? 9)
        case .timeout: return 124
        case .cpuLimit: return 128 + (signal ?? SignalNames.sigxcpu)
        case .memoryLimit: return 137
        case .outputLimit: return 128 + (signal ?? 9)
        case .stopped: return 130
        case .internalError: return 125
        }
    }

    /// One line for stderr explaining a non-ok status; nil when the run was ok.
    public var summaryLine: String? {
        switch status {
        case .ok: return nil
        case .compileError: return "coderunner: compile error (compiler exit code \(exitCode ?? 1))"
        case .runtimeError: return "coderunner: program exited with code \(exitCode ?? 1)"
        case .signal: return "coderunner: program killed by \(signalName ?? "signal \(signal ?? 0)")"
        case .timeout: return "coderunner: time limit exceeded (\(message ?? "wall clock")); the program was stopped"
        case .cpuLimit: return "coderunner: CPU time limit exceeded; the program was stopped"
        case .memoryLimit: return "coderunner: memory limit exceeded (\(message ?? "")); the program was killed (raise it with --memory)"
        case .outputLimit:
            return "coderunner: output limit exceeded (\(message ?? "")); the program was stopped and the output cut (raise it with --output-limit)"
        case .stopped: return "coderunner: stopped"
        case .internalError: return "coderunner: \(message ?? "internal error")"
        }
    }
}

/// A result with the program's output: what `run --json` prints and `POST /api/run` answers, so both stay the same.
public struct RunReport: Encodable, Sendable {
    public var result: RunResult
    public var stdout: String
    public var stderr: String

    public init(result: RunResult, stdout: [UInt8], stderr: [UInt8]) {
        self.result = result
        self.stdout = String(decoding: stdout, as: UTF8.self)
        self.stderr = String(decoding: stderr, as: UTF8.self)
    }

    public func encode(to encoder: any Encoder) throws {
        try result.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(stdout, forKey: .stdout)
        try container.encode(stderr, forKey: .stderr)
    }

    enum Key: String, CodingKey { case stdout, stderr }
}

public enum SignalNames {
    public static let sigxcpu: Int32 = 24
    static let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS",
    ]
    public static func name(of signal: Int32) -> String { names[signal] ?? "signal \(signal)" }
}
