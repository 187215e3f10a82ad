import CodeRunnerCore
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// Reads our stdin on a plain thread (a blocking read must stay off the cooperative pool) and forwards it to the program.
/// Reads no further ahead of the program than this (beyond the agent's own window): piped input a program does not read
/// waits in the pipe, not in our memory.
final class StdinForwarder: Sendable {
    static let maxBacklogBytes = 1 << 20
    let continuation: AsyncStream<RunInput>.Continuation
    let backlog: InputBacklog
    init(continuation: AsyncStream<RunInput>.Continuation, backlog: InputBacklog) {
        self.continuation = continuation
        self.backlog = backlog
    }

    func start() {
        let continuation = self.continuation
        let backlog = self.backlog
        let thread = DispatchQueue(label: "coderunner.stdin")
        thread.async {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                while backlog.bytes >= Self.maxBacklogBytes { usleep(10_000) }
                let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 {
                    continuation.yield(.end)
                    return
                }
                backlog.add(count)
                continuation.yield(.data(Array(buffer[0..<count])))
            }
        }
    }
}

/// Ctrl-C (and SIGTERM, SIGHUP) stop the program inside the container instead of killing coderunner,
/// so the run ends with a result and the session is cleaned up.
final class InterruptForwarder: @unchecked Sendable {
    let continuation: AsyncStream<RunInput>.Continuation
    private var sources: [any DispatchSourceSignal] = []
    init(continuation: AsyncStream<RunInput>.Continuation) { self.continuation = continuation }

    func start() {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            let continuation = self.continuation
            source.setEventHandler { continuation.yield(.stop) }
            source.resume()
            sources.append(source)
        }
    }

    func stop() {
        for source in sources { source.cancel() }
        sources.removeAll()
    }
}
