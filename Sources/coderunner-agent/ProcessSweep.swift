import Glibc

/// Kills what a stage left behind. Programs may `setsid` out of their process group or leave
/// orphans (reparented to PID 1), so killing the group is not enough: after every stage we kill
/// every process in the container except
/// - PID 1 (the idle agent) and ourselves,
/// - processes with parent pid 0: they were started from outside the container (`docker exec`:
///   another agent invocation such as `status`), never by a program,
/// - processes in a recorded service session (e.g. MariaDB of the SQL runtime).
enum ProcessSweep {
    /// Only sweep inside a coderunner container (PID 1 is this same agent binary), so running
    /// `coderunner-agent run` on a developer machine can never kill the user's processes.
    /// `CODERUNNER_AGENT_SWEEP=0|1` overrides the check.
    static func isEnabled() -> Bool {
        if let v = getenv("CODERUNNER_AGENT_SWEEP") { return String(cString: v) == "1" }
        // /proc/1/exe is unreadable when PID 1 is not dumpable (the images make the agent execute-only for exactly
        // that reason), so compare PID 1's command line: `.../coderunner-agent idle ...`.
        guard let bytes = Posix.readFile("/proc/1/cmdline", limit: 4096) else { return false }
        let arguments = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard arguments.count >= 2, arguments[0] == "coderunner-agent" || arguments[0].hasSuffix("/coderunner-agent") else { return false }
        return arguments[1] == "idle"
    }

    struct ProcessInfo {
        var pid: pid_t
        var state: UInt8
        var parent: pid_t
        var session: pid_t
        /// Clock ticks after boot: with the pid, it names one process for good.
        var startTime: UInt64
    }

    /// Parses /proc/PID/stat. The command name may contain spaces and ')' so fields start after the last ')'.
    static func info(of pid: pid_t) -> ProcessInfo? {
        guard let bytes = Posix.readFile("/proc/\(pid)/stat", limit: 4096),
            let close = bytes.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields: state ppid pgrp session ... (starttime is the 22nd field of the line, the 20th after the name)
        guard fields.count >= 20,
            let ppid = pid_t(String(decoding: fields[1], as: UTF8.self)),
            let sid = pid_t(String(decoding: fields[3], as: UTF8.self)),
            let started = UInt64(String(decoding: fields[19], as: UTF8.self))
        else { return nil }
        return ProcessInfo(pid: pid, state: fields[0].first ?? 0, parent: ppid, session: sid, startTime: started)
    }

    /// Repeats until a scan finds nothing alive to kill (killed processes may have forked meanwhile).
    static func killStrays(protectedSessions: Set<pid_t>) {
        let me = getpid()
        for _ in 0..<100 {
            var killed = 0
            for name in Posix.directoryEntries("/proc") ?? [] {
                guard let pid = pid_t(name), pid != 1, pid != me, let p = info(of: pid) else { continue }
                if p.state == UInt8(ascii: "Z") || p.state == UInt8(ascii: "X") { continue }
                if p.parent == 0 || protectedSessions.contains(p.session) { continue }
                if kill(pid, SIGKILL) == 0 { killed += 1 }
            }
            if killed == 0 { return }
            usleep(2000)
        }
    }
}
