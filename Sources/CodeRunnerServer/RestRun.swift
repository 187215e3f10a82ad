import CodeRunnerCore
import Hummingbird
import Logging
import Synchronization

/// `POST /api/run`: a one-shot run in its own ephemeral session; the answer has `run --json`'s fields.
///
/// A request is held to what a WebSocket session is held to: it counts as a session of its address
/// (`server.maxSessions`, `server.maxSessionsPerClient`) while it runs, `server.runsPerMinute` applies per address,
/// and a run slot (`server.maxConcurrentRuns`) is taken. The run's output limit is always the server's or lower, and
/// no more than that is buffered. Once the run started the answer is 200 and its body is streamed: a space (JSON allows
/// leading whitespace) every second until the result, so a client that went away is noticed by a failed write and its
/// run stopped. A shutdown stops the run and waits for its container and network to be removed.
final class RestRun: LiveSession {
    let name: String
    let client: String
    private let input: AsyncStream<RunInput>.Continuation
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Ends when the run has finished and its container and network are gone: what a shutdown waits for, whether or
    /// not the run's task exists yet when it asks.
    private let finished: AsyncStream<Void>
    private let markFinished: AsyncStream<Void>.Continuation
    /// Ends when the response body is over (the answer written, or the client gone): a shutdown waits for it too, or the
    /// server would close the connection between the run's end and its answer (a 200 with nothing after it).
    private let delivered: AsyncStream<Void>
    let markDelivered: AsyncStream<Void>.Continuation
    /// How long a shutdown waits for the answer to go out (a body that never started writing does not hold it up).
    static let deliveryWait: Duration = .seconds(2)

    private init(client: String, input: AsyncStream<RunInput>.Continuation) {
        name = "rest-" + SessionName.randomHex(12)
        self.client = client
        self.input = input
        (finished, markFinished) = AsyncStream<Void>.makeStream()
        (delivered, markDelivered) = AsyncStream<Void>.makeStream()
    }

    /// Stops the program (its `exit` becomes `stopped`); the engine then removes the run's container and network.
    func stop() { input.yield(.stop) }

    private let opened = ContinuousClock.now

    func summary() async -> LiveSessionSummary {
        LiveSessionSummary(
            kind: "rest", ageSeconds: seconds(ContinuousClock.now - opened), runs: ["rest"], kernels: 0, touchedEngine: true, engineSession: nil)
    }

