import CodeRunnerCore
import Dispatch
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM/SIGINT start the server's graceful shutdown (its `ServiceGroup` handles them); a second one exits at once,
/// leaving the clean-up to `coderunner net gc`. Dispatch sources coexist with the group's own.
final class SecondSignalExit: @unchecked Sendable {
    /// Touched only by `start` and `stop`, both on the serving task.
    private var sources: [any DispatchSourceSignal] = []
    private let signalsSeen = Atomic<Int>(0)

    func start() {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                guard signalsSeen.add(1, ordering: .relaxed).newValue > 1 else { return }
                Terminal.err("coderunner serve: second signal, exiting without cleanup (`coderunner net gc` collects what is left)\n")
                exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }

    func stop() {
        for source in sources { source.cancel() }
        sources.removeAll()
    }
}
