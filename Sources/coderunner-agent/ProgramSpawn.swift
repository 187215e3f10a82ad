import Glibc

/// The one way the agent starts user code (run stages and kernel drivers): pipes made all or none, then a child in its
/// own session and process group (so the whole tree can be killed at once) with default signals, the given descriptors
/// as its 0, 1, 2 (and 3), the program user, the work directory and the resource limits, exec'd along its PATH.
enum ProgramSpawn {
    struct Limits {
        /// RLIMIT_CPU in seconds (hard = soft + 1), 0 = none.
        var cpuSeconds: UInt64 = 0
        /// RLIMIT_FSIZE, 0 = none.
        var fileSizeBytes: UInt64
        /// RLIMIT_NOFILE, 0 = leave as is.
        var openFiles: UInt64
    }

    /// `count` pipes ([read end, write end], close-on-exec, owned by the program user). If one cannot be made, those
    /// made already are closed again.
    static func pipes(_ count: Int, for what: String) throws(SetupError) -> [[Int32]] {
        var made: [[Int32]] = []
        for _ in 0..<count {
            var fds: [Int32] = [-1, -1]
            guard ProgramUser.makePipe(&fds) else {
                let e = errno
                for fd in made.joined() { close(fd) }
                throw SetupError(message: "cannot create pipes for \(what): \(Posix.errorString(e))")
            }
            made.append(fds)
        }
        return made
    }

    /// Forks and execs `argv` with exactly `environment`. `descriptors[i]` becomes the child's fd i (-1: /dev/null);
    /// every source must be 3 or more (0-2 are the agent's own), so no dup2 clobbers a later source. `what` names it in
    /// the agent's errors ("stage run", "the kernel"), `shownAs` in what the child writes on its stderr when it cannot
    /// start ("python3", "the kernel python3"), after `execFailure` when the exec fails. Returns the child's pid; the
    /// caller closes its ends of the pipes.
    static func start(
        _ argv: [String], environment: [String], workdir: String, descriptors: [Int32], limits: Limits, what: String,
        shownAs: String, execFailure: String
    ) throws(SetupError) -> pid_t {
        guard let program = argv.first, !program.isEmpty else {
            throw SetupError(message: "\(what) has no program to run (empty argv)")
        }
        for s in argv + environment where s.utf8.contains(0) {
            throw SetupError(message: "\(what): an argument or environment entry contains a NUL byte")
        }
        // Everything the child needs is prepared before fork.
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnvironment = environment.map { strdup($0) } + [nil]
        let path = environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
        let candidates = ExecSearch.candidates(for: program, path: path).map { strdup($0) }
        defer {
            for pointer in cArgv + cEnvironment + candidates { free(pointer) }
        }
        let execFailurePrefix = Array("coderunner: \(execFailure) \(shownAs): ".utf8)
        let workdirFailure = "coderunner: cannot enter the work directory \(workdir): "
        let pid = fork()
        if pid == 0 {
            setsid()
            signal(SIGPIPE, SIG_DFL)
            signal(SIGCHLD, SIG_DFL)
            var none = sigset_t()
            sigemptyset(&none)
            sigprocmask(SIG_SETMASK, &none, nil)
            for (target, source) in descriptors.enumerated() {
                let fd = source >= 0 ? source : open("/dev/null", O_RDONLY)
                if fd == Int32(target) {
                    _ = fcntl(fd, F_SETFD, 0)  // dup2 onto itself would keep close-on-exec
                } else {
                    dup2(fd, Int32(target))
                }
            }
            ProgramUser.becomeOrExit(shownAs)
            if chdir(workdir) != 0 {
                Posix.writeAll(2, workdirFailure + Posix.errorString(errno) + "\n")
                _exit(127)
            }
            if limits.cpuSeconds > 0 { Posix.setLimit(RLIMIT_CPU, soft: limits.cpuSeconds, hard: limits.cpuSeconds + 1) }
            if limits.fileSizeBytes > 0 { Posix.setLimit(RLIMIT_FSIZE, soft: limits.fileSizeBytes, hard: limits.fileSizeBytes) }
            if limits.openFiles > 0 {
                let n = min(limits.openFiles, UInt64(Posix.getLimit(RLIMIT_NOFILE).rlim_max))
                Posix.setLimit(RLIMIT_NOFILE, soft: n, hard: n)
            }
            let e = ExecSearch.exec(candidates: candidates, argv: cArgv, envp: cEnvironment)
            Posix.writeAll(2, execFailurePrefix + Array((Posix.errorString(e) + "\n").utf8))
            _exit(127)
        }
        if pid < 0 {
            throw SetupError(message: "cannot start \(what): \(Posix.errorString(errno)) (too many processes?)")
        }
        return pid
    }
}

/// execvpe is a GNU extension Swift does not import, and execvp would search the agent's own PATH:
/// this searches the stage's PATH (like execvp does) and execs with the stage's environment.
enum ExecSearch {
    static func candidates(for program: String, path: String?) -> [String] {
        if program.contains("/") { return [program] }
        let dirs = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false)
        return dirs.map { ($0.isEmpty ? "." : String($0)) + "/" + program }
    }

    /// Only returns when every candidate failed; the result is the errno to report.
    static func exec(
        candidates: [UnsafeMutablePointer<CChar>?], argv: [UnsafeMutablePointer<CChar>?], envp: [UnsafeMutablePointer<CChar>?]
    ) -> Int32 {
        var sawAccessDenied = false
        var lastError = ENOENT
        for candidate in candidates {
            guard let candidate else { continue }
            execve(candidate, argv, envp)
            let e = errno
            switch e {
            case ENOEXEC:
                // A script without "#!": run it with /bin/sh, as execvp does.
                let sh = strdup("/bin/sh")
                let shArgv: [UnsafeMutablePointer<CChar>?] = [sh, candidate] + argv.dropFirst()
                execve("/bin/sh", shArgv, envp)
                return errno
            case EACCES:
                sawAccessDenied = true
            case ENOENT, ENOTDIR, ESTALE, ENODEV, ETIMEDOUT:
                break
            default:
                return e
            }
            lastError = e
        }
        return sawAccessDenied ? EACCES : lastError
    }
}
