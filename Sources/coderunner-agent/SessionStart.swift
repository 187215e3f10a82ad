import AgentProtocol
import Glibc

/// How every engine-driven agent command (`run`, `kernel`) begins: the state directory, the container's run lock (held
/// until the process exits; busy means another run or kernel has this container: answer `.busy`, exit 75), the activity
/// stamp that restarts the idle TTL, and the engine's first message.
enum SessionStart {
    enum Outcome {
        case first(EngineMessage)
        case exit(Int32)
    }

    /// `besideKernel`: a run the session shell starts in its kernel's container (`:run`), which shares the container
    /// with the kernel that holds the run lock; without a live kernel it takes the lock like any run.
    static func begin(
        state: StateDirectory, engine: inout EngineLink, besideKernel: Bool = false, silenceLimitMilliseconds: Int32? = nil,
        silenceExit: Int32 = 1
    ) -> Outcome {
        func fail(_ reason: String) -> Int32 {
            engine.send(.failed(reason))
            return 1
        }
        if let code = state.ensure() {
            return .exit(
                fail(
                    "cannot create the agent state directory \(state.path): \(Posix.errorString(code)); is the container's /run/coderunner tmpfs missing (a container made by an older coderunner)?"
                ))
        }
        if !(besideKernel && state.kernelAlive()) {
            switch state.tryLockRun() {
            case .locked:
                break
            case .busy:
                engine.send(.busy)
                return .exit(75)
            case .failed(let code):
                return .exit(fail("cannot open the run lock \(state.lockPath): \(Posix.errorString(code))"))
            }
        }
        state.touchActivity()
        while true {
            do {
                if let message = try engine.decoder.next() { return .first(message) }
            } catch {
                return .exit(fail(error.description))
            }
            if let silenceLimitMilliseconds {
                // Every byte restarts the wait; a silence that long means the sender is gone.
                var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, silenceLimitMilliseconds)
                if ready == 0 { return .exit(silenceExit) }
                if ready < 0 { continue }
            }
            guard let received = engine.receive() else { continue }
            if !received { return .exit(1) }  // the engine went away before asking for anything
        }
    }
}
