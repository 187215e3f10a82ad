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
        case .display(_, KernelDisplay.tracebackMIME, let data):
            Terminal.program(data, to: 2)
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

/// Completion of local paths for the shell (Glibc; the CLI avoids Foundation). Reading and writing files: `FileSystem`.
enum LocalFiles {
    /// File names in the directory of `prefix` that start with it (folders end with `/`).
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
