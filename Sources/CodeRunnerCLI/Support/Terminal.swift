import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// Raw output to the terminal. Program output is bytes, not text: it goes to fd 1/2 unchanged and unbuffered,
/// so a line printed before a `sleep` shows up before the program ends.
enum Terminal {
    static func write(_ bytes: [UInt8], to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return  // reader went away (EPIPE): nothing sensible left to do with the bytes
            }
            offset += written
        }
    }

    /// The program's output: on a terminal through `TerminalFilter` (per descriptor, so sequences split across chunks
    /// are seen whole), unless `--raw` turned that off; piped output passes unchanged.
    static func program(_ bytes: [UInt8], to fd: Int32) {
        let filtered: [UInt8]? = programFilters.withLock { filters in
            guard let index = filters.firstIndex(where: { $0.fd == fd }) else { return nil }
            return filters[index].filter.filter(bytes)
        }
        write(filtered ?? bytes, to: fd)
    }

    /// Turns the filter on for stdout and stderr where they are terminals (call once, before any output).
    static func filterProgramOutput(raw: Bool) {
        let fds: [Int32] = raw ? [] : [1, 2].filter { isTerminal($0) }
        programFilters.withLock { $0 = fds.map { (fd: $0, filter: TerminalFilter()) } }
    }

    private static let programFilters = Locked<[(fd: Int32, filter: TerminalFilter)]>([])

    /// One of coderunner's own status lines (`coderunner: time limit exceeded …`) on stderr: set apart on a colour
    /// terminal by a badge programs cannot draw (`StatusBadge`), plain text otherwise.
    static func status(_ line: String) {
        err((colorEnabled(fd: 2) ? StatusBadge.styled(line) : line) + "\n")
    }

    static func out(_ text: String) { write(Array(text.utf8), to: 1) }
    static func err(_ text: String) { write(Array(text.utf8), to: 2) }

    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org).
    static func colorEnabled(fd: Int32) -> Bool {
        isTerminal(fd) && getenv("NO_COLOR") == nil && String(cString: getenv("TERM") ?? strdup("")) != "dumb"
    }

    static func paint(_ text: String, _ code: String, fd: Int32) -> String {
        colorEnabled(fd: fd) ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            pointer += 1
        }
        return result
    }

    static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
