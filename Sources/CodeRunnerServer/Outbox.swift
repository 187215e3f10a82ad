import CodeRunnerCore
import Synchronization

/// The messages going out on one WebSocket, in order. One writer task drains it into the socket, where a write suspends
/// while the peer is slow; producers (runs) wait in `waitForRoom` once too much is queued, so a program printing fast to a
/// slow browser is slowed down instead of filling the server's memory.
final class Outbox: Sendable {
    static let highWater = 1 << 20

    struct State {
        var queuedBytes = 0
        var closed = false
        /// The WebSocket close code the server chose when it finished the queue (nil: the connection's default).
        var closeCode: UInt16?
    }
    let state = Mutex(State())
    let stream: AsyncStream<String>
    let continuation: AsyncStream<String>.Continuation

    init() {
        (stream, continuation) = AsyncStream<String>.makeStream()
    }

    func send(_ text: String) {
        let accepted = state.withLock { state -> Bool in
            if state.closed { return false }
            state.queuedBytes += text.utf8.count
            return true
        }
        if accepted { continuation.yield(text) }
    }

    /// No more messages: the writer ends after sending what is queued, then closes with `closeCode` when given
    /// (1012, service restart, when a draining server ends the session: clients reconnect elsewhere).
    func finish(closeCode: UInt16? = nil) {
        state.withLock {
            $0.closed = true
            if let closeCode { $0.closeCode = closeCode }
        }
        continuation.finish()
    }

    var closeCode: UInt16? { state.withLock { $0.closeCode } }

    func waitForRoom() async {
        while true {
            let (full, closed) = state.withLock { ($0.queuedBytes > Self.highWater, $0.closed) }
            if !full || closed || Task.isCancelled { return }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Writes queued messages until `finish` or a failed write (the peer went away).
    func drain(_ write: (String) async throws -> Void) async {
        for await text in stream {
            do { try await write(text) } catch {
                state.withLock {
                    $0.closed = true
                    $0.queuedBytes = 0
                }
                return
            }
            state.withLock { $0.queuedBytes -= text.utf8.count }
        }
    }
}

/// Collects one run's output for a few milliseconds before sending it, so a program printing line by line does not cost a
/// WebSocket message per line, while a person still sees output within `window`. Order across stdout and stderr is kept:
/// consecutive chunks of the same stream are merged, a change of stream starts a new message.
final class OutputBatcher: Sendable {
    static let window: Duration = .milliseconds(15)
    static let flushBytes = 32 * 1024

    struct State {
        var chunks: [(stream: ProgramStream, bytes: [UInt8])] = []
        var pendingBytes = 0
        /// An incomplete UTF-8 sequence at the end of a stream's last chunk, held until its remaining bytes arrive.
        var carry: [ProgramStream: [UInt8]] = [:]
        var timer: Task<Void, Never>?
        var finished = false
        var totalBytes = 0
    }
    let state = Mutex(State())
    let emit: @Sendable (ProgramStream, String) -> Void

    init(emit: @escaping @Sendable (ProgramStream, String) -> Void) {
        self.emit = emit
    }

    func append(_ stream: ProgramStream, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        state.withLock { state in
            guard !state.finished else { return }
            state.totalBytes += bytes.count
            if let last = state.chunks.last, last.stream == stream {
                state.chunks[state.chunks.count - 1].bytes += bytes
            } else {
                state.chunks.append((stream, bytes))
            }
            state.pendingBytes += bytes.count
            if state.pendingBytes >= Self.flushBytes {
                flushLocked(&state, final: false)
            } else if state.timer == nil {
                state.timer = Task { [weak self] in
                    try? await Task.sleep(for: Self.window)
                    guard !Task.isCancelled else { return }
                    self?.flush()
                }
            }
        }
    }

    func flush() {
        state.withLock { state in
            state.timer = nil
            flushLocked(&state, final: false)
        }
    }

    /// Sends everything, including held partial characters, and stops the timer. Call before the exit message.
    @discardableResult
    func finish() -> Int {
        state.withLock { state in
            state.timer?.cancel()
            state.timer = nil
            flushLocked(&state, final: true)
            state.finished = true
            return state.totalBytes
        }
    }

    /// Emits under the lock, so two flushes can never overtake each other.
    private func flushLocked(_ state: inout State, final: Bool) {
        let chunks = state.chunks
        state.chunks = []
        state.pendingBytes = 0
        for (stream, bytes) in chunks {
            var bytes = state.carry.removeValue(forKey: stream).map { $0 + bytes } ?? bytes
            if !final {
                let cut = Self.completePrefixLength(bytes)
                if cut < bytes.count {
                    state.carry[stream] = Array(bytes[cut...])
                    bytes = Array(bytes[..<cut])
                }
            }
            if !bytes.isEmpty { emit(stream, String(decoding: bytes, as: UTF8.self)) }
        }
        if final {
            for (stream, bytes) in state.carry where !bytes.isEmpty { emit(stream, String(decoding: bytes, as: UTF8.self)) }
            state.carry = [:]
        }
    }

    /// Length of `bytes` without a trailing, still incomplete UTF-8 sequence.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var index = bytes.count - 1
        var continuation = 0
        while index >= 0, continuation < 3, bytes[index] & 0xC0 == 0x80 {
            continuation += 1
            index -= 1
        }
        guard index >= 0 else { return bytes.count }
        let lead = bytes[index]
        let expected: Int
        if lead & 0x80 == 0 {
            expected = 1
        } else if lead & 0xE0 == 0xC0 {
            expected = 2
        } else if lead & 0xF0 == 0xE0 {
            expected = 3
        } else if lead & 0xF8 == 0xF0 {
            expected = 4
        } else {
            return bytes.count  // invalid: let the decoder replace it
        }
        return continuation + 1 < expected ? index : bytes.count
    }
}
