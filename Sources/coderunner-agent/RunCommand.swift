// Over 400 lines on purpose: one single-threaded poll() loop and the private state it owns (the engine channel, the
// stage's pipes, its limits), read top to bottom; split, that state would have to be shared across files.

import AgentProtocol
import Glibc

/// `coderunner-agent run`: one run, driven by the engine through `docker exec` (stdin attached), or, `attached`, one
/// run that PID 1 (`idle --stdio`) started for a request that arrived on the container's own stdin (Docker attach).
/// Single-threaded: one poll() loop multiplexes the engine's messages, the program's output pipes,
/// the program's stdin pipe and child exit, so there is nothing to synchronise.
final class RunCommand {
    /// Exit status of an attached run after which the container's stdin cannot carry another run (the engine never
    /// sent `endOfRun`, or sent bad frames): PID 1 stops serving it.
    static let channelUnusable: Int32 = 70
    /// How long an attached run waits, after its end, for the engine's `endOfRun`.
    static let endOfRunWait: Int32 = 10_000

    /// Serving PID 1's stdin (shared by every run in the container) rather than an exec's own.
    private let attached: Bool
    private var endOfRunSeen = false
    /// When the engine last sent anything; attached, a long silence means it is gone (`AgentWire.engineSilenceLimit`).
    private var lastHeardFromEngine = Posix.monotonicMicroseconds()

    /// `run --beside-kernel`: the shell's `:run` in its kernel's container (see `SessionStart.begin`).
    private let besideKernel: Bool

    init(attached: Bool = false, besideKernel: Bool = false) {
        self.attached = attached
        self.besideKernel = besideKernel
    }

    /// Bytes the engine sent for program stdin that no stage has consumed yet.
    private var stdinPending: [UInt8] = []
    /// The engine sent `closeStdin`: close the program's stdin once `stdinPending` is written.
    private var stdinCloseRequested = false
    private var stopRequested = false
    private var protocolFailure: String?
    private var engine = EngineLink()
    private var outputUsed: UInt64 = 0
    private var request: AgentRunRequest!
    private let state = StateDirectory.standard()

    func main() -> Int32 {
        let code = serve()
        guard attached, code != Self.channelUnusable else { return code }
        return awaitEndOfRun() ? code : Self.channelUnusable
    }

    /// After an attached run: discards what the engine sent for it that nobody read (late stdin, a stop), up to its
    /// `endOfRun`, so nothing of this run reaches the next one and the next request starts on a frame boundary.
    private func awaitEndOfRun() -> Bool {
        guard readEndOfRun() else { return false }
        engine.isGone = false  // the acknowledgement goes out even after a silence: the engine is back to read it
        send(.runClosed)
        return true
    }

    private func readEndOfRun() -> Bool {
        if endOfRunSeen { return true }
        var waited: Int32 = 0
        while true {
            do {
                while let message = try engine.decoder.next() {
                    if case .endOfRun = message { return true }
                    waited = 0  // the engine is there (a keepalive, late input): it sends endOfRun after them
                }
            } catch {
                return false
            }
            guard waited < Self.endOfRunWait else { return false }
            var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let started = Posix.monotonicMicroseconds()
            guard poll(&p, 1, Self.endOfRunWait - waited) > 0 else { return false }
            waited += Int32(clamping: (Posix.monotonicMicroseconds() - started) / 1000)
            guard let chunk = Posix.readChunk(0, max: 65536) else { continue }
            if chunk.isEmpty { return false }
            engine.decoder.append(chunk)
        }
    }

    private func serve() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        send(.hello(version: AgentWire.version))

        let first: EngineMessage
        // Attached, the request may never finish arriving (its sender killed mid-frame, and a shared stdin never ends):
        // a silence as long as the keepalive limit ends the wait, and the channel is not used again.
        let silence = attached ? Int32(AgentWire.engineSilenceLimit.components.seconds * 1000) : nil
        switch SessionStart.begin(
            state: state, engine: &engine, besideKernel: besideKernel,
            silenceLimitMilliseconds: silence, silenceExit: Self.channelUnusable)
        {
        case .first(let message): first = message
        case .exit(let code): return code
        }
        defer { state.touchActivity() }
        lastHeardFromEngine = Posix.monotonicMicroseconds()

