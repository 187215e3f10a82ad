import Glibc

/// The shared state of all agent invocations in one container: `idle` (PID 1), `run` and `status`
/// are separate processes and coordinate only through these files. They live on a tmpfs only root may enter
/// (`/run/coderunner`, mode 0700): programs run as another uid, so they can neither read nor forge the idle clock,
/// the run lock or the list of services the post-run sweep spares.
///
/// - `run.lock`: a POSIX write lock held by the running `run` for its whole life. POSIX locks can be
///   tested without being taken (F_GETLK), so `idle` and `status` never make a starting run see "busy".
/// - `activity`: its mtime is the last start/end of a run (the TTL counts from it).
/// - `ttl`: the idle TTL in seconds, for `status`.
/// - `services`: session ids of service programs (one per line) that `run` must not kill.
struct StateDirectory {
    let path: String

    /// `CODERUNNER_AGENT_STATE_DIR` overrides the location, for tests outside a container.
    static func standard() -> StateDirectory {
        if let p = getenv("CODERUNNER_AGENT_STATE_DIR") {
            return StateDirectory(path: String(cString: p))
        }
        return StateDirectory(path: "/run/coderunner")
    }

    var lockPath: String { path + "/run.lock" }
    var activityPath: String { path + "/activity" }
    var ttlPath: String { path + "/ttl" }
    var servicesPath: String { path + "/services" }
    var serviceLogPath: String { path + "/service.log" }

    func ensure() -> Int32? {
        Posix.makeDirectories(path, mode: 0o700)
    }

    /// Marks "something happened now" for the idle TTL.
    func touchActivity() {
        let fd = open(activityPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = futimens(fd, nil)
        close(fd)
    }

    /// Seconds since the epoch of the last activity, or nil if none was recorded.
    func lastActivity() -> Int? {
        var st = stat()
        guard stat(activityPath, &st) == 0 else { return nil }
        return Int(st.st_mtim.tv_sec)
    }

    enum LockOutcome {
        /// The lock is held through this fd; keep it open for the whole run.
        case locked(Int32)
        case busy
        case failed(Int32)
    }

    /// Takes the run lock without waiting.
    func tryLockRun() -> LockOutcome {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return .failed(errno) }
        var fl = flock()
        fl.l_type = Int16(F_WRLCK)
        fl.l_whence = Int16(SEEK_SET)
        fl.l_start = 0
        fl.l_len = 0
        if fcntl(fd, F_SETLK, &fl) == 0 { return .locked(fd) }
        let code = errno
        close(fd)
        return code == EAGAIN || code == EACCES ? .busy : .failed(code)
    }

    /// True while some `run` holds the run lock. Does not take the lock.
    func isBusy() -> Bool {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var fl = flock()
        fl.l_type = Int16(F_WRLCK)
        fl.l_whence = Int16(SEEK_SET)
        fl.l_start = 0
        fl.l_len = 0
        guard fcntl(fd, F_GETLK, &fl) == 0 else { return false }
        return fl.l_type != Int16(F_UNLCK)
    }

    /// Records a service's session: its leader's pid and that process's start time (a pid alone could be taken over:
    /// a program that kills the service could `setsid` in a process that got the same pid, and be spared).
    func recordService(session: pid_t) {
        guard let leader = ProcessSweep.info(of: session) else { return }
        let existing = Posix.readText(servicesPath) ?? ""
        Posix.writeFile(servicesPath, existing + "\(session) \(leader.startTime)\n", mode: 0o600)
    }

    /// The recorded service sessions whose leader is still the process that was recorded.
    func serviceSessions() -> Set<pid_t> {
        guard let text = Posix.readText(servicesPath) else { return [] }
        var sessions: Set<pid_t> = []
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let session = pid_t(fields[0]), let started = UInt64(fields[1]),
                ProcessSweep.info(of: session)?.startTime == started
            else { continue }
            sessions.insert(session)
        }
        return sessions
    }

    var kernelPath: String { path + "/kernel" }

    /// Records that this process hosts the container's kernel (pid and start time), and its driver's session when one
    /// runs, so that a run the shell starts beside it (`run --beside-kernel`) may share the container while the kernel
    /// holds the run lock, and spares the driver in its sweep. Nothing else spares the driver: once the kernel process
    /// is gone, its driver is swept like any stray.
    func recordKernel(driverSession: pid_t? = nil) {
        guard let me = ProcessSweep.info(of: getpid()) else { return }
        var line = "\(getpid()) \(me.startTime)"
        if let driverSession, let driver = ProcessSweep.info(of: driverSession) { line += " \(driverSession) \(driver.startTime)" }
        Posix.writeFile(kernelPath, line + "\n", mode: 0o600)
    }

    /// A kernel recorded by `recordKernel` is still that process.
    func kernelAlive() -> Bool { liveKernel() != nil }

    /// The live kernel's driver session (nil without a live kernel, or when its driver is not the recorded process).
    func kernelDriverSession() -> pid_t? { liveKernel() ?? nil }

    /// nil: no live kernel; .some(driver session or nil).
    private func liveKernel() -> pid_t?? {
        guard let text = Posix.readText(kernelPath) else { return nil }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, let pid = pid_t(fields[0]), let started = UInt64(fields[1]),
            ProcessSweep.info(of: pid)?.startTime == started
        else { return nil }
        guard fields.count == 4, let driver = pid_t(fields[2]), let driverStarted = UInt64(fields[3]),
            ProcessSweep.info(of: driver)?.startTime == driverStarted
        else { return .some(nil) }
        return .some(driver)
    }

    func recordTTL(_ seconds: Int) {
        Posix.writeFile(ttlPath, "\(seconds)\n", mode: 0o600)
    }

    func ttl() -> Int? {
        guard let text = Posix.readText(ttlPath) else { return nil }
        return Int(text.split(whereSeparator: { $0 == "\n" }).first ?? "")
    }
}