    func shutDown(reason: String, closeCode: UInt16) async {
        stop()
        for await _ in finished {}
        let delivered = self.delivered
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in delivered {} }
            group.addTask { try? await Task.sleep(for: Self.deliveryWait) }
            await group.next()
            group.cancelAll()
        }
    }

    /// What the body stream waits on: a heartbeat tick, or the finished answer.
    enum Event: Sendable {
        case tick
        case done(String)
    }

    static func refusal(
        _ status: HTTPResponse.Status, _ error: ProtocolError, context: ServerContext, client: String? = nil, recorded: Bool = false
    ) -> Response {
        context.metrics.protocolError()
        if !recorded { context.recentErrors.record(session: nil, client: client, code: error.code, message: "POST /api/run: " + error.message) }
        return CodeRunnerHTTPServer.json(CodeRunnerHTTPServer.RestError(code: error.code, message: error.message), status: status)
    }

    static func respond(body: [UInt8], context: ServerContext, client: String) -> Response {
        let message: NativeProtocol.RunMessage
        do { message = try JSONGuard.decode(NativeProtocol.RunMessage.self, from: body) } catch {
            return refusal(
                .badRequest, ProtocolError(code: "bad-message", message: JSON.describe(error, message: "run")), context: context, client: client)
        }
        let spec: RunSpec
        let request: RunRequest
        do throws(ProtocolError) {
            spec = try NativeProtocol.runSpec(message, defaultID: "rest")
            let (runtime, entry) = try context.runtimeAndEntry(for: spec)
            let submission: Submission
            do { submission = try Submission(files: spec.files, entry: entry, limits: context.runner.settings.submissionLimits) } catch {
                throw ProtocolError(code: error.isTooMany ? "too-many-files" : "bad-request", message: error.description)
            }
            let limits = try context.limits(for: runtime, requested: spec.limits)
            request = RunRequest(
                submission: submission, runtime: runtime, arguments: spec.arguments, environment: spec.environment,
                limits: limits, session: nil, fresh: true)
        } catch {
            return refusal(error.code == "unknown-language" ? .unprocessableContent : .badRequest, error, context: context, client: client)
        }

        if let refused = context.admitSession(client: client) {
            context.logger.notice("rest run refused", metadata: ["client": "\(client)", "code": "\(refused.code)"])
            return refusal(
                .serviceUnavailable, ProtocolError(code: refused.code, message: refused.message), context: context, client: client, recorded: true)
        }
        let (input, continuation) = AsyncStream<RunInput>.makeStream()
        let run = RestRun(client: client, input: continuation)
        if let limited = context.admitRestRun(client: client) {
            context.releaseSession(run)
            return refusal(.tooManyRequests, limited, context: context, client: client)
        }
        if let refused = context.admitRun() {
            context.releaseSession(run)
            return refusal(.serviceUnavailable, ProtocolError(code: refused.code, message: refused.message), context: context, client: client)
        }
        if let stdin = spec.stdin, !stdin.isEmpty { continuation.yield(.data(stdin)) }
        continuation.yield(.end)
        // A shutdown that began between admission and here stops the run at once (it still ends and is reported).
        if !context.register(run) { run.stop() }

        let (events, tickContinuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(4))
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                tickContinuation.yield(.tick)
            }
        }
        run.task.withLock {
            $0 = Task {
                let answer = await execute(request, input: input, context: context, client: client)
                continuation.finish()
                context.releaseRun()
                context.releaseSession(run)
                run.markFinished.finish()
                ticker.cancel()
                tickContinuation.yield(.done(answer))
                tickContinuation.finish()
            }
        }

        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { run.markDelivered.finish() }
                var clientGone = false
                var answered = false
                // However the body ends without the answer (the client left, the connection was cancelled), the run stops.
                defer { if !answered { run.stop() } }
                for await event in events {
                    switch event {
                    case .tick:
                        guard !clientGone else { continue }
                        do { try await writer.write(ByteBuffer(string: " ")) } catch {
                            clientGone = true
                            context.logger.info(
                                "rest client went away; stopping its run", metadata: ["client": "\(client)", "session": "\(run.name)"])
                            run.stop()
                        }
                    case .done(let answer):
                        guard !clientGone else { return }
                        answered = true
                        try await writer.write(ByteBuffer(string: answer))
                        try await writer.finish(nil)
                        return
                    }
                }
            })
    }

    /// Runs the request and returns the answer's JSON. Output beyond the run's output limit (the server's, or lower) is
    /// never kept, whatever the engine reports.
    static func execute(_ request: RunRequest, input: AsyncStream<RunInput>, context: ServerContext, client: String) async -> String {
        let cap = Int(clamping: request.limits.outputLimitBytes)
        let collected = Mutex<([UInt8], [UInt8])>(([], []))
        let result = await context.runner.run(request, input: input) { event in
            guard case .output(let stream, let bytes) = event else { return }
            collected.withLock { output in
                let room = cap - output.0.count - output.1.count
                guard room > 0 else { return }
                if stream == .stdout { output.0 += bytes.prefix(room) } else { output.1 += bytes.prefix(room) }
            }
        }
        context.metrics.recordRun(language: request.runtime.language, status: result.status.rawValue, seconds: result.totalMilliseconds / 1000)
        context.logger.info(
            "rest run finished",
            metadata: [
                "client": "\(client)", "language": "\(request.runtime.language)", "status": "\(result.status.rawValue)",
                "ms": "\(Int(result.totalMilliseconds))",
            ])
        let (out, err) = collected.withLock { $0 }
        return JSON.encode(RunReport(result: result, stdout: out, stderr: err))
    }
}
