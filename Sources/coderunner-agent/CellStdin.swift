import Glibc

/// A kernel cell's stdin. Cells of a shell read the user's terminal (or, piped, the lines after the cell's text), so
/// each cell gets a fresh FIFO at a path the driver learns from `CODERUNNER_CELL_STDIN`, opened by the driver as the
/// cell's fd 0 and replaced by /dev/null when the cell ends.
///
/// The agent feeds it one line at a time, the next only once the FIFO is empty again: what the cell read is then
/// exactly what went in minus what is still in the FIFO at its end (`AgentCellResult.stdinBytesRead`), so piped input
/// it did not read can run as the next cells. The engine's `closeStdin` becomes EOF once everything before it was read.
/// Input left at a cell's end goes with its FIFO: no cell reads another's input.
///
/// The FIFO lives in a directory of the agent's own (root, mode 0711, made by mkdtemp in /tmp): the program's uid can
/// open the FIFO but can neither list that directory nor put anything in it, so the agent never opens a path the
/// program chose.
struct CellStdin {
    let directory: String
    var path: String { directory + "/stdin" }
    /// The agent's end (read-write, so opening never blocks and FIONREAD sees what is unread) while a cell runs.
    private(set) var fd: Int32 = -1
    /// Engine bytes for the running cell not yet put into the FIFO.
    private var pending: [UInt8] = []
    private var delivered: UInt64 = 0
    private var closeRequested = false
    /// Most bytes held for a cell; past it input is dropped (and so counts as unread).
    static let maxPending = 1 << 20
    /// A line longer than this goes in pieces (the FIFO's capacity).
    static let maxPiece = 65536

    /// Makes the directory; nil (cells keep /dev/null) when /tmp does not allow it.
    static func make() -> CellStdin? {
        var template = Array("/tmp/.coderunner-stdin-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { return nil }
        let directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard chmod(directory, 0o711) == 0 else {
            rmdir(directory)
            return nil
        }
        return CellStdin(directory: directory)
    }

    /// A fresh, empty FIFO for the next cell (input the engine sent for it while it waited is kept). False when it
    /// cannot be made (the cell then reads EOF at once).
    mutating func openForCell() -> Bool {
        if fd >= 0 { close(fd) }
        fd = -1
        delivered = 0
        unlink(path)
        guard mkfifo(path, 0o600) == 0, chmod(path, 0o604) == 0 else { return false }
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        return fd >= 0
    }

    /// Engine input for the running (or next) cell; the caller drops input that arrives while no cell is due.
    mutating func receive(_ bytes: [UInt8]) {
        guard !closeRequested else { return }
        pending += bytes.prefix(max(0, Self.maxPending - pending.count))
        pump()
    }

    mutating func requestClose() {
        closeRequested = true
        pump()
    }

    /// True while input waits for the cell to read what it was given (the main loop polls then).
    var waitsForReader: Bool { fd >= 0 && (!pending.isEmpty || closeRequested) }

    /// Puts the next line into the FIFO once the cell has read everything before it; EOF after the last.
    mutating func pump() {
        guard fd >= 0, unread() == 0 else { return }
        if pending.isEmpty {
            if closeRequested {
                close(fd)  // the only writer: the cell reads EOF
                fd = -1
                unlink(path)
            }
            return
        }
        let end = pending.firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? pending.count
        let piece = min(end, Self.maxPiece)
        let written = pending.withUnsafeBytes { write(fd, $0.baseAddress!, piece) }
        if written > 0 {
            pending.removeSubrange(0..<written)
            delivered += UInt64(written)
        }
    }

    private func unread() -> Int {
        var count: Int32 = 0
        return ioctl(fd, UInt(FIONREAD), &count) == 0 ? Int(count) : 0
    }

    /// Ends the running cell's stdin and returns how many bytes the cell read.
    @discardableResult
    mutating func finish() -> UInt64 {
        var read = delivered
        if fd >= 0 {
            read -= UInt64(min(UInt64(unread()), delivered))
            close(fd)
            fd = -1
        }
        unlink(path)
        pending.removeAll()
        closeRequested = false
        delivered = 0
        return read
    }

    /// Removes the FIFO and its directory (the kernel is shutting down).
    mutating func remove() {
        finish()
        rmdir(directory)
    }
}
