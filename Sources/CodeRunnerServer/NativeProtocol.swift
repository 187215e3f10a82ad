import CodeRunnerCore
import FoundationEssentials

/// The native JSON protocol on `/ws` (PROTOCOL.md): one JSON object per WebSocket text message, `type` says what it is.
enum NativeProtocol {
    struct Envelope: Decodable {
        var type: String
        var id: StringOrNumber?
    }

    struct FileMessage: Decodable {
        var path: String?
        var name: String?
        var content: String
        /// `utf8` (default) or `base64` for binary files.
        var encoding: String?
        var executable: Bool?
    }

    struct LimitsMessage: Decodable {
        /// Duration: "2s", "500ms", or a number of milliseconds.
        var timeout: StringOrNumber?
        /// Size: "64m", or a number of bytes.
        var memory: StringOrNumber?
        var cpus: Double?
        var outputLimit: StringOrNumber?
        /// Keys that are not limits a client may set (pids, fileSize, typos): refused, never silently ignored.
        var unknownKeys: [String] = []

        static let known = ["timeout", "memory", "cpus", "outputLimit"]

        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(timeout: StringOrNumber? = nil, memory: StringOrNumber? = nil, cpus: Double? = nil, outputLimit: StringOrNumber? = nil) {
            self.timeout = timeout
            self.memory = memory
            self.cpus = cpus
            self.outputLimit = outputLimit
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            timeout = try container.decodeIfPresent(StringOrNumber.self, forKey: AnyKey(stringValue: "timeout"))
            memory = try container.decodeIfPresent(StringOrNumber.self, forKey: AnyKey(stringValue: "memory"))
            cpus = try container.decodeIfPresent(Double.self, forKey: AnyKey(stringValue: "cpus"))
            outputLimit = try container.decodeIfPresent(StringOrNumber.self, forKey: AnyKey(stringValue: "outputLimit"))
            unknownKeys = container.allKeys.map(\.stringValue).filter { !Self.known.contains($0) }.sorted()
        }
    }

    struct RunMessage: Decodable {
        /// Required on /ws (it tags output and exit); optional for POST /api/run.
        var id: StringOrNumber?
        var language: String?
        var files: [FileMessage]
        var entry: String?
        var stdin: String?
        var args: [String]?
        var env: [String: String]?
        var limits: LimitsMessage?
        var fresh: Bool?
    }

    struct InputMessage: Decodable {
        var id: StringOrNumber?
        var data: String?
        var eof: Bool?
    }

    struct StopMessage: Decodable {
        var id: StringOrNumber?
    }

    struct KernelStartMessage: Decodable {
        var language: String
        var files: [FileMessage]?
    }

    struct KernelExecuteMessage: Decodable {
        var code: String
        var cell: StringOrNumber?
    }

    struct KernelCompleteMessage: Decodable {
        /// The line up to the cursor.
        var code: String
        var id: StringOrNumber?
    }

    static func files(_ messages: [FileMessage]) throws(ProtocolError) -> [SubmittedFile] {
        var files: [SubmittedFile] = []
        for (index, file) in messages.enumerated() {
            guard let rawPath = file.path ?? file.name, !rawPath.isEmpty else {
                throw ProtocolError(code: "bad-request", message: "files[\(index)] needs a path")
            }
            let contents: [UInt8]
            switch file.encoding ?? "utf8" {
            case "utf8", "utf-8", "text": contents = Array(file.content.utf8)
            case "base64":
                guard let data = Data(base64Encoded: file.content) else {
                    throw ProtocolError(code: "bad-request", message: "files[\(index)] (\(rawPath)) is not valid base64")
                }
                contents = Array(data)
            case let other:
                throw ProtocolError(code: "bad-request", message: "files[\(index)].encoding '\(other)' is not known; use utf8 or base64")
            }
            files.append(SubmittedFile(path: rawPath, contents: contents, executable: file.executable ?? false))
        }
        return files
    }

