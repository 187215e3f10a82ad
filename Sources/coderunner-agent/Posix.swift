import Glibc

/// Thin wrappers over Glibc so the supervisor logic reads as logic. Glibc only: the agent is linked statically.
enum Posix {
    static func errorString(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// Writes every byte, retrying on EINTR/short writes. False when the peer is gone or the write failed.
    @discardableResult
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    // Only non-blocking fds get here; wait until writable instead of spinning.
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&p, 1, 1000)
                    continue
                }
                return false
            }
            offset += n
        }
        return true
    }

    static func writeAll(_ fd: Int32, _ text: String) {
        writeAll(fd, Array(text.utf8))
    }

    /// Reads up to `max` bytes. nil on EAGAIN/EINTR (nothing now), [] on EOF or a hard error.
    static func readChunk(_ fd: Int32, max: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, max) }
        if n < 0 {
            if errno == EAGAIN || errno == EINTR { return nil }
            return []
        }
        buffer.removeSubrange(n...)
        return buffer
    }

    /// Reads a small file whole (for /proc and state files).
    static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        while out.count < limit {
            guard let chunk = readChunk(fd, max: 65536) else { continue }
            if chunk.isEmpty { break }
            out.append(contentsOf: chunk)
        }
        return out
    }

    static func readText(_ path: String) -> String? {
        readFile(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Replaces a file's contents (small state files only).
    @discardableResult
    static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return writeAll(fd, Array(text.utf8))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }

    static func wallSeconds() -> Int {
        Int(time(nil))
    }

    /// pipe2(O_CLOEXEC) is not imported (GNU); the agent is single-threaded, so setting the flag after is race-free.
    static func makePipe(_ fds: inout [Int32], nonBlocking: Bool = false) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            if nonBlocking { setNonBlocking(fd) }
        }
        return true
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    /// mkdir -p. Returns the errno of the first failure, or nil.
    static func makeDirectories(_ path: String, mode: mode_t = 0o755) -> Int32? {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += "/" + component
            if mkdir(current, mode) != 0 && errno != EEXIST { return errno }
        }
        var st = stat()
        if stat(path, &st) != 0 { return errno }
        if st.st_mode & S_IFMT != S_IFDIR { return ENOTDIR }
        return nil
    }

    /// Decodes a wait status (the W* macros are not imported into Swift).
    static func decodeWaitStatus(_ status: Int32) -> (exitCode: Int32?, signal: Int32?) {
        let low = status & 0x7f
        if low == 0 { return ((status >> 8) & 0xff, nil) }
        if low != 0x7f { return (nil, low) }
        return (nil, nil)  // stopped: not reported without WUNTRACED
    }

    /// Names of the entries of a directory, without "." and "..".
    static func directoryEntries(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func setLimit(_ resource: __rlimit_resource, soft: UInt64, hard: UInt64) {
        var limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        _ = setrlimit(__rlimit_resource_t(resource.rawValue), &limit)
    }

    static func getLimit(_ resource: __rlimit_resource) -> rlimit {
        var limit = rlimit()
        _ = getrlimit(__rlimit_resource_t(resource.rawValue), &limit)
        return limit
    }
}
