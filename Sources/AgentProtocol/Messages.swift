// The messages exchanged between the engine and `coderunner-agent` over the agent's stdin/stdout.
// This module imports only the Swift standard library so the agent can stay a small static binary.

/// Which of the program's output streams a chunk came from.
public enum AgentStream: UInt8, Sendable {
    case stdout = 1
    case stderr = 2
}

/// A file the agent writes into the work directory before the first stage.
public struct AgentFile: Sendable, Equatable {
    /// Relative path inside the work directory (validated again by the agent).
    public var path: String
    public var contents: [UInt8]
    /// Mode 0755 when true, else 0644.
    public var executable: Bool

    public init(path: String, contents: [UInt8], executable: Bool) {
        self.path = path
        self.contents = contents
        self.executable = executable
    }
}

/// One program invocation of a run (a compile step or the program itself).
public struct AgentStage: Sendable, Equatable {
    /// "compile" or "run"; echoed back in `stageStarted` and the result.
    public var name: String
    /// argv[0] is looked up in the PATH of the run's `environment`; the working directory is the run's workdir.
    public var argv: [String]
    /// Wall-clock limit in milliseconds, 0 = none.
    public var timeoutMilliseconds: UInt64
    /// RLIMIT_CPU in seconds (soft; hard = soft + 1), 0 = none.
    public var cpuSeconds: UInt32
    /// When false the stage's stdin is /dev/null and engine stdin stays buffered for a later stage.
    public var takesStdin: Bool

    public init(name: String, argv: [String], timeoutMilliseconds: UInt64, cpuSeconds: UInt32, takesStdin: Bool) {
        self.name = name
        self.argv = argv
        self.timeoutMilliseconds = timeoutMilliseconds
        self.cpuSeconds = cpuSeconds
        self.takesStdin = takesStdin
    }
}

/// Everything the agent needs for one run; sent once, as the first engine message.
public struct AgentRunRequest: Sendable, Equatable {
    /// Absolute work directory, e.g. "/app".
    public var workdir: String
    /// Delete everything inside `workdir` before writing files (--fresh).
    public var clearWorkdir: Bool
    /// Relative paths; written before the first stage, parent directories created.
    public var files: [AgentFile]
    /// "K=V" entries: the complete environment of every stage.
    public var environment: [String]
    /// Run in order; the run stops after the first stage that does not exit 0.
    public var stages: [AgentStage]
    /// Total stdout+stderr bytes over all stages; beyond it the stage is killed (`outputLimitExceeded`).
    public var outputLimitBytes: UInt64
    /// RLIMIT_FSIZE for the stages, 0 = unlimited.
    public var maxFileSizeBytes: UInt64
    /// RLIMIT_NOFILE for the stages, 0 = leave as is.
    public var maxOpenFiles: UInt32

    public init(
        workdir: String, clearWorkdir: Bool, files: [AgentFile], environment: [String], stages: [AgentStage],
        outputLimitBytes: UInt64, maxFileSizeBytes: UInt64, maxOpenFiles: UInt32
    ) {
        self.workdir = workdir
        self.clearWorkdir = clearWorkdir
        self.files = files
        self.environment = environment
        self.stages = stages
        self.outputLimitBytes = outputLimitBytes
        self.maxFileSizeBytes = maxFileSizeBytes
        self.maxOpenFiles = maxOpenFiles
    }
}

