import AgentProtocol
import Glibc

/// `coderunner-agent files put|get|list` — the session shell's `:put`, `:get` and `:files`. Runs beside a kernel (it takes
/// no run lock) and touches only the work directory. Docker's archive upload cannot reach it: it is a tmpfs.
enum FilesCommand {
    static let workdir = "/app"
    static let maxBytes = 256 << 20

    static func main(_ arguments: ArraySlice<String>) -> Int32 {
        // The work dir is the program's: read and write it as the program user, never as the root agent.
        if let e = ProgramUser.become() { return fail("cannot switch to uid \(ProgramUser.uid): \(Posix.errorString(e))") }
        let args = Array(arguments)
        switch (args.first, args.count) {
        case ("put", 2): return put(args[1])
        case ("get", 2): return get(args[1])
        case ("list", 1): return list()
        default:
            Posix.writeAll(2, "usage: coderunner-agent files put PATH (contents on stdin) | get PATH | list\n")
            return 64
        }
    }

    static func put(_ path: String) -> Int32 {
        do { try Workdir.validate(relativePath: path) } catch { return fail(error.message) }
        var contents: [UInt8] = []
        while let chunk = Posix.readChunk(0, max: 65536), !chunk.isEmpty {
            contents += chunk
            if contents.count > maxBytes { return fail("\(path) is larger than \(maxBytes >> 20) MB") }
        }
        do {
            try Workdir.write(AgentFile(path: path, contents: contents, executable: false), into: workdir)
        } catch {
            return fail(error.message)
        }
        Posix.writeAll(1, "ok\n")
        return 0
    }

    static func get(_ path: String) -> Int32 {
        do { try Workdir.validate(relativePath: path) } catch { return fail(error.message) }
        // O_NONBLOCK: a FIFO a program left there must not hang the shell (it is refused just below).
        let fd = open(workdir + "/" + path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return fail("cannot read \(path): \(Posix.errorString(errno))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return fail("\(path) is not a regular file") }
        while let chunk = Posix.readChunk(fd, max: 65536), !chunk.isEmpty {
            guard Posix.writeAll(1, chunk) else { return 1 }
        }
        return 0
    }

    /// One line per regular file: size, a tab, the path relative to the work dir.
    static func list() -> Int32 {
        var count = 0
        func walk(_ relative: String) {
            let directory = relative.isEmpty ? workdir : workdir + "/" + relative
            for name in (Posix.directoryEntries(directory) ?? []).sorted() where count < 10_000 {
                let child = relative.isEmpty ? name : relative + "/" + name
                var info = stat()
                guard lstat(workdir + "/" + child, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: walk(child)
                case S_IFREG:
                    count += 1
                    Posix.writeAll(1, "\(info.st_size)\t\(child)\n")
                default: continue
                }
            }
        }
        walk("")
        return 0
    }

    static func fail(_ message: String) -> Int32 {
        Posix.writeAll(2, "coderunner-agent: \(message)\n")
        return 1
    }
}
