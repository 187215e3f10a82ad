import CodeRunnerCore
import FoundationEssentials
import Hummingbird
import HummingbirdWebSocket
import Logging
import Synchronization

/// The original Node implementation's event names, spoken over Socket.IO v4 / Engine.IO v4 on WebSocket only.
final class SocketIOEncoder: SessionEncoder {
    static func event(_ name: String, _ payload: String) -> String {
        "42[\(JSON.quote(name)),\(payload)]"
    }

    func output(run: String, stream: ProgramStream, text: String) -> String {
        Self.event("output", "{\"sessionId\":\(JSON.quote(run)),\"type\":\"\(stream.rawValue)\",\"data\":\(JSON.quote(text))}")
    }

    struct Exit: Encodable {
        var sessionId: String
        var code: Int32
        var executionTime: Int
        var status: String
        var signal: String?
        var truncated: Bool
    }

    func exit(run: String, result: RunResult) -> [String] {
        var messages: [String] = []
        if result.status != .ok, let line = result.summaryLine {
            messages.append(Self.event("output", "{\"sessionId\":\(JSON.quote(run)),\"type\":\"system\",\"data\":\(JSON.quote(line + "\n"))}"))
        }
        let exit = Exit(
            sessionId: run, code: result.processExitCode, executionTime: Int(result.totalMilliseconds.rounded()),
            status: result.status.rawValue, signal: result.signalName, truncated: result.truncated)
        messages.append(Self.event("exit", JSON.encode(exit)))
        return messages
    }

    func error(run: String?, code: String, message: String) -> String {
        let id = run.map { "\"sessionId\":\(JSON.quote($0))," } ?? ""
        return Self.event("error", "{\(id)\"code\":\(JSON.quote(code)),\"message\":\(JSON.quote(message))}")
    }
}

/// One Socket.IO connection (`/socket.io/?EIO=4&transport=websocket`): Engine.IO open/ping/pong/close around
/// Socket.IO CONNECT, EVENT (with acks) and DISCONNECT on the default namespace.
enum SocketIOConnection {
    struct Open: Encodable {
        var sid: String
        var upgrades: [String] = []
        var pingInterval: Int
        var pingTimeout: Int
        var maxPayload: Int
    }