/// Engine -> agent (the agent's stdin).
public enum EngineMessage: Sendable, Equatable {
    /// The first message, exactly once.
    case run(AgentRunRequest)
    /// Bytes for the running stage's stdin; buffered until a stage that takes stdin runs.
    case stdin([UInt8])
    /// EOF on the program's stdin (after pending bytes are written).
    case closeStdin
    /// Kill the running stage's process tree now; its result has `stopped == true`.
    /// In `kernel` mode: shut the kernel down (kill its process group, send `kernelExited`, exit 0).
    case stop
    /// The first message of `coderunner-agent kernel`, exactly once.
    case startKernel(AgentKernelRequest)
    /// Run one cell. `cell` is the engine's number for it, echoed in `display` and `cellFinished`.
    case execute(cell: UInt32, code: [UInt8])
    /// SIGINT to the kernel's process group: the running cell ends with an error, the kernel survives.
    case interrupt
    /// Kill the kernel's process group and start it again (state is lost); answered by `kernelReady`.
    case restartKernel
    /// The engine's last message of a run over the container's main stdio (`idle --stdio`), sent after the agent's
    /// `finished`, `failed` or `busy`: everything before it belonged to that run, so the agent discards what the run
    /// left unread up to here and the next run's request starts on a clean frame boundary.
    case endOfRun
    /// Sent every `AgentWire.keepaliveInterval` during a run over the container's main stdio: an engine that is gone
    /// closes nothing there (other runs share that stdin), so an agent that hears nothing for
    /// `AgentWire.engineSilenceLimit` stops the program, as it does over an exec when its stdin closes.
    case keepalive
    /// Names that could complete the end of `code` (the line up to the cursor), from the kernel's live state; answered
    /// by `completions` with the same `request`, at once and empty while a cell runs or when the driver cannot.
    case complete(request: UInt32, code: [UInt8])
}

/// Everything the agent needs to host a kernel (a persistent interpreter driven cell by cell).
public struct AgentKernelRequest: Sendable, Equatable {
    /// The kernel driver, e.g. ["python3", "/usr/local/lib/coderunner/kernel/python_kernel.py"]; argv[0] is looked up in
    /// the PATH of the resulting environment.
    public var argv: [String]
    /// "K=V" entries overlaid on the agent's inherited environment (the image's ENV), like run stages.
    public var environment: [String]
    /// Absolute working directory of the driver, e.g. "/app".
    public var workdir: String
    /// Written into `workdir` before the driver starts (may be empty).
    public var files: [AgentFile]
    /// stdout+stderr bytes per cell, 0 = none; beyond it the cell is interrupted, its output cut and it finishes
    /// with `outputLimitExceeded`.
    public var outputLimitBytes: UInt64
    /// RLIMIT_FSIZE for the driver, 0 = unlimited.
    public var maxFileSizeBytes: UInt64
    /// RLIMIT_NOFILE for the driver, 0 = leave as is.
    public var maxOpenFiles: UInt32

    public init(
        argv: [String], environment: [String], workdir: String, files: [AgentFile], outputLimitBytes: UInt64,
        maxFileSizeBytes: UInt64, maxOpenFiles: UInt32
    ) {
        self.argv = argv
        self.environment = environment
        self.workdir = workdir
        self.files = files
        self.outputLimitBytes = outputLimitBytes
        self.maxFileSizeBytes = maxFileSizeBytes
        self.maxOpenFiles = maxOpenFiles
    }
}

/// How one kernel cell ended.
public struct AgentCellResult: Sendable, Equatable {
    public var cell: UInt32
    /// False when the cell raised or had an error (the traceback is already on stderr), or was interrupted or cut.
    public var ok: Bool
    /// An `interrupt` arrived while this cell ran.
    public var interrupted: Bool
    /// The cell's output passed `outputLimitBytes`: it was interrupted and its output cut.
    public var outputLimitExceeded: Bool
    /// From sending the cell to the driver until its DONE.
    public var wallMicroseconds: UInt64
    /// How many bytes of the engine's `stdin` for this cell its code read; the rest was discarded (the shell's piped
    /// mode goes on with the unread part of its stream).
    public var stdinBytesRead: UInt64

    public init(cell: UInt32, ok: Bool, interrupted: Bool, outputLimitExceeded: Bool, wallMicroseconds: UInt64, stdinBytesRead: UInt64 = 0) {
        self.cell = cell
        self.ok = ok
        self.interrupted = interrupted
        self.outputLimitExceeded = outputLimitExceeded
        self.wallMicroseconds = wallMicroseconds
        self.stdinBytesRead = stdinBytesRead
    }
}

