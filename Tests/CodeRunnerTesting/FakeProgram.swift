import AgentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The language of `FakeAgent`'s programs: the run's entry file (`ENTRY` in its environment), one directive a line.
///
///     print TEXT        TEXT and a newline on stdout
///     eprint TEXT       on stderr
///     args              the program's arguments, one a line
///     files             the work directory's files, sorted, one a line
///     echo-input        copies stdin to stdout until it ends
///     sleep MS          waits (a stop or the stage's timeout ends it)
///     hang              waits until a stop or the stage's timeout
///     exit N            ends with exit code N
///     crash             the container dies under the run (its agent is killed: no result comes)
///     compile-error     a compile stage fails on it (a run stage ignores it)
///
/// Limits the agent enforces are enforced here too: the stage's timeout, the run's output limit, a stop.
public enum FakeProgram {
    /// Runs one stage; nil when the program crashed the container.
    static func run(
        _ stage: AgentStage, of request: AgentRunRequest, files: [String: [UInt8]], inbox: RunInbox,
        say: @Sendable (AgentMessage) async -> Void
    ) async -> AgentStageResult? {
        let started = ContinuousClock.now
        let deadline: ContinuousClock.Instant? = stage.timeoutMilliseconds == 0 ? nil : started + .milliseconds(Int64(stage.timeoutMilliseconds))
        let entry = request.environment.first { $0.hasPrefix("ENTRY=") }.map { String($0.dropFirst(6)) } ?? ""
        let source = files[entry].map { String(decoding: $0, as: UTF8.self) } ?? ""
        var written: UInt64 = 0
        var ending = Ending.exited(0)

        func result(_ ending: Ending) -> AgentStageResult {
            let wall = UInt64(max(0, (ContinuousClock.now - started).microseconds))
            var result = AgentStageResult(
                name: stage.name, exitCode: nil, signal: SIGKILL, wallMicroseconds: wall, userCPUMicroseconds: 0,
                systemCPUMicroseconds: 0, maxResidentKiB: 1024, timedOut: false, cpuLimitExceeded: false,
                outputLimitExceeded: false, memoryLimitExceeded: false, stopped: false)
            switch ending {
            case .exited(let code):
                result.exitCode = code
                result.signal = nil
            case .timedOut: result.timedOut = true
            case .stopped: result.stopped = true
            case .outputLimit: result.outputLimitExceeded = true
            }
            return result
        }
        /// Sends output within the run's limit; false once the limit is passed (the stage ends there).
        func emit(_ stream: AgentStream, _ text: String) async -> Bool {
            let bytes = Array(text.utf8)
            let room = request.outputLimitBytes == 0 ? UInt64(bytes.count) : request.outputLimitBytes - min(written, request.outputLimitBytes)
            let sent = Array(bytes.prefix(Int(min(room, UInt64(bytes.count)))))
            if !sent.isEmpty { await say(.output(stream, sent)) }
            written += UInt64(sent.count)
            return sent.count == bytes.count
        }
        /// Waits until `until` (nil: forever) or something ends the stage; nil when the wait ran its course.
        func wait(until: ContinuousClock.Instant?, orInput: Bool = false) async -> Ending? {
            while true {
                let state = inbox.update { $0 }
                if state.stopped || state.engineGone { return .stopped }
                if orInput, !state.stdin.isEmpty || state.stdinClosed { return nil }
                let now = ContinuousClock.now
                if let deadline, now >= deadline { return .timedOut }
                if let until, now >= until { return nil }
                try? await Task.sleep(for: .milliseconds(2))
            }
        }

        if stage.name == "compile" {
            if source.split(separator: "\n").contains("compile-error") {
                _ = await emit(.stderr, "fake: compile error\n")
                return result(.exited(1))
            }
            return result(.exited(0))
        }
        lines: for line in source.split(separator: "\n", omittingEmptySubsequences: true) {
            let (directive, argument) =
                line.firstIndex(of: " ").map { (String(line[..<$0]), String(line[line.index(after: $0)...])) }
                ?? (String(line), "")
            var complete = true
            switch directive {
            case "print": complete = await emit(.stdout, argument + "\n")
            case "eprint": complete = await emit(.stderr, argument + "\n")
            case "args": complete = await emit(.stdout, stage.argv.dropFirst(4).map { $0 + "\n" }.joined())
            case "files": complete = await emit(.stdout, files.keys.sorted().map { $0 + "\n" }.joined())
            case "echo-input":
                while true {
                    if let end = await wait(until: nil, orInput: true) {
                        ending = end
                        break lines
                    }
                    let (chunk, closed) = inbox.update { state in
                        defer { state.stdin = [] }
                        return (state.stdin, state.stdinClosed)
                    }
                    if !chunk.isEmpty { complete = await emit(.stdout, String(decoding: chunk, as: UTF8.self)) }
                    if !complete || (closed && chunk.isEmpty) { break }
                }
            case "sleep":
                if let end = await wait(until: ContinuousClock.now + .milliseconds(Int(argument) ?? 0)) {
                    ending = end
                    break lines
                }
            case "hang":
                if let end = await wait(until: nil) {
                    ending = end
                    break lines
                }
            case "exit":
                ending = .exited(Int32(argument) ?? 1)
                break lines
            case "crash":
                return nil
            case "compile-error":
                continue
            default:
                complete = await emit(.stderr, "fake: unknown directive \(directive)\n")
                ending = .exited(127)
                break lines
            }
            if !complete {
                ending = .outputLimit
                break
            }
        }
        return result(ending)
    }

    enum Ending { case exited(Int32), timedOut, stopped, outputLimit }
}
