import Glibc

/// `coderunner-agent idle --ttl SECONDS [--service PROGRAM [ARGS...]]`: PID 1 of every container.
/// Reaps orphans, optionally starts one service, and exits (so Docker removes the container) once
/// no run is in progress and the last activity is older than the TTL, even when no engine is alive.
enum IdleCommand {
    static func main(_ arguments: ArraySlice<String>) -> Int32 {
        var ttl: Int?
        var service: [String] = []
        var args = arguments
        while let arg = args.popFirst() {
            switch arg {
            case "--ttl":
                guard let value = args.popFirst(), let seconds = Int(value), seconds >= 0 else {
                    return usage("--ttl needs a whole number of seconds")
                }
                ttl = seconds
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
            Posix.writeAll(2, "coderunner-agent: cannot create \(state.path): \(Posix.errorString(code)); is /run/coderunner a tmpfs (containers made by an older coderunner lack it)?\n")
            return 1
        }
        state.recordTTL(ttl)
        state.touchActivity()
        let started = Posix.wallSeconds()

        // Block the signals we care about and take them with sigtimedwait: no handlers, no races,
        // one wake-up per second at most while idle. (Blocked signals reach PID 1 even without handlers.)
        var signals = sigset_t()
        sigemptyset(&signals)
        for s in [SIGCHLD, SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, s) }
        sigprocmask(SIG_BLOCK, &signals, nil)

        if !service.isEmpty { startService(service, state: state) }

        while true {
            var timeout = timespec(tv_sec: 1, tv_nsec: 0)
            let sig = sigtimedwait(&signals, nil, &timeout)
            if sig == SIGTERM || sig == SIGINT || sig == SIGHUP { return 0 }
            reapAll()
            if state.isBusy() { continue }
            let last = max(state.lastActivity() ?? started, started)
            if Posix.wallSeconds() - last >= ttl { return 0 }
        }
    }

    static func reapAll() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
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
        Posix.writeAll(2, "coderunner-agent idle: \(problem)\nusage: coderunner-agent idle --ttl SECONDS [--service PROGRAM [ARGS...]]\n")
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