    /// The limits a client asked for, each checked to be a real, positive limit (`RequestedLimits` cannot hold anything
    /// else): 0, negative, non-finite or unparsable values are `bad-request`, never "no limit". Numbers are capped above
    /// before they become integers (JSON allows 1e300, which would trap); limits only tighten, so the cap loses nothing.
    static func limits(_ message: LimitsMessage?) throws(ProtocolError) -> RequestedLimits? {
        guard let message else { return nil }
        if let unknown = message.unknownKeys.first {
            throw ProtocolError(
                code: "bad-request", message: "limits.\(unknown) is not a limit a client can set; use \(LimitsMessage.known.joined(separator: ", "))")
        }
        func positive(_ value: Double, _ name: String, unit: String) throws(ProtocolError) -> Double {
            guard value.isFinite, value > 0 else {
                throw ProtocolError(
                    code: "bad-request",
                    message: "limits.\(name) must be a positive number of \(unit), not \(value); a client can only tighten the server's limits")
            }
            return min(value, 1e15)
        }
        func bytes(_ value: StringOrNumber, _ name: String) throws(ProtocolError) -> UInt64 {
            switch value {
            case .number(let number): return UInt64(try positive(number, name, unit: "bytes"))
            case .string(let text):
                do { return try Quantity.byteSize(text) } catch {
                    throw ProtocolError(code: "bad-request", message: "limits.\(name): \(error.description)")
                }
            }
        }
        var timeout: Duration?
        switch message.timeout {
        case .number(let ms): timeout = .microseconds(Int64((try positive(ms, "timeout", unit: "milliseconds") * 1000).rounded()))
        case .string(let text):
            do { timeout = try Quantity.duration(text) } catch {
                throw ProtocolError(code: "bad-request", message: "limits.timeout: \(error.description)")
            }
        case nil: break
        }
        return try RequestedLimits(
            timeout: timeout, memory: try message.memory.map { value throws(ProtocolError) in try bytes(value, "memory") },
            cpus: message.cpus, outputLimit: try message.outputLimit.map { value throws(ProtocolError) in try bytes(value, "outputLimit") })
    }

    static func runSpec(_ message: RunMessage, defaultID: String? = nil) throws(ProtocolError) -> RunSpec {
        guard let id = message.id?.text ?? defaultID else {
            throw ProtocolError(code: "bad-message", message: "run: missing field 'id' (any string that tags this run's output and exit)")
        }
        var environment: [String] = []
        for (key, value) in (message.env ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !key.isEmpty, !key.contains("="), !key.utf8.contains(0), !value.utf8.contains(0) else {
                throw ProtocolError(code: "bad-request", message: "env: '\(key)' is not a valid variable name")
            }
            environment.append("\(key)=\(value)")
        }
        let entry = message.entry.map { $0.hasPrefix("./") ? String($0.dropFirst(2)) : $0 }
        guard !message.files.isEmpty else {
            throw ProtocolError(code: "bad-request", message: "run: files is empty; send at least one {path, content}")
        }
        return RunSpec(
            id: id, language: message.language, files: try files(message.files), entry: entry,
            stdin: message.stdin.map { Array($0.utf8) }, arguments: message.args ?? [], environment: environment,
            limits: try limits(message.limits), fresh: message.fresh ?? true)
    }

    /// One client message, decoded and checked: what `handle` acts on.
    enum Request {
        case run(RunSpec)
        case input(run: String?, data: [UInt8], end: Bool)
        case stop(run: String?)
        case endSession
        case ping
        case kernelStart(language: String, files: [SubmittedFile])
        case kernelExecute(code: String, ref: String?)
        case kernelInterrupt, kernelRestart, kernelShutdown
        case kernelComplete(code: String, id: String?)
    }

