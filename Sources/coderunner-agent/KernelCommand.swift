// Over 400 lines on purpose: one single-threaded poll() loop and the private state it owns (the driver, its pipes, the
// cell queue, the limits), read top to bottom; split, that state would have to be shared across files.

import AgentProtocol
import Glibc

/// `coderunner-agent kernel`: hosts one persistent interpreter (a "kernel driver") for the engine, driven cell by cell
/// through `docker exec` (stdin/stdout attached, framed AgentProtocol messages). The drivers are in
/// `runtimes/<language>/kernel/`; this is their protocol.
///
/// The driver gets fd 0 = commands (`EXEC <cell> <n>\n` + code; between cells, if its READY said `complete`,
/// `COMPLETE <request> <n>\n` + the line before the cursor), fd 1/2 = the cells' stdout/stderr, fd 3 = events
/// (`READY [complete]`, `DONE <cell> ok|error`, `DISPLAY <cell> <mime> <n>` + bytes, `COMPLETIONS <request> <n>` +
/// names one per line). The agent gives the driver one cell at a
/// time, so every byte read between two DONEs belongs to exactly one cell and the per-cell output limit is exact.
/// Every `execute` is answered by exactly one `cellFinished` (cells lost to a restart or a dead kernel finish with
/// ok == false). Single-threaded, one poll() loop, like `run`.
final class KernelCommand {
    private let state = StateDirectory.standard()
    private var engine = EngineLink()
    private var request: AgentKernelRequest!
    private var stopRequested = false
    private var protocolFailure: String?
    private var signalPipeRead: Int32 = -1

    /// Cells the engine sent that the driver has not been given yet.
    private var queued: [(cell: UInt32, code: [UInt8])] = []
    private var driver: Driver?
    private var running: RunningCell?
    /// Output written while no cell runs (driver start-up, background threads) is capped by the same limit.
    private var idleOutputUsed: UInt64 = 0
    /// The running cell's stdin (nil: cells read /dev/null, as when /tmp is full).
    private var cellStdin: CellStdin?
    /// How often a cell's stdin is checked for having been read while input waits for it.
    private static let stdinPollMicroseconds: UInt64 = 5_000

    /// How long a cell that passed the output limit may take to honour the SIGINT before the kernel is killed.
    private static let limitGraceMicroseconds: UInt64 = 2_000_000
    /// An event line longer than this is not from a well-behaved driver.
    private static let maxEventLine = 4096

    /// One live driver process and the agent's ends of its pipes.
    struct Driver {
        var pid: pid_t
        var commandFD: Int32
        var outFD: Int32
        var errFD: Int32
        var eventFD: Int32
        var events: [UInt8] = []
        /// Bytes of EXEC commands not yet accepted by the command pipe.
        var pendingCommand: [UInt8] = []
        var ready = false
        /// A `DISPLAY` header was read; its payload is still arriving.
        /// The display record whose payload is being read; `keep` false: the payload is read and dropped as it comes.
        var display: (cell: UInt32, mime: String, count: Int, keep: Bool)?
        /// The driver said `READY complete`: it answers `COMPLETE` commands between cells.
        var completes = false
        /// A `COMPLETIONS` header was read; its payload (names, one per line) is still arriving.
        var completion: (request: UInt32, count: Int)?
        /// The container's OOM-kill counter when the driver started or last finished a cell.
        var oomBaseline: UInt64?
    }

    struct RunningCell {
        var cell: UInt32
        var start: UInt64
        var interrupted = false
        var outputUsed: UInt64 = 0
        var outputLimitExceeded = false
        /// Set when the output limit interrupted the cell: past it the driver is killed.
        var limitDeadline: UInt64?
    }

    func main() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        send(.hello(version: AgentWire.version))

        let first: EngineMessage
        switch SessionStart.begin(state: state, engine: &engine) {
        case .first(let message): first = message
        case .exit(let code): return code
        }
        defer { state.touchActivity() }
        state.recordKernel()

