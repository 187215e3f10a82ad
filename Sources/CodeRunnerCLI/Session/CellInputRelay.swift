import CodeRunnerCore
import Foundation

/// While a cell runs in the interactive shell, what the user types goes to the cell, as in Python's and Node's own
/// REPLs: `input()` and `readline` read the terminal. The terminal stays in its normal (cooked) mode between prompts,
/// so it echoes and edits the line itself; a line is sent when Enter is pressed, and Ctrl-D is EOF for the cell
/// (the next cell's input starts afresh). Ctrl-C still interrupts (the shell's SIGINT handler).
///
/// A thread of its own reads the terminal (a blocking read has no place on the concurrency pool); it checks every
/// 50 ms whether the cell is still running, and the shell waits for it to stop before libedit reads the next prompt,
/// so the two never read the terminal at once.
final class CellInputRelay: Sendable {
    private let state = Locked((running: true, stopped: false))
    private let lines: AsyncStream<[UInt8]?>
    private let continuation: AsyncStream<[UInt8]?>.Continuation

    init() {
        (lines, continuation) = AsyncStream.makeStream(of: [UInt8]?.self)
    }

    /// Starts relaying the terminal (fd 0) to `kernel` until `stop`.
    func start(kernel: KernelSession) -> Task<Void, Never> {
        let thread = Thread { [self] in self.readTerminal() }
        thread.name = "coderunner cell input"
        thread.start()
        let lines = self.lines
        return Task {
            for await line in lines {
                if let line { await kernel.sendInput(line) } else { await kernel.closeInput() }
            }
        }
    }

    /// Ends the relay once the cell has ended; returns when the reading thread has stopped.
    func stop() async {
        state.withLock { $0.running = false }
        while !state.withLock({ $0.stopped }) { try? await Task.sleep(for: .milliseconds(5)) }
        continuation.finish()
    }

    private func readTerminal() {
        defer { state.withLock { $0.stopped = true } }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while state.withLock({ $0.running }) {
            var terminal = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            let ready = poll(&terminal, 1, 50)
            if ready < 0 && errno != EINTR { return }
            guard ready > 0, state.withLock({ $0.running }) else { continue }
            let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            if count == 0 {
                continuation.yield(nil)  // Ctrl-D: EOF for this cell; what is typed next is for the next prompt
                return
            }
            continuation.yield(Array(buffer[0..<count]))
        }
    }
}