/// How one stage ended, with its resource usage.
public struct AgentStageResult: Sendable, Equatable {
    public var name: String
    /// nil when the stage was killed by a signal.
    public var exitCode: Int32?
    /// The terminating signal, if any.
    public var signal: Int32?
    public var wallMicroseconds: UInt64
    /// From the wait4 rusage of the stage's child (includes descendants it waited for).
    public var userCPUMicroseconds: UInt64
    public var systemCPUMicroseconds: UInt64
    /// ru_maxrss of the child, in KiB.
    public var maxResidentKiB: UInt64
    public var timedOut: Bool
    /// SIGXCPU, or the RLIMIT_CPU hard-limit SIGKILL.
    public var cpuLimitExceeded: Bool
    public var outputLimitExceeded: Bool
    /// The cgroup's OOM-kill counter went up during the stage and the child died of it.
    public var memoryLimitExceeded: Bool
    /// `.stop` received, or the engine went away.
    public var stopped: Bool

    public init(
        name: String, exitCode: Int32?, signal: Int32?, wallMicroseconds: UInt64, userCPUMicroseconds: UInt64,
        systemCPUMicroseconds: UInt64, maxResidentKiB: UInt64, timedOut: Bool, cpuLimitExceeded: Bool,
        outputLimitExceeded: Bool, memoryLimitExceeded: Bool, stopped: Bool
    ) {
        self.name = name
        self.exitCode = exitCode
        self.signal = signal
        self.wallMicroseconds = wallMicroseconds
        self.userCPUMicroseconds = userCPUMicroseconds
        self.systemCPUMicroseconds = systemCPUMicroseconds
        self.maxResidentKiB = maxResidentKiB
        self.timedOut = timedOut
        self.cpuLimitExceeded = cpuLimitExceeded
        self.outputLimitExceeded = outputLimitExceeded
        self.memoryLimitExceeded = memoryLimitExceeded
        self.stopped = stopped
    }

    /// True when the stage exited 0 with no limit hit and no stop: the next stage may run.
    public var succeeded: Bool {
        exitCode == 0 && signal == nil && !timedOut && !cpuLimitExceeded && !outputLimitExceeded
            && !memoryLimitExceeded && !stopped
    }
}

/// Agent -> engine (the agent's stdout).
public enum AgentMessage: Sendable, Equatable {
    /// Sent at once when `run` starts, before the request is read, so the engine can check the protocol version.
    case hello(version: String)
    /// Another run holds this container; the agent exits 75 right after.
    case busy
    case stageStarted(String)
    /// Program output in the order it was read; chunks are at most 64 KiB.
    case output(AgentStream, [UInt8])
    case stageFinished(AgentStageResult)
    /// Setup failed (bad path, disk full, protocol error, ...): the last message.
    case failed(String)
    /// All stages done: the last message.
    case finished
    /// The kernel driver can take cells (after start or restart).
    case kernelReady
    /// Rich output of a cell, e.g. mime "image/png" with the PNG bytes of a matplotlib figure.
    case display(cell: UInt32, mime: String, data: [UInt8])
    /// A cell ended; all its `output` and `display` messages came before this.
    case cellFinished(AgentCellResult)
    /// The kernel driver died (OOM kill, os._exit, crash) or was shut down by `stop`; the engine may `restartKernel`.
    /// `memoryLimitExceeded`: it died of SIGKILL while the container's OOM-kill counter went up.
    case kernelExited(exitCode: Int32?, signal: Int32?, memoryLimitExceeded: Bool)
    /// This many more bytes of engine `stdin` were written to the program (or dropped because it closed its stdin, or
    /// because the stage that could read them is over): the engine may send that much more (`AgentWire.stdinWindowBytes`).
    case stdinConsumed(UInt64)
    /// After an attached run: the agent read the engine's `endOfRun`, so nothing of this run is left in the container's
    /// stdin. Only then may the engine let another run claim the container (whose request, sent over another
    /// attachment, could otherwise overtake this run's last frames).
    case runClosed
    /// The answer to `complete`: candidate names, each a replacement for the word before the cursor (at most
    /// `AgentWire.maxCompletions`, each at most `AgentWire.maxCompletionBytes`).
    case completions(request: UInt32, matches: [String])
}
