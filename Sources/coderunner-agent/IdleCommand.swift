import AgentProtocol
import Glibc

/// `coderunner-agent idle --ttl SECONDS [--unused-ttl SECONDS] [--stdio [--once]] [--service PROGRAM [ARGS...]]`: PID 1
/// of every container.
/// Reaps orphans, optionally starts one service, and exits (so Docker removes the container) once
/// no run is in progress and the last activity is older than the TTL, even when no engine is alive.
///
/// With `--stdio` it also serves runs that arrive on its own stdin (the engine attaches to the container, so no
/// `docker exec` and no process start are needed): when a request comes, a child of PID 1 runs it exactly as
/// `coderunner-agent run` would, over PID 1's stdin and stdout, and the next request waits until it has ended. Only one
/// engine holds the container's stdin at a time (it claims the container first), and every run ends with the engine's
/// `endOfRun`, so each request starts on a clean frame and no run sees what was sent to another. With `--once` (a
/// one-shot run's container) it exits when that first run has ended. With `--unused-ttl`, the limit before the first
/// run is that one instead (`serve`'s standbys wait longer for their connection than a used container waits for its
/// next run).
enum IdleCommand {
    static func main(_ arguments: ArraySlice<String>) -> Int32 {
        var ttl: Int?
        var unusedTTL: Int?
        var service: [String] = []
        var servesStdio = false
        var once = false
        var args = arguments
        while let arg = args.popFirst() {
            switch arg {
            case "--stdio":
                servesStdio = true
            case "--once":
                once = true
            case "--ttl":
                guard let value = args.popFirst(), let seconds = Int(value), seconds >= 0 else {
                    return usage("--ttl needs a whole number of seconds")
                }
                ttl = seconds
            case "--unused-ttl":
                guard let value = args.popFirst(), let seconds = Int(value), seconds >= 0 else {
                    return usage("--unused-ttl needs a whole number of seconds")
                }
                unusedTTL = seconds
            case "--service":
                service = Array(args)
                args = []
                if service.isEmpty { return usage("--service needs a program") }
            default:
                return usage("unknown argument \(arg)")
            }
        }
        guard let ttl else { return usage("--ttl SECONDS is required") }

        let state = StateDirectory.standard()
        if let code = state.ensure() {
            Posix.writeAll(
                2,
                "coderunner-agent: cannot create \(state.path): \(Posix.errorString(code)); is /run/coderunner a tmpfs (containers made by an older coderunner lack it)?\n"
            )
            return 1
        }
        // What `pool` shows as the time left: the limit that applies now (the longer one until the first run).
        state.recordTTL(unusedTTL ?? ttl)
        state.touchActivity()
        let started = Posix.wallSeconds()

        // The signals we care about become bytes on a pipe (the handler only writes), so one poll() waits for signals
        // and the engine's requests, with one wake-up per second at most while idle. (PID 1 gets no signal it has no
        // handler for.)
        let signalFD = PIDOneSignalPipe.install(PIDOneSignalPipe.handled)
        guard signalFD >= 0 else {
            Posix.writeAll(2, "coderunner-agent: cannot make the signal pipe: \(Posix.errorString(errno))\n")
            return 1
        }

        if !service.isEmpty { startService(service, state: state) }

        var stdioUsable = servesStdio
        var runner: pid_t = 0  // the child serving a run from stdin, 0 when none
        var used = false  // a run has come (over stdin, or through an exec that touched the activity file)
        var recordedUsedTTL = false
        while true {
            let watchesStdin = stdioUsable && runner == 0
            var fds = [
                pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: watchesStdin ? 0 : -1, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 1000)
            var received: [UInt8] = Array(repeating: 0, count: 64)
            while read(signalFD, &received, received.count) > 0 {
                if received.contains(where: { Int32($0) == SIGTERM || Int32($0) == SIGINT || Int32($0) == SIGHUP }) { return 0 }
            }
            for (pid, status) in reapAll() where pid == runner {
                runner = 0
                let code = Posix.decodeWaitStatus(status).exitCode
                if code == nil {
                    // The run's supervisor was killed (the OOM killer, a crash): its program must not go on unsupervised,
                    // and the engine must not wait for a result that cannot come.
                    if ProcessSweep.isEnabled() { ProcessSweep.killStrays(protectedSessions: state.serviceSessions()) }
                    _ = Posix.writeAll(
                        1,
                        AgentWire.encode(
                            AgentMessage.failed(
                                "the run's supervisor in the container was killed (signal \(Posix.decodeWaitStatus(status).signal ?? 0)); the program was stopped"
                            )))
                }
                // A container made for one run ends with it (Docker then removes it): nothing waits for the TTL.
                if once { return 0 }
                // The run could not leave the channel clean (or was killed): no further run is taken from it.
                if code == nil || code == RunCommand.channelUnusable { stdioUsable = false }
            }
            if watchesStdin, fds[1].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                runner = serveRun(signalFD: signalFD)
                used = true
                if runner < 0 {
                    runner = 0
                    stdioUsable = false
                }
                continue
            }
            if runner != 0 || state.isBusy() { continue }
            let last = max(state.lastActivity() ?? started, started)
            if last > started { used = true }
            if used, unusedTTL != nil, !recordedUsedTTL {
                state.recordTTL(ttl)
                recordedUsedTTL = true
            }
            if Posix.wallSeconds() - last >= (used ? ttl : unusedTTL ?? ttl) { return 0 }
        }
    }

    /// Starts a child that runs the request waiting on stdin (`RunCommand` in attached mode); returns its pid, -1 on failure.
    static func serveRun(signalFD: Int32) -> pid_t {
        let pid = fork()
        if pid == 0 {
            PIDOneSignalPipe.uninstall()
            close(signalFD)
            _exit(RunCommand(attached: true).main())
        }
        if pid < 0 { Posix.writeAll(2, "coderunner-agent: cannot start a run: \(Posix.errorString(errno))\n") }
        return pid
    }

    /// Reaps every exited child (orphans included); returns the pids and wait statuses.
    @discardableResult
    static func reapAll() -> [(pid_t, Int32)] {
        var reaped: [(pid_t, Int32)] = []
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { return reaped }
            reaped.append((pid, status))
        }
    }

    /// Starts the service in its own session (so `run` can tell it apart) with output to service.log.
    static func startService(_ argv: [String], state: StateDirectory) {
        let cArgs = argv.map { strdup($0) } + [nil]
        let logPath = state.serviceLogPath
        let pid = fork()
        if pid == 0 {
            var none = sigset_t()
            sigemptyset(&none)
            sigprocmask(SIG_SETMASK, &none, nil)
            setsid()
            let devnull = open("/dev/null", O_RDONLY)
            if devnull >= 0 { dup2(devnull, 0) }
            let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            if log >= 0 {
                dup2(log, 1)
                dup2(log, 2)
            }
            ProgramUser.becomeOrExit("the service \(argv[0])")
            execvp(cArgs[0]!, cArgs)
            Posix.writeAll(2, "coderunner-agent: cannot start service \(argv[0]): \(Posix.errorString(errno))\n")
            _exit(127)
        }
        if pid < 0 {
            Posix.writeAll(2, "coderunner-agent: cannot start service \(argv[0]): \(Posix.errorString(errno))\n")
            return
        }
        // After setsid the child is its session's leader, so its pid is the session id.
        state.recordService(session: pid)
    }

    static func usage(_ problem: String) -> Int32 {
        Posix.writeAll(
            2,
            "coderunner-agent idle: \(problem)\nusage: coderunner-agent idle --ttl SECONDS [--unused-ttl SECONDS] [--stdio [--once]] [--service PROGRAM [ARGS...]]\n"
        )
        return 64
    }
}

