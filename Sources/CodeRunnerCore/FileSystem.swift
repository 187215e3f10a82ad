#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over POSIX file calls, for the engine and the CLI: they read a handful of small files and directory
/// listings, which does not justify pulling in all of Foundation on Linux.
public enum FileSystem {
    /// The whole file, or nil when it cannot be read or is larger than `limit`.
    public static func readFile(_ path: String, limit: Int = 64 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit { return nil }
        }
        return result
    }

    static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return writeAll(fd, bytes) == nil
    }

    /// Writes every byte (retrying interrupted and short writes); the errno of a failed write, nil when all went out.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// The names in a folder (not `.` or `..`); empty when it cannot be listed.
    public static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public enum Kind { case file, directory, other }

    /// What a path is, following symbolic links; nil when nothing is there.
    public static func kind(_ path: String) -> Kind? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    static func size(_ path: String) -> UInt64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_size)
    }

    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool { kind(path) == .directory }

    public static func isFile(_ path: String) -> Bool { kind(path) == .file }

    /// Makes `path` and its missing parents (mode 0755); false when one cannot be made.
    public static func makeDirectories(_ path: String) -> Bool {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    static func hasManifests(_ path: String) -> Bool {
        listDirectory(path).contains { kind(path + "/" + $0 + "/runtime.json") == .file }
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}

/// String-level path helpers (no file system access).
public enum FilePath {
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `.py` for `dir/main.py`; empty when there is none.
    public static func extensionWithDot(_ path: String) -> String {
        let base = baseName(path)
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return "" }
        return String(base[dot...])
    }

    /// Collapses `.` and `..` and duplicate slashes, lexically.
    public static func normalize(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
                continue
            }
            if part == "..", absolute { continue }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}

/// Writes files on the host for the CLI (notebook outputs and figures, shell figures, `:get`). The names and the
/// folders they land in can come from untrusted work (a submission folder may hold `nb_cell1_1.png -> ../victim`),
/// so a write never follows a symlink at the final name and never replaces a file unless the caller asked for it.
public enum HostFile {
    public enum WriteError: Error, Equatable, CustomStringConvertible {
        case exists(String)
        case failed(String, reason: String)

        public var description: String {
            switch self {
            case .exists(let path): return "\(path) already exists (or is a symlink) and was left as it is; remove it or choose another name"
            case .failed(let path, let reason): return "cannot write \(path): \(reason)"
            }
        }
    }

    /// Creates `path` with `bytes`. Without `replace` the file must not exist (`O_CREAT|O_EXCL|O_NOFOLLOW`: a symlink
    /// there is an existing file, left untouched). With `replace` the bytes go to a new file in the same folder
    /// that is then renamed over `path`, so a symlink at `path` is replaced itself, never written through.
    public static func create(_ path: String, _ bytes: [UInt8], replace: Bool = false, mode: UInt32 = 0o644) throws(WriteError) {
        let mode = mode_t(mode)
        if !replace {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard fd >= 0 else {
                let code = errno
                if code == EEXIST || code == ELOOP { throw .exists(path) }
                throw .failed(path, reason: errnoText(code))
            }
            try writeAll(fd, bytes, path: path, removeOnFailure: path)
            return
        }
        let directory = FilePath.directory(of: path)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<16 {
            let temporary = directory + "/.coderunner-" + String(generator.next() % 1_000_000_000_000, radix: 36) + ".tmp"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw .failed(path, reason: errnoText(errno))
            }
            try writeAll(fd, bytes, path: path, removeOnFailure: temporary)
            guard rename(temporary, path) == 0 else {
                let code = errno
                unlink(temporary)
                throw .failed(path, reason: errnoText(code))
            }
            return
        }
        throw .failed(path, reason: "no free temporary name in \(directory)")
    }

    /// Like `create`, but when `path` exists it tries `stem-2.ext`, `stem-3.ext`, … and returns the name it used:
    /// for files whose exact name matters less than never touching an existing one (the shell's figures).
    public static func createUnique(_ path: String, _ bytes: [UInt8], attempts: Int = 100) throws(WriteError) -> String {
        let ext = FilePath.extensionWithDot(path)
        let stem = String(path.dropLast(ext.count))
        for attempt in 1...max(1, attempts) {
            let candidate = attempt == 1 ? path : "\(stem)-\(attempt)\(ext)"
            do {
                try create(candidate, bytes)
                return candidate
            } catch .exists {
                continue
            }
        }
        throw .exists(path)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String, removeOnFailure: String) throws(WriteError) {
        defer { close(fd) }
        if let code = FileSystem.writeAll(fd, bytes) {
            unlink(removeOnFailure)
            throw .failed(path, reason: errnoText(code))
        }
    }

    static func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Keeps host paths that untrusted input names (meta commands in piped shell input) inside one folder.
public enum ConfinedPath {
    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case outside(String, root: String)
        case missing(String)

        public var description: String {
            switch self {
            case .outside(let path, let root):
                return
                    "\(path) is outside \(root) (absolute, '..' or a symlink leading out); piped meta commands only use files in the current folder"
            case .missing(let path): return "no such file: \(path)"
            }
        }
    }

    /// The real path of an existing `path` (relative to `root`), if it stays inside `root` after every symlink is resolved.
    public static func existing(_ path: String, root: String = ".") throws(Error) -> String {
        guard let rootReal = realPath(root) else { throw .missing(root) }
        guard !path.isEmpty, !path.hasPrefix("/") else { throw .outside(path, root: rootReal) }
        guard let real = realPath(rootReal + "/" + path) else { throw .missing(path) }
        guard real.hasPrefix(rootReal == "/" ? "/" : rootReal + "/") else { throw .outside(path, root: rootReal) }
        return real
    }

    /// Where a new file `path` may be created: its folder must resolve inside `root` and its own name must not be a
    /// symlink (the writer also refuses one, `HostFile.create`).
    public static func newFile(_ path: String, root: String = ".") throws(Error) -> String {
        guard let rootReal = realPath(root) else { throw .missing(root) }
        let base = FilePath.baseName(path)
        guard !path.isEmpty, !path.hasPrefix("/"), !base.isEmpty, base != ".", base != ".." else { throw .outside(path, root: rootReal) }
        let directory = path.contains("/") ? FilePath.directory(of: path) : "."
        let folder = try existing(directory == "." ? "." : directory, root: rootReal, allowRoot: true)
        var info = stat()
        if lstat(folder + "/" + base, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK { throw .outside(path, root: rootReal) }
        return folder + "/" + base
    }

    private static func existing(_ path: String, root rootReal: String, allowRoot: Bool) throws(Error) -> String {
        guard let real = realPath(rootReal + "/" + path) else { throw .missing(path) }
        if allowRoot && real == rootReal { return real }
        guard real.hasPrefix(rootReal == "/" ? "/" : rootReal + "/") else { throw .outside(path, root: rootReal) }
        return real
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