    /// A socket counts as a session (`server.maxSessions`, `server.maxSessionsPerClient`) only once it has authenticated:
    /// with the token in the upgrade's header or query, or in the CONNECT packet's auth object. The session is admitted
    /// at the CONNECT; a socket without a successful CONNECT within `server.handshakeTimeout` is closed, so sockets
    /// that never authenticate cannot hold slots or linger.
    static func serve(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: ServerContext, client: String, authorized: Bool
    ) async {
        let encoder = SocketIOEncoder()
        let sid = randomID()
        let outbox = Outbox()
        let settings = context.settings
        outbox.send(
            "0"
                + JSON.encode(
                    Open(
                        sid: sid, pingInterval: Int(milliseconds(settings.pingInterval)), pingTimeout: Int(milliseconds(settings.pingTimeout)),
                        maxPayload: settings.maxMessageBytes)))
        let lastPong = Locked(ContinuousClock.now)
        let state = Locked(AdapterState(authorized: authorized))
        let closeCode = Locked(1001)  // WebSocket close code: going away; 1008 policy violation; 1013 try again later
        let opened = ContinuousClock.now
        let logger = {
            var logger = context.logger
            logger[metadataKey: "client"] = "\(client)"
            return logger
        }()

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await outbox.drain { try await outbound.write(.text($0)) }
                let code = outbox.closeCode.map(Int.init) ?? closeCode.withLock { $0 }
                try? await outbound.close(.init(codeNumber: code), reason: "closing")
            }
            group.addTask {
                try? await Task.sleep(for: context.settings.handshakeTimeout)
                if Task.isCancelled || state.withLock({ $0.session != nil }) { return }
                context.metrics.protocolError()
                logger.info(
                    "socket.io client did not connect (CONNECT with a valid token) in time; closing",
                    metadata: [
                        "timeout": "\(context.settings.handshakeTimeout)"
                    ])
                closeCode.withLock { $0 = 1008 }
                outbox.finish()
            }
            group.addTask {
                // Engine.IO v4: a ping every pingInterval, on a fixed schedule (the client allows pingInterval +
                // pingTimeout between pings); each must be answered within pingTimeout of being sent.
                let clock = ContinuousClock()
                var nextPing = clock.now.advanced(by: settings.pingInterval)
                var unanswered: [ContinuousClock.Instant] = []  // pings sent and not yet followed by a pong
                while !Task.isCancelled {
                    let deadline = unanswered.first?.advanced(by: settings.pingTimeout)
                    try? await Task.sleep(until: min(nextPing, deadline ?? nextPing), clock: clock)
                    if Task.isCancelled { return }
                    let pong = lastPong.withLock { $0 }
                    unanswered.removeAll { $0 <= pong }
                    if let oldest = unanswered.first, clock.now >= oldest.advanced(by: settings.pingTimeout) {
                        logger.info("socket.io client did not answer a ping in time; closing", metadata: ["pingTimeout": "\(settings.pingTimeout)"])
                        outbox.finish()
                        return
                    }
                    if clock.now >= nextPing {
                        unanswered.append(clock.now)
                        outbox.send("2")
                        nextPing = nextPing.advanced(by: settings.pingInterval)
                    }
                }
            }
            await WebSocketReader.read(inbound, maxBytes: context.settings.maxMessageBytes) { message in
                let session = state.withLock { $0.session }
                switch message {
                case .text(let text):
                    guard let kind = text.first else { return }
                    switch kind {
                    case "2": outbox.send("3" + text.dropFirst())  // client ping (probe): pong
                    case "3": lastPong.withLock { $0 = .now }
                    case "1": outbox.finish()
                    case "4":
                        let packet = String(text.dropFirst())
                        if let session {
                            await handlePacket(packet, session: session, encoder: encoder, state: state, context: context)
                        } else {
                            connect(
                                packet, outbox: outbox, encoder: encoder, state: state, closeCode: closeCode, context: context, client: client,
                                logger: logger)
                        }
                    default: break
                    }
                case .binary:
                    let error = ProtocolError(code: "bad-message", message: "binary Socket.IO packets are not supported; send JSON events")
                    if let session {
                        await session.sendError(run: nil, error)
                    } else {
                        outbox.send(encoder.error(run: nil, code: error.code, message: error.message))
                    }
                case .tooLarge(let size):
                    let error = ProtocolError.tooLarge(size: size, limit: context.settings.maxMessageBytes)
                    if let session {
                        await session.sendError(run: nil, error)
                    } else {
                        outbox.send(encoder.error(run: nil, code: error.code, message: error.message))
                    }
                }
            }
            let session = state.withLock { $0.session }
            if let session { await session.end() }
            outbox.finish()
            group.cancelAll()
            await group.waitForAll()
            if let session {
                context.releaseSession(session)
                session.logger.info("session closed", metadata: ["seconds": "\(Int(milliseconds(ContinuousClock.now - opened) / 1000))"])
            }
        }
    }

    /// A packet before the session exists: only CONNECT to the default namespace, authenticated, then admitted.
    static func connect(
        _ packet: String, outbox: Outbox, encoder: SocketIOEncoder, state: Locked<AdapterState>, closeCode: Locked<Int>,
        context: ServerContext, client: String, logger: Logger
    ) {
        guard let parsed = parsePacket(packet) else { return }
        let nsPrefix = parsed.namespace == "/" ? "" : parsed.namespace + ","
        guard parsed.type == "0" else {
            if parsed.type == "2" { outbox.send("44\(nsPrefix){\"message\":\"send CONNECT (40) before events\"}") }
            return
        }
        guard parsed.namespace == "/" else {
            outbox.send("44\(nsPrefix){\"message\":\"Invalid namespace\"}")
            return
        }
        let authorized = state.withLock { $0.authorized }
        if !authorized {
            guard let given = parsed.payload?["token"]?.text, GuardMiddleware.constantTimeEqual(given, context.settings.token) else {
                context.metrics.protocolError()
                logger.info("socket.io connect without a valid token refused")
                outbox.send(
                    "44{\"message\":\"unauthorized: send the server token in the auth object ({token}) or as 'Authorization: Bearer <token>'\"}")
                return
            }
        }
        if let refusal = context.admitSession(client: client) {
            logger.notice("connection refused", metadata: ["code": "\(refusal.code)", "protocol": "socket.io"])
            outbox.send("44{\"message\":\(JSON.quote(refusal.message)),\"data\":{\"code\":\(JSON.quote(refusal.code))}}")
            closeCode.withLock { $0 = refusal.code == "shutting-down" ? Int(ServerContext.serviceRestart) : 1013 }
            outbox.finish()
            return
        }
        let session = ClientSession(context: context, client: client, outbox: outbox, encoder: encoder, logger: context.logger)
        state.withLock {
            $0.authorized = true
            $0.connected = true
            $0.session = session
        }
        if !context.register(session) {
            Task { await session.shutDown(reason: "the server is shutting down", closeCode: ServerContext.serviceRestart) }
        }
        session.logger.info("session opened", metadata: ["protocol": "socket.io"])
        outbox.send("40{\"sid\":\(JSON.quote(session.name))}")
    }

    struct AdapterState {
        var authorized: Bool
        var connected = false
        /// The console the last `run` was for: where a bare `input` string goes.
        var lastRun: String?
        /// Admitted at the first successful CONNECT.
        var session: ClientSession?
    }

    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<20).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }

    /// A Socket.IO packet (the text after Engine.IO's `4`): type digit, optional `/namespace,`, optional ack id, JSON.
    struct Packet {
        var type: Character
        var namespace = "/"
        var ackID: String?
        /// nil when absent or not JSON (the handlers answer that with an error).
        var payload: JSONValue?
    }

    /// Splits a Socket.IO packet; nil only for an empty one. Pure, for the fuzz tests.
    static func parsePacket(_ packet: String) -> Packet? {
        var rest = Substring(packet)
        guard let type = rest.first else { return nil }
        rest = rest.dropFirst()
        var parsed = Packet(type: type)
        if rest.first == "/" {
            let end = rest.firstIndex(of: ",") ?? rest.endIndex
            parsed.namespace = String(rest[..<end])
            rest = end < rest.endIndex ? rest[rest.index(after: end)...] : ""
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        parsed.ackID = digits.isEmpty ? nil : String(digits)
        rest = rest.dropFirst(digits.count)
        parsed.payload = rest.isEmpty ? nil : try? JSONGuard.decode(JSONValue.self, from: rest.utf8)
        return parsed
    }

    static func handlePacket(_ packet: String, session: ClientSession, encoder: SocketIOEncoder, state: Locked<AdapterState>, context: ServerContext)
        async
    {
        guard let parsed = parsePacket(packet) else { return }
        let namespace = parsed.namespace
        let ackID = parsed.ackID
        let payload = parsed.payload
        let nsPrefix = namespace == "/" ? "" : namespace + ","

        switch parsed.type {
        case "0":  // CONNECT
            guard namespace == "/" else {
                session.notify("44\(nsPrefix){\"message\":\"Invalid namespace\"}")
                return
            }
            state.withLock { $0.connected = true }  // the session exists, so the socket authenticated
            session.notify("40{\"sid\":\(JSON.quote(session.name))}")
        case "1":  // DISCONNECT from the namespace: the session ends, the socket may stay
            state.withLock { $0.connected = false }
            await session.end(reason: "the client disconnected from the namespace")
        case "2":  // EVENT
            guard state.withLock({ $0.connected }) else {
                session.notify("44\(nsPrefix){\"message\":\"send CONNECT (40) before events\"}")
                return
            }
            guard let arguments = payload?.array, let name = arguments.first?.text else {
                await session.sendError(
                    run: nil, ProtocolError(code: "bad-message", message: "an event packet must be a JSON array starting with the event name"))
                return
            }
            let argument = arguments.count > 1 ? arguments[1] : JSONValue.null
            var failure: ProtocolError?
            do throws(ProtocolError) {
                try await handleEvent(name, argument, session: session, encoder: encoder, state: state)
            } catch {
                failure = error
                if name.hasPrefix("kernel:") {
                    await session.sendKernelFailure(
                        nil, kernelID: argument["kernelId"]?.text, cellRef: argument["cellId"]?.text,
                        notebook: argument["notebookId"]?.text, error)
                } else {
                    await session.sendError(run: argument["sessionId"]?.text, error)
                }
            }
            if let ackID {
                let reply = failure.map { "{\"ok\":false,\"code\":\(JSON.quote($0.code)),\"error\":\(JSON.quote($0.message))}" } ?? "{\"ok\":true}"
                session.notify("43\(nsPrefix)\(ackID)[\(reply)]")
            }
        default:
            break  // ACK from the client, binary packets: nothing to do
        }
    }

    static func handleEvent(_ name: String, _ argument: JSONValue, session: ClientSession, encoder: SocketIOEncoder, state: Locked<AdapterState>)
        async throws(ProtocolError)
    {
        switch name {
        case "run":
            guard case .object = argument else {
                throw ProtocolError(code: "bad-message", message: "run takes {sessionId, language, files: [{name, path, content, toBeExec}]}")
            }
            let console = argument["sessionId"]?.text ?? "default"
            guard let fileValues = argument["files"]?.array, !fileValues.isEmpty else {
                throw ProtocolError(code: "bad-request", message: "run: files is empty; send [{name, path, content, toBeExec}]")
            }
            var files: [SubmittedFile] = []
            var entry: String?
            for (index, file) in fileValues.enumerated() {
                var path = file["path"]?.text ?? ""
                if path.isEmpty { path = file["name"]?.text ?? "" }
                while path.hasPrefix("/") { path.removeFirst() }
                while path.hasPrefix("./") { path.removeFirst(2) }
                guard !path.isEmpty else { throw ProtocolError(code: "bad-request", message: "files[\(index)] needs a name or path") }
                guard let content = file["content"]?.text else {
                    throw ProtocolError(code: "bad-request", message: "files[\(index)] (\(path)) needs content")
                }
                files.append(SubmittedFile(path: path, contents: Array(content.utf8)))
                if entry == nil, file["toBeExec"]?.bool == true { entry = path }
            }
            let spec = RunSpec(id: console, language: argument["language"]?.text, files: files, entry: entry ?? files[0].path, stdin: nil)
            state.withLock { $0.lastRun = console }
            await session.startRun(spec, replace: true)
        case "input":
            let console: String?
            let data: String
            switch argument {
            case .string(let text):
                data = text
                console = state.withLock { $0.lastRun }
            case .object:
                data = argument["input"]?.text ?? argument["data"]?.text ?? ""
                console = argument["sessionId"]?.text ?? state.withLock { $0.lastRun }
            default:
                throw ProtocolError(code: "bad-message", message: "input takes a string (or {sessionId, input})")
            }
            try await session.input(run: console, data: Array(data.utf8), end: false)
        case "stop":
            let console = argument["sessionId"]?.text
            if let console, !(await session.runIDs.contains(console)) { return }  // already finished: nothing to stop
            try await session.stop(run: console)
        case let kernelEvent where kernelEvent.hasPrefix("kernel:"):
            try await handleKernelEvent(kernelEvent, argument, session: session)
        default:
            throw ProtocolError(
                code: "unknown-type",
                message:
                    "unknown event '\(name)'; events: run, input, stop, kernel:start, kernel:execute, kernel:interrupt, kernel:restart, kernel:shutdown"
            )
        }
    }
}