        guard case .run(let request) = first else {
            return fail("agent protocol: the first message must be the run request; the engine and agent versions differ")
        }
        self.request = request
        drainDecodedMessages()

        do {
            try Workdir.prepare(request)
        } catch {
            return fail(error.message)
        }

        installChildSignalPipe()
        for stage in request.stages {
            pollEngine(timeoutMilliseconds: 0)
            if engine.isGone { return 0 }
            if let protocolFailure { return fail(protocolFailure) }
            if stopRequested { break }
            let result: AgentStageResult
            do {
                result = try runStage(stage)
            } catch {
                return fail(error.message)
            }
            if engine.isGone { return 0 }
            send(.stageFinished(result))
            if let protocolFailure { return fail(protocolFailure) }
            if !result.succeeded { break }
        }
        send(.finished)
        return 0
    }

    // MARK: Engine channel

    private func send(_ message: AgentMessage) { engine.send(message) }

    private func fail(_ reason: String) -> Int32 {
        send(.failed(reason))
        return 1
    }

    /// Reads what the engine sent (if anything within the timeout) and applies it.
    private func pollEngine(timeoutMilliseconds: Int32) {
        guard !engine.isGone else { return }
        var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMilliseconds) > 0 else { return }
        readEngine()
    }

    private func readEngine() {
        guard let received = engine.receive() else { return }
        lastHeardFromEngine = Posix.monotonicMicroseconds()
        guard received else {
            stopRequested = true
            return
        }
        drainDecodedMessages()
    }

    private func drainDecodedMessages() {
        while protocolFailure == nil {
            guard let message = engine.nextMessage(failure: &protocolFailure) else {
                if protocolFailure != nil { stopRequested = true }
                return
            }
            switch message {
            case .run:
                protocolFailure = "agent protocol: a second run request arrived; start one `coderunner-agent run` per run"
                stopRequested = true
            case .startKernel, .execute, .interrupt, .restartKernel, .complete:
                protocolFailure = "agent protocol: kernel messages go to `coderunner-agent kernel`, not `run`"
                stopRequested = true
            case .stdin(let bytes):
                stdinPending.append(contentsOf: bytes)
                if stdinPending.count > AgentWire.stdinWindowBytes + AgentWire.maxStdinChunkBytes {
                    protocolFailure = "agent protocol: the engine sent more stdin than the window of \(AgentWire.stdinWindowBytes) bytes allows"
                    stopRequested = true
                }
            case .closeStdin:
                stdinCloseRequested = true
            case .stop:
                stopRequested = true
            case .endOfRun:
                // The engine is done with this run before its end (it gave up on it): stop it.
                endOfRunSeen = true
                stopRequested = true
            case .keepalive:
                break  // its arrival is what counts (`lastHeardFromEngine`)
            }
        }
    }

    /// Gives the engine credit back for stdin bytes that left `stdinPending` (written to the program or dropped).
    private func acknowledgeStdin(_ count: Int) {
        if count > 0 { send(.stdinConsumed(UInt64(count))) }
    }

    /// Drops what is pending for stdin (nobody will read it) and gives the credit back.
    private func dropPendingStdin() {
        let count = stdinPending.count
        stdinPending.removeAll()
        acknowledgeStdin(count)
    }

    // MARK: Stages

    private func installChildSignalPipe() {
        signalPipeRead = ChildSignalPipe.install()
    }

    private var signalPipeRead: Int32 = -1

    /// The image's own environment (Dockerfile ENV: JAVA_TOOL_OPTIONS, MPLCONFIGDIR, ...), which `docker exec` gave this
    /// agent, overlaid with the request's entries (the request wins). The agent's own settings are not passed on.
    static func stageEnvironment(_ requested: [String]) -> [String] {
        func key(_ entry: String) -> Substring { entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] }
        let overridden = Set(requested.map(key))
        var inherited: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(decoding: UnsafeRawBufferPointer(start: entry, count: strlen(entry)), as: UTF8.self)
            let name = key(text)
            if !overridden.contains(name), !name.hasPrefix("CODERUNNER_AGENT_"), name != "HOSTNAME" { inherited.append(text) }
            pointer += 1
        }
        return inherited + requested
    }

    private func runStage(_ stage: AgentStage) throws(SetupError) -> AgentStageResult {
        let what = "stage \(stage.name)"
        let pipes = try ProgramSpawn.pipes(stage.takesStdin ? 3 : 2, for: what)
        let (outPipe, errPipe) = (pipes[0], pipes[1])
        let inPipe = stage.takesStdin ? pipes[2] : [-1, -1]
        let limits = ProgramSpawn.Limits(
            cpuSeconds: UInt64(stage.cpuSeconds), fileSizeBytes: request.maxFileSizeBytes, openFiles: UInt64(request.maxOpenFiles))
        let oomBefore = CgroupMemory.oomKillCount()
        let start = Posix.monotonicMicroseconds()
        let pid: pid_t
        do {
            pid = try ProgramSpawn.start(
                stage.argv, environment: Self.stageEnvironment(request.environment), workdir: request.workdir,
                descriptors: [inPipe[0], outPipe[1], errPipe[1]], limits: limits, what: what, shownAs: stage.argv.first ?? "",
                execFailure: "cannot run")
        } catch {
            for fd in pipes.joined() { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        if stage.takesStdin { close(inPipe[0]) }
        send(.stageStarted(stage.name))

        var outFD = outPipe[0]
        var errFD = errPipe[0]
        var inFD = stage.takesStdin ? inPipe[1] : -1
        Posix.setNonBlocking(outFD)
        Posix.setNonBlocking(errFD)
        if inFD >= 0 { Posix.setNonBlocking(inFD) }

        var killedByUs = false
        var timedOut = false
        var outputLimitExceeded = false
        var stopped = false
        var childDone = false
        var status: Int32 = 0
        var usage = rusage()
        var end = start
        var drainDeadline: UInt64 = 0
        let deadline: UInt64? = stage.timeoutMilliseconds > 0 ? start + stage.timeoutMilliseconds * 1000 : nil

        func killGroup() {
            if !childDone { kill(-pid, SIGKILL) }
            killedByUs = true
        }

        func closeStdinPipe() {
            if inFD >= 0 {
                close(inFD)
                inFD = -1
            }
        }

        func forward(_ stream: AgentStream, _ bytes: [UInt8]) {
            guard !outputLimitExceeded, !bytes.isEmpty else { return }
            let limit = request.outputLimitBytes
            if limit > 0 && outputUsed + UInt64(bytes.count) > limit {
                let room = Int(limit - outputUsed)
                if room > 0 { send(.output(stream, Array(bytes.prefix(room)))) }
                outputUsed = limit
                outputLimitExceeded = true
                killGroup()
            } else {
                outputUsed += UInt64(bytes.count)
                send(.output(stream, bytes))
            }
        }

        /// Reads one chunk from a program pipe; closes it on EOF.
        func drain(_ fd: inout Int32, _ stream: AgentStream) {
            guard fd >= 0, let chunk = Posix.readChunk(fd, max: AgentWire.maxOutputChunkBytes) else { return }
            if chunk.isEmpty {
                close(fd)
                fd = -1
            } else {
                forward(stream, chunk)
            }
        }

        while true {
            let now = Posix.monotonicMicroseconds()
            if childDone && ((outFD < 0 && errFD < 0) || now >= drainDeadline) { break }

            if !childDone && !killedByUs {
                if stopRequested {
                    stopped = true
                    killGroup()
                } else if let deadline, now >= deadline {
                    timedOut = true
                    killGroup()
                }
            }
            if stage.takesStdin && inFD >= 0 && stdinPending.isEmpty && stdinCloseRequested { closeStdinPipe() }

            var fds: [pollfd] = []
            fds.append(pollfd(fd: childDone ? -1 : signalPipeRead, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: engine.isGone ? -1 : 0, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: stdinPending.isEmpty ? -1 : inFD, events: Int16(POLLOUT), revents: 0))

            // Wake for the wall-clock deadline; otherwise at least once a second as a safety net.
            var waitMicros: UInt64 = 1_000_000
            if childDone {
                waitMicros = drainDeadline > now ? drainDeadline - now : 0
            } else if let deadline, !killedByUs {
                waitMicros = min(waitMicros, deadline > now ? deadline - now : 0)
            }
            let ready = poll(&fds, nfds_t(fds.count), Int32((waitMicros + 999) / 1000))
            if ready < 0 && errno != EINTR { break }

            if fds[0].revents != 0 {
                while Posix.readChunk(signalPipeRead, max: 256)?.isEmpty == false {}
            }
            if !childDone && childHasExited(pid) {
                // The exited child is still a zombie, so its pid (= group id) cannot be reused yet:
                // killing the group and the strays now cannot hit an unrelated process.
                kill(-pid, SIGKILL)
                if ProcessSweep.isEnabled() {
                    var spared = state.serviceSessions()
                    // Beside a kernel, the kernel's driver and what its cells started stay (see StateDirectory.recordKernel).
                    if besideKernel, let driver = state.kernelDriverSession() { spared.insert(driver) }
                    ProcessSweep.killStrays(protectedSessions: spared)
                }
                while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                end = Posix.monotonicMicroseconds()
                childDone = true
                // Everything that could write to the pipes is dead; what is left in them is read until EOF.
                drainDeadline = end + 2_000_000
            }
            if fds[1].revents != 0 {
                readEngine()
            }
            // Judged after reading what is waiting: a write to a slow reader may have blocked us, not the engine.
            if attached, !engine.isGone,
                Posix.monotonicMicroseconds() - lastHeardFromEngine > UInt64(AgentWire.engineSilenceLimit.components.seconds) * 1_000_000
            {
                engine.isGone = true  // nobody sends keepalives any more: the engine is gone, and the program stops
            }
            if fds[2].revents != 0 { drain(&outFD, .stdout) }
            if fds[3].revents != 0 { drain(&errFD, .stderr) }
            if inFD >= 0 && fds[4].revents != 0 {
                let n = stdinPending.withUnsafeBytes { write(inFD, $0.baseAddress!, $0.count) }
                if n > 0 {
                    stdinPending.removeSubrange(0..<n)
                    acknowledgeStdin(n)
                } else if n < 0 && errno != EAGAIN && errno != EINTR {
                    // The program closed its stdin (EPIPE): what it did not read is dropped.
                    dropPendingStdin()
                    closeStdinPipe()
                }
            }
            // Input for a stdin this stage no longer has (closed by the program) is dropped, so the sender is not
            // left waiting for credit.
            if stage.takesStdin && inFD < 0 && !stdinPending.isEmpty { dropPendingStdin() }
            if engine.isGone && !childDone && !killedByUs {
                stopped = true
                killGroup()
            }
        }
        if outFD >= 0 { close(outFD) }
        if errFD >= 0 { close(errFD) }
        closeStdinPipe()
        if stage.takesStdin {
            // Bytes meant for this stage's stdin do not leak into a later one.
            dropPendingStdin()
        }

        let (exitCode, signal) = Posix.decodeWaitStatus(status)
        let userMicros = UInt64(usage.ru_utime.tv_sec) * 1_000_000 + UInt64(usage.ru_utime.tv_usec)
        let systemMicros = UInt64(usage.ru_stime.tv_sec) * 1_000_000 + UInt64(usage.ru_stime.tv_usec)
        let oomAfter = CgroupMemory.oomKillCount()
        // A shell wrapper reports its OOM-killed child as exit code 128+9.
        let diedOfKill = signal == SIGKILL || exitCode == 128 + SIGKILL
        let memoryLimitExceeded = !killedByUs && diedOfKill && (oomAfter ?? 0) > (oomBefore ?? 0)
        let cpuSeconds = limits.cpuSeconds
        let cpuUsed = userMicros + systemMicros >= cpuSeconds * 1_000_000
        let cpuLimitExceeded =
            cpuSeconds > 0 && !memoryLimitExceeded
            && (signal == SIGXCPU || exitCode == 128 + SIGXCPU || (!killedByUs && diedOfKill && cpuUsed))

        return AgentStageResult(
            name: stage.name, exitCode: exitCode, signal: signal, wallMicroseconds: end - start,
            userCPUMicroseconds: userMicros, systemCPUMicroseconds: systemMicros,
            maxResidentKiB: UInt64(max(usage.ru_maxrss, 0)), timedOut: timedOut, cpuLimitExceeded: cpuLimitExceeded,
            outputLimitExceeded: outputLimitExceeded, memoryLimitExceeded: memoryLimitExceeded, stopped: stopped)
    }

    /// True once the child has exited; leaves it unreaped (WNOWAIT) so its pid stays reserved.
    private func childHasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return false }
        return info._sifields._kill.si_pid == pid
    }
}
