import AgentProtocol
import Glibc

/// A setup problem reported to the engine as `.failed(message)`.
struct SetupError: Error {
    var message: String
    /// The work dir (a tmpfs) was full.
    var noSpace = false
}

/// Prepares the work directory: optional clearing, then the submitted files.
/// Paths are validated again here because the agent must not trust that the engine did it.
enum Workdir {
    static func validate(relativePath path: String) throws(SetupError) {
        guard !path.isEmpty else { throw SetupError(message: "a file has an empty path; give every file a relative name") }
        guard !path.utf8.contains(0) else { throw SetupError(message: "file path \(quoted(path)) contains a NUL byte") }
        guard !path.hasPrefix("/") else {
            throw SetupError(message: "file path \(quoted(path)) is absolute; use a path relative to the work directory")
        }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty {
                throw SetupError(message: "file path \(quoted(path)) has an empty component (\"//\" or a trailing \"/\")")
            }
            if component == ".." || component == "." {
                throw SetupError(message: "file path \(quoted(path)) contains \"\(component)\"; use a plain relative path")
            }
        }
    }

    /// Before a run: what earlier runs left in shared memory goes (it is not part of the session's files), then the
    /// work dir is prepared. Both as the program user.
    static func prepare(_ request: AgentRunRequest) throws(SetupError) {
        try asProgramUser { () throws(SetupError) in
            SharedMemory.empty()
            try prepareAsCurrentUser(workdir: request.workdir, clear: request.clearWorkdir, files: request.files)
        }
    }

    /// Clears (optionally) and fills the work dir as the program user (`ProgramUser`).
    static func prepare(workdir: String, clear: Bool, files: [AgentFile]) throws(SetupError) {
        try asProgramUser { () throws(SetupError) in try prepareAsCurrentUser(workdir: workdir, clear: clear, files: files) }
    }

    static func asProgramUser(_ body: () throws(SetupError) -> Void) throws(SetupError) {
        let failure = ProgramUser.run {
            do throws(SetupError) { try body() } catch { return error.message }
            return nil
        }
        if let failure { throw SetupError(message: failure) }
    }

    static func prepareAsCurrentUser(workdir: String, clear: Bool, files: [AgentFile]) throws(SetupError) {
        guard workdir.hasPrefix("/"), !workdir.utf8.contains(0) else {
            throw SetupError(message: "work directory \(quoted(workdir)) must be an absolute path")
        }
        for file in files { try validate(relativePath: file.path) }
        if let code = Posix.makeDirectories(workdir) {
            throw SetupError(message: "cannot create work directory \(quoted(workdir)): \(Posix.errorString(code))")
        }
        if clear { try clearContents(of: workdir) }
        do {
            for file in files { try write(file, into: workdir) }
        } catch  where error.noSpace && !clear {
            // An earlier run of the session filled the work dir: what it left is in the way. Start over empty rather
            // than make every later run of the session fail.
            try clearContents(of: workdir)
            for file in files { try write(file, into: workdir) }
        }
    }

    /// Deletes everything inside `directory` (which itself stays: it is usually a tmpfs mount point).
    static func clearContents(of directory: String) throws(SetupError) {
        guard let names = Posix.directoryEntries(directory) else {
            throw SetupError(message: "cannot list \(quoted(directory)): \(Posix.errorString(errno))")
        }
        for name in names {
            let path = directory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            if st.st_mode & S_IFMT == S_IFDIR {
                // Make sure we may enter and delete inside even if a program chmod'ed it.
                _ = chmod(path, 0o700)
                try clearContents(of: path)
                if rmdir(path) != 0 && errno != ENOENT {
                    throw SetupError(message: "cannot remove \(quoted(path)): \(Posix.errorString(errno))")
                }
            } else if unlink(path) != 0 && errno != ENOENT {
                throw SetupError(message: "cannot remove \(quoted(path)): \(Posix.errorString(errno))")
            }
        }
    }

    static func write(_ file: AgentFile, into workdir: String) throws(SetupError) {
        let path = workdir + "/" + file.path
        if let slash = file.path.lastIndex(of: "/") {
            let parent = workdir + "/" + file.path[..<slash]
            if let code = Posix.makeDirectories(parent) {
                throw SetupError(message: "cannot create directory for \(quoted(file.path)): \(Posix.errorString(code))")
            }
        }
        let mode: mode_t = file.executable ? 0o755 : 0o644
        // O_NOFOLLOW: a program of an earlier run must not redirect our write through a symlink.
        var opened = openRegular(path, mode: mode)
        if case .notRegular = opened {
            // A program of an earlier run left something else under this name (a FIFO, a link, a socket): it goes.
            _ = unlink(path)
            opened = openRegular(path, mode: mode)
        }
        let fd: Int32
        switch opened {
        case .opened(let descriptor): fd = descriptor
        case .notRegular: throw SetupError(message: "cannot write \(quoted(file.path)): something other than a file is in the way")
        case .failed(let code): throw writeError(file.path, code)
        }
        _ = fchmod(fd, mode)  // the umask must not strip the executable bit
        let ok = Posix.writeAll(fd, file.contents)
        let writeErrno = errno
        let closed = close(fd) == 0
        if !ok { throw writeError(file.path, writeErrno) }
        if !closed { throw writeError(file.path, errno) }
    }

    enum OpenOutcome {
        case opened(Int32)
        /// A symlink, FIFO, socket or folder has the name.
        case notRegular
        case failed(Int32)
    }

    /// Opens `path` for writing only if it is (or is created as) a regular file: no final symlink is followed and a
    /// FIFO does not block (O_NONBLOCK: ENXIO without a reader, else it is opened and then refused).
    static func openRegular(_ path: String, mode: mode_t) -> OpenOutcome {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode)
        guard fd >= 0 else {
            let code = errno
            return code == ELOOP || code == ENXIO || code == EISDIR ? .notRegular : .failed(code)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return .notRegular
        }
        return .opened(fd)
    }

    static func writeError(_ path: String, _ code: Int32) -> SetupError {
        var error = SetupError(message: "cannot write \(quoted(path)): \(Posix.errorString(code))")
        if code == ENOSPC || code == EFBIG || code == EDQUOT {
            error.noSpace = true
            error.message += " (the work directory is full; send smaller files or start a fresh session)"
        }
        return error
    }

    static func quoted(_ s: String) -> String {
        "\"" + s.replacingNUL() + "\""
    }
}

/// POSIX shared memory (/dev/shm) and message queues (/dev/mqueue) outlive a run unless emptied: a session's runs
/// start without what an earlier run put there. Best effort; called as the program user, who owns what is there.
enum SharedMemory {
    static func empty() {
        for directory in ["/dev/shm", "/dev/mqueue"] where Posix.directoryEntries(directory) != nil {
            try? Workdir.clearContents(of: directory)
        }
    }
}

extension String {
    fileprivate func replacingNUL() -> String {
        String(decoding: utf8.map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
    }
}