    /// Decodes one message without acting on it. Pure, so every outside byte pattern can be fuzzed against it: it
    /// returns the message's id (when it has one) and the request, or throws why it was refused (`bad-json`,
    /// `bad-message`, `bad-request`, `unknown-type`) with the id when it could be read.
    static func decode(_ text: String) throws(DecodeFailure) -> (id: String?, request: Request) {
        let data = Data(text.utf8)
        let envelope: Envelope
        do { envelope = try JSONGuard.decode(Envelope.self, from: data) } catch {
            let message =
                if case .keyNotFound = error as? DecodingError {
                    "every message needs a \"type\" field (run, input, stop, kernel.start, ...)"
                } else {
                    JSON.describe(error, message: "message")
                }
            throw DecodeFailure(run: nil, error: ProtocolError(code: "bad-json", message: message))
        }
        // The nesting check above covered these bytes: the typed decode below may use the decoder directly.
        let decoder = JSONDecoder()
        let id = envelope.id?.text
        do throws(ProtocolError) {
            func decode<T: Decodable>(_ type: T.Type) throws(ProtocolError) -> T {
                do { return try decoder.decode(type, from: data) } catch {
                    throw ProtocolError(code: "bad-message", message: JSON.describe(error, message: envelope.type))
                }
            }
            let request: Request
            switch envelope.type {
            case "run":
                request = .run(try runSpec(try decode(RunMessage.self)))
            case "input":
                let message = try decode(InputMessage.self)
                request = .input(run: message.id?.text, data: Array((message.data ?? "").utf8), end: message.eof ?? false)
            case "stop":
                request = .stop(run: try decode(StopMessage.self).id?.text)
            case "session.end": request = .endSession
            case "ping": request = .ping
            case "kernel.start":
                let message = try decode(KernelStartMessage.self)
                request = .kernelStart(language: message.language, files: try files(message.files ?? []))
            case "kernel.execute":
                let message = try decode(KernelExecuteMessage.self)
                request = .kernelExecute(code: message.code, ref: message.cell?.text)
            case "kernel.complete":
                let message = try decode(KernelCompleteMessage.self)
                request = .kernelComplete(code: message.code, id: message.id?.text)
            case "kernel.interrupt": request = .kernelInterrupt
            case "kernel.restart": request = .kernelRestart
            case "kernel.shutdown": request = .kernelShutdown
            default:
                throw ProtocolError(
                    code: "unknown-type",
                    message: "unknown message type '\(envelope.type)'; see PROTOCOL.md for run, input, stop, session.end, kernel.*")
            }
            return (id, request)
        } catch {
            throw DecodeFailure(run: id, error: error)
        }
    }

    /// Why a message was refused, and the run it named (so the `error` reply can carry its id).
    struct DecodeFailure: Error {
        var run: String?
        var error: ProtocolError
    }

    /// Handles one client message. Every problem becomes an `error` reply; nothing a client sends closes the connection.
    static func handle(_ text: String, session: ClientSession) async {
        let decoded: (id: String?, request: Request)
        do throws(DecodeFailure) { decoded = try decode(text) } catch {
            await session.sendError(run: error.run, error.error)
            return
        }
        do throws(ProtocolError) {
            switch decoded.request {
            case .run(let spec): await session.startRun(spec)
            case .input(let run, let data, let end): try await session.input(run: run, data: data, end: end)
            case .stop(let run): try await session.stop(run: run)
            case .endSession:
                await session.end(reason: "this session was ended by a session.end message; open a new connection to run more programs")
                session.notify(NativeEncoder.sessionEnded(session.name))
            case .ping: session.notify("{\"type\":\"pong\"}")
            case .kernelStart(let language, let files): try await session.kernelStart(language: language, files: files)
            case .kernelExecute(let code, let ref): try await session.kernelExecute(code: code, ref: ref)
            case .kernelInterrupt: try await session.kernelInterrupt()
            case .kernelRestart: try await session.kernelRestart()
            case .kernelShutdown: await session.kernelShutdown()
            case .kernelComplete(let code, let id): await session.kernelComplete(code: code, requestID: id)
            }
        } catch {
            await session.sendError(run: decoded.id, error)
        }
    }
}

/// Native protocol messages from the server.
struct NativeEncoder: SessionEncoder {
    struct Timing: Encodable {
        var totalMs: Double
        var stages: [Stage]
        struct Stage: Encodable {
            var name: String
            var wallMs: Double
            var cpuMs: Double
            var exitCode: Int32?
            var signal: Int32?
        }
    }