/// `coderunner-agent status`: one line for `coderunner pool`.
enum StatusCommand {
    static func main() -> Int32 {
        let state = StateDirectory.standard()
        let busy = state.isBusy()
        let now = Posix.wallSeconds()
        let idle = busy ? 0 : max(0, now - (state.lastActivity() ?? now))
        Posix.writeAll(1, "busy=\(busy ? 1 : 0) idle_seconds=\(idle) ttl=\(state.ttl() ?? 0)\n")
        return 0
    }
}

/// Write end of PID 1's signal pipe. Set once before any handler runs; the handler only reads it.
nonisolated(unsafe) var pidOneSignalWriteFD: Int32 = -1

/// PID 1's signals as bytes (the signal number) on a non-blocking pipe.
enum PIDOneSignalPipe {
    static let handled: [Int32] = [SIGCHLD, SIGTERM, SIGINT, SIGHUP]

    /// Installs the handlers; returns the read end, -1 on failure.
    static func install(_ signals: [Int32]) -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard Posix.makePipe(&fds, nonBlocking: true) else { return -1 }
        pidOneSignalWriteFD = fds[1]
        for sig in signals {
            signal(sig) { number in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(pidOneSignalWriteFD, &byte, 1)
                errno = saved
            }
        }
        return fds[0]
    }

    /// In a child of PID 1: default handlers again and the pipe closed (the child's own loop installs what it needs).
    static func uninstall() {
        for sig in handled { signal(sig, SIG_DFL) }
        close(pidOneSignalWriteFD)
    }
}
