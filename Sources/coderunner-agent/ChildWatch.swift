import Glibc

/// The container's cgroup OOM-kill counter (how `memoryLimitExceeded` is detected).
enum CgroupMemory {
    static func oomKillCount() -> UInt64? {
        for path in ["/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"] {
            guard let text = Posix.readText(path) else { continue }
            for line in text.split(whereSeparator: { $0 == "\n" }) where line.hasPrefix("oom_kill ") {
                return UInt64(line.dropFirst("oom_kill ".count))
            }
        }
        return nil
    }
}

/// Write end of the SIGCHLD self-pipe. Set once before any child exists; the handler only reads it.
nonisolated(unsafe) var childSignalPipeWriteFD: Int32 = -1

/// SIGCHLD turned into a readable byte so one poll() loop can wait for output and child exit together.
enum ChildSignalPipe {
    /// Installs the handler once; returns the read end (-1 if no pipe could be made: the loops then poll once a second).
    static func install() -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard Posix.makePipe(&fds, nonBlocking: true) else { return -1 }
        childSignalPipeWriteFD = fds[1]
        signal(SIGCHLD) { _ in
            let saved = errno
            var byte: UInt8 = 1
            _ = write(childSignalPipeWriteFD, &byte, 1)
            errno = saved
        }
        return fds[0]
    }
}