    struct Memory: Encodable { var peakBytes: UInt64 }

    struct Exit: Encodable {
        var type = "exit"
        var id: String
        var status: String
        var code: Int32?
        var signal: Int32?
        var signalName: String?
        var exitCode: Int32
        var timing: Timing
        var memory: Memory
        var truncated: Bool
        var message: String?
    }

    static func exitMessage(run: String, result: RunResult) -> Exit {
        Exit(
            id: run, status: result.status.rawValue, code: result.exitCode, signal: result.signal, signalName: result.signalName,
            exitCode: result.processExitCode,
            timing: Timing(
                totalMs: (result.totalMilliseconds * 1000).rounded() / 1000,
                stages: result.stages.map {
                    .init(name: $0.name, wallMs: $0.wallMilliseconds, cpuMs: $0.cpuMilliseconds, exitCode: $0.exitCode, signal: $0.signal)
                }),
            memory: Memory(peakBytes: result.stages.map(\.peakMemoryBytes).max() ?? 0),
            truncated: result.truncated, message: result.status == .ok ? nil : (result.summaryLine ?? result.message))
    }

    func output(run: String, stream: ProgramStream, text: String) -> String {
        "{\"type\":\"output\",\"id\":\(JSON.quote(run)),\"stream\":\"\(stream.rawValue)\",\"data\":\(JSON.quote(text))}"
    }

    func exit(run: String, result: RunResult) -> [String] {
        [JSON.encode(Self.exitMessage(run: run, result: result))]
    }

    func error(run: String?, code: String, message: String) -> String {
        let id = run.map { ",\"id\":\(JSON.quote($0))" } ?? ""
        return "{\"type\":\"error\"\(id),\"code\":\(JSON.quote(code)),\"message\":\(JSON.quote(message))}"
    }

    static func sessionEnded(_ name: String) -> String {
        "{\"type\":\"session.ended\",\"session\":\(JSON.quote(name))}"
    }

    func kernel(_ event: KernelNotice) -> [String] {
        switch event {
        case .starting, .executing: return []
        case .completions(_, let id, let matches):
            let idField = id.map { ",\"id\":\(JSON.quote($0))" } ?? ""
            return ["{\"type\":\"kernel.completions\"\(idField),\"matches\":\(JSON.encode(matches))}"]
        case .started(_, let language): return ["{\"type\":\"kernel.started\",\"language\":\(JSON.quote(language))}"]
        case .output(_, let cell, _, let stream, let text):
            return ["{\"type\":\"kernel.output\",\"cell\":\(cell),\"stream\":\"\(stream.rawValue)\",\"data\":\(JSON.quote(text))}"]
        case .display(_, let cell, _, KernelDisplay.tracebackMIME, let text):
            return ["{\"type\":\"kernel.output\",\"cell\":\(cell),\"stream\":\"stderr\",\"data\":\(JSON.quote(text))}"]
        case .display(_, let cell, _, let mime, let data):
            return ["{\"type\":\"kernel.display\",\"cell\":\(cell),\"mime\":\(JSON.quote(mime)),\"data\":\(JSON.quote(data))}"]
        case .result(_, let cell, let cellRef, let status, let ms):
            let refField = cellRef.map { ",\"ref\":\(JSON.quote($0))" } ?? ""
            return ["{\"type\":\"kernel.result\",\"cell\":\(cell),\"status\":\(JSON.quote(status.rawValue)),\"wallMs\":\(ms)\(refField)}"]
        case .interrupted: return ["{\"type\":\"kernel.interrupted\"}"]
        case .restarted: return ["{\"type\":\"kernel.restarted\"}"]
        case .exited(_, let reason): return ["{\"type\":\"kernel.exited\",\"reason\":\(JSON.quote(reason))}"]
        case .shutdown: return ["{\"type\":\"kernel.shutdown\"}"]
        case .failed(_, _, _, let error): return [self.error(run: nil, code: error.code, message: error.message)]
        }
    }
}
