import CodeRunnerCore
import Dispatch
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Writes cell output as it streams; saves rich output (plots) next to the working directory.
actor ShellOutput {
    private(set) var isRunning = false
    /// Counts cells, so a hint meant for one cell is never shown while a later one runs.
    private(set) var cellNumber = 0
    private var imageCount = 0

    func begin() {
        isRunning = true
        cellNumber += 1
    }
    func end() { isRunning = false }
    func isRunning(cell: Int) -> Bool { isRunning && cellNumber == cell }

    func handle(_ event: KernelEvent) {
        switch event {
        case .output(_, let stream, let bytes):
            Terminal.program(bytes, to: stream == .stdout ? 1 : 2)
        case .display(let cell, let mime, let data):
            imageCount += 1
            let ext = mime == "image/png" ? "png" : mime == "image/svg+xml" ? "svg" : "bin"
            // A new file in the current folder, never an existing one: a symlink planted there stays untouched.
            do {
                let name = try HostFile.createUnique("coderunner-cell\(cell)-\(imageCount).\(ext)", data)
                Terminal.err("[\(mime), \(data.count) bytes, saved to \(name)]\n")
            } catch {
                Terminal.status("coderunner: \(error)")
            }
        case .exited(let reason):
            Terminal.status("coderunner: \(reason)")
        }
    }
}

/// Local file helpers for the shell (Glibc; the CLI avoids Foundation).
enum LocalFiles {
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { return result }
            result += buffer[0..<count]
            if result.count > 256 << 20 { return nil }
        }
    }

    static func makeDirectories(_ path: String) -> Bool {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    /// File names in the directory of `prefix` that start with it (folders end with `/`).
    /// The names in a folder (not `.` or `..`), without reading any file; empty when it cannot be listed.
    static func names(in directory: String) -> Set<String> {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names = Set<String>()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.insert(name) }
        }
        return names
    }

    static func completions(for prefix: String) -> [String] {
        let directory = prefix.contains("/") ? FilePath.directory(of: prefix) : "."
        let base = prefix.contains("/") ? (directory == "/" ? "/" : directory + "/") : ""
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 256) {
                    String(
                        decoding: UnsafeBufferPointer(start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))),
                        as: UTF8.self)
                }
            }
            if name == "." || name == ".." { continue }
            let isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            names.append(base + name + (isDirectory ? "/" : ""))
        }
        return names.filter { $0.hasPrefix(prefix) }.sorted()
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
