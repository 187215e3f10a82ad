import Glibc

/// Who runs what inside a container. The agent (PID 1 and every command the engine execs) runs as root with only
/// CAP_SETUID, CAP_SETGID and CAP_KILL; everything a user submitted runs as the program user (uid and gid 1000) with no
/// capability at all. A program therefore cannot signal, trace or read its supervisor, nor its state directory
/// (a root-only tmpfs), while the agent can still start programs under that uid and kill them.
///
/// The agent also drops to the program user for any file work in folders programs control (the work dir, /dev/shm):
/// a root agent writing there could be redirected through links a program planted.
enum ProgramUser {
    static let uid: uid_t = 1000
    static let gid: gid_t = 1000

    /// True when this agent runs as root and must drop for program work. Outside a container (the agent's own tests) it
    /// runs as an ordinary user and everything happens as that user.
    static var agentIsPrivileged: Bool { geteuid() == 0 }

    /// Becomes the program user for good (supplementary groups cleared, gid then uid). Call in a child process
    /// between fork and exec. Returns the errno of the step that failed, or nil.
    static func become() -> Int32? {
        guard agentIsPrivileged else { return nil }
        if setgroups(0, nil) != 0 { return errno }
        if setgid(gid) != 0 { return errno }
        if setuid(uid) != 0 { return errno }
        // The drop must be final: with the saved uid changed as well, there is no way back to root.
        if setuid(0) == 0 || geteuid() != uid || getegid() != gid { return EPERM }
        return nil
    }

    /// A pipe for a program (its stdin, stdout, stderr, a kernel's event channel). A pipe belongs to the filesystem
    /// uid that made it, with mode 0600, and programs reopen theirs (`/dev/stdout`, `/proc/self/fd/N`, as shells and
    /// JShell do): so it is made with the program user's filesystem identity. The agent's own descriptors stay out of
    /// reach all the same: another uid cannot enter /proc/<agent>/fd.
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard agentIsPrivileged else { return Posix.makePipe(&fds) }
        // The effective ids set the filesystem ids (setfsuid is not visible to Swift); the real and saved ids stay 0,
        // so root, and the capabilities, come back right after.
        guard setegid(gid) == 0 else { return false }
        guard seteuid(uid) == 0 else {
            setegid(0)
            return false
        }
        let made = Posix.makePipe(&fds)
        let saved = errno
        // Never go on as the program user: a supervisor it could signal is no supervisor.
        guard seteuid(0) == 0, setegid(0) == 0 else {
            Posix.writeAll(2, "coderunner-agent: cannot return to root after making a pipe\n")
            _exit(70)
        }
        errno = saved
        return made
    }

    /// Like `become`, for a child that has nothing better to do on failure than report and exit 127.
    static func becomeOrExit(_ what: String) {
        if let e = become() {
            Posix.writeAll(2, "coderunner: cannot start \(what) as uid \(uid): \(Posix.errorString(e))\n")
            _exit(127)
        }
    }

    /// Runs `body` as the program user and returns its error message (nil on success). As root it runs in a forked
    /// child that drops first, and the message comes back through a pipe; unprivileged it runs in this process.
    static func run(_ body: () -> String?) -> String? {
        guard agentIsPrivileged else { return body() }
        var fds: [Int32] = [-1, -1]
        guard Posix.makePipe(&fds) else { return "cannot create a pipe: \(Posix.errorString(errno))" }
        let pid = fork()
        if pid == 0 {
            close(fds[0])
            let message: String?
            if let e = become() {
                message = "cannot switch to uid \(uid): \(Posix.errorString(e))"
            } else {
                message = body()
            }
            if let message { Posix.writeAll(fds[1], message) }
            _exit(message == nil ? 0 : 1)
        }
        let forkErrno = errno
        close(fds[1])
        defer { close(fds[0]) }
        guard pid > 0 else { return "cannot fork: \(Posix.errorString(forkErrno)) (too many processes?)" }
        var reply: [UInt8] = []
        while reply.count < 65536 {
            guard let chunk = Posix.readChunk(fds[0], max: 4096) else { continue }  // EINTR
            if chunk.isEmpty { break }
            reply += chunk
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if !reply.isEmpty { return String(decoding: reply, as: UTF8.self) }
        let (code, signal) = Posix.decodeWaitStatus(status)
        if code == 0 { return nil }
        return "the file helper ended with " + (signal.map { "signal \($0)" } ?? "exit code \(code ?? -1)")
    }
}