        guard case .startKernel(let request) = first else {
            return fail(
                "agent protocol: the first message of `coderunner-agent kernel` must be startKernel; "
                    + "the engine and agent versions differ")
        }
        self.request = request
        guard let program = request.argv.first, !program.isEmpty else {
            return fail("the runtime has no kernel driver (empty argv); add a \"kernel\" entry to its runtime.json")
        }
        do {
            try Workdir.prepare(workdir: request.workdir, clear: false, files: request.files)
        } catch {
            return fail(error.message)
        }
        signalPipeRead = ChildSignalPipe.install()
        cellStdin = CellStdin.make()
        defer { cellStdin?.remove() }
        do {
            try startDriver()
        } catch {
            return fail(error.message)
        }
        drainDecodedMessages()
        loop()

        let status = killDriver()
        abandonCells(interrupted: true)
        if let protocolFailure { return fail(protocolFailure) }
        if let status {
            let (exitCode, signal) = Posix.decodeWaitStatus(status)
            send(.kernelExited(exitCode: exitCode, signal: signal, memoryLimitExceeded: false))
        }
        return 0
    }

    // MARK: Engine channel

    private func send(_ message: AgentMessage) { engine.send(message) }

    private func fail(_ reason: String) -> Int32 {
        send(.failed(reason))
        return 1
    }

    private func readEngine() {
        guard let received = engine.receive() else { return }
        guard received else {
            stopRequested = true
            return
        }
        drainDecodedMessages()
    }

    /// Applies engine messages in the order they were sent (an `interrupt` after an `execute` hits that cell).
    private func drainDecodedMessages() {
        while protocolFailure == nil && !stopRequested {
            guard let message = engine.nextMessage(failure: &protocolFailure) else {
                if protocolFailure != nil { stopRequested = true }
                return
            }
            switch message {
            case .run, .startKernel:
                protocolFailure = "agent protocol: a second request arrived; start one `coderunner-agent kernel` per kernel"
                stopRequested = true
            case .stdin(let bytes):
                // For the running cell, or one that waits for the driver; typed between cells, input belongs to nobody.
                if running != nil || !queued.isEmpty { cellStdin?.receive(bytes) }
            case .closeStdin:
                if running != nil || !queued.isEmpty { cellStdin?.requestClose() }
            case .endOfRun, .keepalive:
                break  // for runs over the container's main stdio
            case .stop:
                stopRequested = true
            case .execute(let cell, let code):
                state.touchActivity()
                if driver == nil {
                    send(.output(.stderr, Array("coderunner: the kernel is not running; restart it\n".utf8)))
                    send(
                        .cellFinished(
                            AgentCellResult(
                                cell: cell, ok: false, interrupted: false, outputLimitExceeded: false, wallMicroseconds: 0)))
                } else {
                    queued.append((cell, code))
                    startNextCell()
                }
            case .interrupt:
                if var cell = running, let driver {
                    cell.interrupted = true
                    running = cell
                    kill(-driver.pid, SIGINT)
                }
            case .restartKernel:
                restart()
            case .complete(let request, let code):
                // Only between cells: a driver reads commands then, and a running cell must not wait for this.
                if var d = driver, d.ready, d.completes, running == nil, queued.isEmpty, code.count <= 4096 {
                    d.pendingCommand += Array("COMPLETE \(request) \(code.count)\n".utf8) + code
                    driver = d
                    writeCommands()
                } else {
                    send(.completions(request: request, matches: []))
                }
            }
        }
    }

    // MARK: Driver lifecycle

    private func startDriver() throws(SetupError) {
        var environment = RunCommand.stageEnvironment(request.environment)
        if let cellStdin { environment.append("CODERUNNER_CELL_STDIN=\(cellStdin.path)") }
        let pipes = try ProgramSpawn.pipes(4, for: "the kernel")
        let (commandPipe, outPipe, errPipe, eventPipe) = (pipes[0], pipes[1], pipes[2], pipes[3])
        let oomBaseline = CgroupMemory.oomKillCount()
        let pid: pid_t
        do {
            pid = try ProgramSpawn.start(
                request.argv, environment: environment, workdir: request.workdir,
                descriptors: [commandPipe[0], outPipe[1], errPipe[1], eventPipe[1]],
                limits: .init(fileSizeBytes: request.maxFileSizeBytes, openFiles: UInt64(request.maxOpenFiles)), what: "the kernel",
                shownAs: "the kernel \(request.argv.first ?? "")", execFailure: "cannot start")
        } catch {
            for fd in pipes.joined() { close(fd) }
            throw error
        }
        close(commandPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        close(eventPipe[1])
        for fd in [commandPipe[1], outPipe[0], errPipe[0], eventPipe[0]] { Posix.setNonBlocking(fd) }
        driver = Driver(
            pid: pid, commandFD: commandPipe[1], outFD: outPipe[0], errFD: errPipe[0], eventFD: eventPipe[0],
            oomBaseline: oomBaseline)
        // A run beside the kernel (the shell's `:run`) sweeps what it leaves behind: the kernel's session is spared then.
        state.recordKernel(driverSession: pid)
    }

    /// Kills the driver's process group and whatever it left in the container, reaps it and closes its pipes.
    /// Returns its wait status (nil when there was no driver).
    @discardableResult
    private func killDriver() -> Int32? {
        guard let d = driver else { return nil }
        let status = killAndReap(d)
        for fd in [d.commandFD, d.outFD, d.errFD, d.eventFD] where fd >= 0 { close(fd) }
        driver = nil
        return status
    }

    /// Kills the driver's process group and everything of this kernel that its code moved to other process groups of
    /// its session, then reaps the driver; returns its wait status. Called while the driver is at worst a zombie, so
    /// its pid (= group id) cannot have been reused: the group kill cannot hit a stranger.
    private func killAndReap(_ d: Driver) -> Int32 {
        kill(-d.pid, SIGKILL)
        if ProcessSweep.isEnabled() { ProcessSweep.killStrays(protectedSessions: state.serviceSessions()) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(d.pid, &status, 0, &usage) < 0 && errno == EINTR {}
        return status
    }

    /// Finishes the running and queued cells without a DONE (restart, dead kernel, shutdown).
    private func abandonCells(interrupted: Bool) {
        let now = Posix.monotonicMicroseconds()
        if let cell = running {
            let stdinBytesRead = cellStdin?.finish() ?? 0
            send(
                .cellFinished(
                    AgentCellResult(
                        cell: cell.cell, ok: false, interrupted: interrupted || cell.interrupted,
                        outputLimitExceeded: cell.outputLimitExceeded, wallMicroseconds: now - cell.start, stdinBytesRead: stdinBytesRead)))
            running = nil
        }
        cellStdin?.finish()
        for cell in queued {
            send(
                .cellFinished(
                    AgentCellResult(
                        cell: cell.cell, ok: false, interrupted: interrupted, outputLimitExceeded: false, wallMicroseconds: 0)))
        }
        queued.removeAll()
    }

    private func restart() {
        killDriver()
        abandonCells(interrupted: true)
        idleOutputUsed = 0
        do {
            try startDriver()
        } catch {
            send(.output(.stderr, Array("coderunner: \(error.message)\n".utf8)))
            send(.kernelExited(exitCode: nil, signal: nil, memoryLimitExceeded: false))
        }
    }

    /// The driver exited on its own (crash, `os._exit`, OOM kill): report what it left and how it died.
    private func driverDied() {
        guard var d = driver else { return }
        let status = killAndReap(d)  // still a zombie here
        // Every writer is dead: the pipes end in EOF, so read what is left (a last DONE and its output included).
        readEvents(&d, untilEOF: true)
        driver = d
        processEvents()
        if let still = driver {
            drainOutputs(still, untilEOF: true)
            for fd in [still.commandFD, still.outFD, still.errFD, still.eventFD] where fd >= 0 { close(fd) }
        }
        let (exitCode, signal) = Posix.decodeWaitStatus(status)
        let oomAfter = CgroupMemory.oomKillCount()
        let memoryLimitExceeded = signal == SIGKILL && (oomAfter ?? 0) > (d.oomBaseline ?? 0)
        driver = nil
        abandonCells(interrupted: false)
        send(.kernelExited(exitCode: exitCode, signal: signal, memoryLimitExceeded: memoryLimitExceeded))
    }

    // MARK: Cells

    private func startNextCell() {
        guard running == nil, var d = driver, d.ready, !queued.isEmpty else { return }
        let next = queued.removeFirst()
        _ = cellStdin?.openForCell()
        d.pendingCommand += Array("EXEC \(next.cell) \(next.code.count)\n".utf8) + next.code
        driver = d
        running = RunningCell(cell: next.cell, start: Posix.monotonicMicroseconds())
        idleOutputUsed = 0
        writeCommands()
    }

    private func writeCommands() {
        guard var d = driver, !d.pendingCommand.isEmpty, d.commandFD >= 0 else { return }
        let n = d.pendingCommand.withUnsafeBytes { write(d.commandFD, $0.baseAddress!, $0.count) }
        if n > 0 {
            d.pendingCommand.removeSubrange(0..<n)
        } else if n < 0 && errno != EAGAIN && errno != EINTR {
            // The driver closed its command pipe: it is dying; its exit is reported through SIGCHLD.
            d.pendingCommand.removeAll()
            close(d.commandFD)
            d.commandFD = -1
        }
        driver = d
    }

    private func finishCell(_ cell: UInt32, ok: Bool) {
        guard let r = running, r.cell == cell else { return }
        running = nil
        let stdinBytesRead = cellStdin?.finish() ?? 0
        send(
            .cellFinished(
                AgentCellResult(
                    cell: cell, ok: ok && !r.outputLimitExceeded, interrupted: r.interrupted,
                    outputLimitExceeded: r.outputLimitExceeded, wallMicroseconds: Posix.monotonicMicroseconds() - r.start,
                    stdinBytesRead: stdinBytesRead)))
        state.touchActivity()
        if var d = driver {
            // A child the cell started may have been OOM-killed while the driver survived: only later kills count.
            d.oomBaseline = CgroupMemory.oomKillCount()
            driver = d
        }
        startNextCell()
    }

    private func forward(_ stream: AgentStream, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        let limit = request.outputLimitBytes
        guard var cell = running else {
            if limit > 0 && idleOutputUsed >= limit { return }
            let room = limit > 0 ? Int(min(UInt64(bytes.count), limit - idleOutputUsed)) : bytes.count
            idleOutputUsed += UInt64(room)
            send(.output(stream, Array(bytes.prefix(room))))
            return
        }
        guard !cell.outputLimitExceeded else { return }
        if limit > 0 && cell.outputUsed + UInt64(bytes.count) > limit {
            let room = Int(limit - cell.outputUsed)
            if room > 0 { send(.output(stream, Array(bytes.prefix(room)))) }
            cell.outputUsed = limit
            cell.outputLimitExceeded = true
            cell.limitDeadline = Posix.monotonicMicroseconds() + Self.limitGraceMicroseconds
            if let driver { kill(-driver.pid, SIGINT) }
        } else {
            cell.outputUsed += UInt64(bytes.count)
            send(.output(stream, bytes))
        }
        running = cell
    }

    /// Takes `bytes` of display data out of the running cell's output budget. False (the data is dropped) when the
    /// record is not for the running cell or does not fit; not fitting ends the cell like too much output does.
    private func admitDisplay(cell id: UInt32, bytes: Int) -> Bool {
        guard var cell = running, cell.cell == id, !cell.outputLimitExceeded else { return false }
        let limit = request.outputLimitBytes
        if limit > 0 && cell.outputUsed + UInt64(bytes) > limit {
            cell.outputUsed = limit
            cell.outputLimitExceeded = true
            cell.limitDeadline = Posix.monotonicMicroseconds() + Self.limitGraceMicroseconds
            running = cell
            send(
                .output(
                    .stderr,
                    Array(
                        "coderunner: the cell's rich output passed the output limit (\(limit) bytes with its text); the rest was dropped and the cell stopped\n"
                            .utf8)))
            if let driver { kill(-driver.pid, SIGINT) }
            return false
        }
        cell.outputUsed += UInt64(bytes)
        running = cell
        return true
    }

    /// Reads one chunk from an output pipe; closes it on EOF.
    private func readOutput(_ stream: AgentStream) {
        guard var d = driver else { return }
        let fd = stream == .stdout ? d.outFD : d.errFD
        guard fd >= 0, let chunk = Posix.readChunk(fd, max: AgentWire.maxOutputChunkBytes) else { return }
        if chunk.isEmpty {
            close(fd)
            if stream == .stdout { d.outFD = -1 } else { d.errFD = -1 }
            driver = d
        } else {
            forward(stream, chunk)
        }
    }

    /// Reads what the output pipes hold now (the driver flushed before its event), so output keeps its order
    /// relative to DONE and DISPLAY. Bounded, so a background process that never stops writing cannot stall us.
    private func drainOutputs(_ d: Driver, untilEOF: Bool = false) {
        for (fd, stream) in [(d.outFD, AgentStream.stdout), (d.errFD, .stderr)] where fd >= 0 {
            for _ in 0..<(untilEOF ? 4096 : 64) {
                guard let chunk = Posix.readChunk(fd, max: AgentWire.maxOutputChunkBytes) else {
                    if untilEOF {
                        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                        if poll(&p, 1, 100) > 0 { continue }
                    }
                    break
                }
                if chunk.isEmpty { break }
                forward(stream, chunk)
            }
        }
    }

    private func readEvents(_ d: inout Driver, untilEOF: Bool = false) {
        while d.eventFD >= 0 {
            guard let chunk = Posix.readChunk(d.eventFD, max: 65536) else {
                if untilEOF {
                    var p = pollfd(fd: d.eventFD, events: Int16(POLLIN), revents: 0)
                    if poll(&p, 1, 100) > 0 { continue }
                }
                return
            }
            if chunk.isEmpty {
                close(d.eventFD)
                d.eventFD = -1
                return
            }
            d.events += chunk
            if !untilEOF { return }
        }
    }

    /// Acts on every complete event in the buffer.
    private func processEvents() {
        while var d = driver {
            if let completion = d.completion {
                guard d.events.count >= completion.count else { return }
                let names = d.events[0..<completion.count].split(separator: UInt8(ascii: "\n"))
                    .filter { !$0.isEmpty && $0.count <= AgentWire.maxCompletionBytes }.prefix(AgentWire.maxCompletions)
                    .map { String(decoding: $0, as: UTF8.self) }
                d.events.removeSubrange(0..<completion.count)
                d.completion = nil
                driver = d
                send(.completions(request: completion.request, matches: Array(names)))
                continue
            }
            if var display = d.display, !display.keep {
                // A display this cell has no room for: dropped as it arrives, never held.
                let dropped = min(display.count, d.events.count)
                d.events.removeSubrange(0..<dropped)
                display.count -= dropped
                d.display = display.count == 0 ? nil : display
                driver = d
                if display.count > 0 { return }
                continue
            }
            if let display = d.display {
                guard d.events.count >= display.count else { return }
                let data = Array(d.events[0..<display.count])
                d.events.removeSubrange(0..<display.count)
                d.display = nil
                driver = d
                drainOutputs(d)
                if running?.cell == display.cell && running?.outputLimitExceeded != true {
                    send(.display(cell: display.cell, mime: display.mime, data: data))
                }
                continue
            }
            guard let newline = d.events.firstIndex(of: UInt8(ascii: "\n")) else {
                if d.events.count > Self.maxEventLine { d.events.removeAll() }  // garbage, not an event
                driver = d
                return
            }
            let line = String(decoding: d.events[0..<newline], as: UTF8.self)
            d.events.removeSubrange(0...newline)
            let words = line.split(separator: " ")
            driver = d
            switch words.first {
            case "READY":
                d.ready = true
                d.completes = words.contains("complete")
                driver = d
                send(.kernelReady)
                startNextCell()
            case "DONE" where words.count == 3:
                guard let cell = UInt32(words[1]) else { continue }
                drainOutputs(d)
                finishCell(cell, ok: words[2] == "ok")
            case "DISPLAY" where words.count == 4:
                guard let cell = UInt32(words[1]), let count = Int(words[3]), count >= 0 else { continue }
                // Display data counts against the cell's output limit like printed output; what does not fit is never
                // buffered (user code can write these records itself, with any size).
                let keep = count <= AgentWire.maxFrameBytes - 1024 && admitDisplay(cell: cell, bytes: count)
                d.display = (cell, String(words[2]), count, keep)
                driver = d
            case "COMPLETIONS" where words.count == 3:
                // At most what a full answer can hold; anything longer is no driver's answer and is dropped whole.
                guard let request = UInt32(words[1]), let count = Int(words[2]), count >= 0, count <= 1 << 20 else { continue }
                d.completion = (request, count)
                driver = d
            default:
                continue  // unknown events are ignored so drivers can grow
            }
        }
    }

    // MARK: Main loop

    private func loop() {
        while !stopRequested && !engine.isGone && protocolFailure == nil {
            let now = Posix.monotonicMicroseconds()
            if let deadline = running?.limitDeadline, now >= deadline {
                // The cell ignored the interrupt the output limit sent: the kernel cannot take cells any more.
                let status = killDriver()
                abandonCells(interrupted: false)
                let (exitCode, signal) = Posix.decodeWaitStatus(status ?? 0)
                send(.kernelExited(exitCode: exitCode, signal: signal, memoryLimitExceeded: false))
                continue
            }
            var fds: [pollfd] = [
                pollfd(fd: signalPipeRead, events: Int16(POLLIN), revents: 0),
                pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
                pollfd(fd: driver?.outFD ?? -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: driver?.errFD ?? -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: driver?.eventFD ?? -1, events: Int16(POLLIN), revents: 0),
                pollfd(
                    fd: driver?.pendingCommand.isEmpty == false ? driver!.commandFD : -1, events: Int16(POLLOUT), revents: 0),
            ]
            var waitMicros: UInt64 = 1_000_000
            if let deadline = running?.limitDeadline { waitMicros = min(waitMicros, deadline > now ? deadline - now : 0) }
            if cellStdin?.waitsForReader == true { waitMicros = min(waitMicros, Self.stdinPollMicroseconds) }
            let ready = poll(&fds, nfds_t(fds.count), Int32((waitMicros + 999) / 1000))
            if ready < 0 && errno != EINTR { break }

            if fds[0].revents != 0 {
                while Posix.readChunk(signalPipeRead, max: 256)?.isEmpty == false {}
            }
            if fds[2].revents != 0 { readOutput(.stdout) }
            if fds[3].revents != 0 { readOutput(.stderr) }
            if fds[4].revents != 0, var d = driver {
                readEvents(&d)
                driver = d
                processEvents()
            }
            if fds[5].revents != 0 { writeCommands() }
            if fds[1].revents != 0 { readEngine() }
            if running != nil { cellStdin?.pump() }
            if let d = driver, childHasExited(d.pid) { driverDied() }
        }
    }

    /// True once the child has exited; leaves it unreaped (WNOWAIT) so its pid stays reserved.
    private func childHasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 else { return false }
        return info._sifields._kill.si_pid == pid
    }
}
