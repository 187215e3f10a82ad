import CodeRunnerCore
import Hummingbird
import HummingbirdWebSocket
import Logging

/// Reads whole messages from a WebSocket with a soft size limit: a message over `maxBytes` is read to its end and dropped
/// (the caller answers with an error and the connection stays usable). The frame size limit of the server configuration
/// is the hard limit beyond which the socket is closed (1009), so a client cannot make the server buffer without bound.
enum WebSocketReader {
    enum Message {
        case text(String)
        case binary
        case tooLarge(Int)
    }

    static func read(_ inbound: WebSocketInboundStream, maxBytes: Int, handle: (Message) async -> Void) async {
        var iterator = inbound.makeAsyncIterator()
        var buffer: [UInt8] = []
        var size = 0
        var isText = true
        do {
            while let frame = try await iterator.next() {
                switch frame.opcode {
                case .text, .binary:
                    buffer = []
                    size = 0
                    isText = frame.opcode == .text
                case .continuation:
                    break
                }
                size += frame.data.readableBytes
                if size <= maxBytes {
                    buffer.append(contentsOf: frame.data.readableBytesView)
                } else {
                    buffer = []
                }
                guard frame.fin else { continue }
                if size > maxBytes {
                    await handle(.tooLarge(size))
                } else if !isText {
                    await handle(.binary)
                } else {
                    await handle(.text(String(decoding: buffer, as: UTF8.self)))
                }
                buffer = []
                size = 0
            }
        } catch {
            // The peer closed or broke the connection; the caller ends the session.
        }
    }
}

/// One `/ws` connection: admission, the session's lifetime, the reader and the writer.
enum NativeConnection {
    static func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: ServerContext, client: String, authorized: Bool)
        async
    {
        let encoder = NativeEncoder()
        guard authorized else {
            context.metrics.protocolError()
            context.logger.info("socket without a valid token refused", metadata: ["client": "\(client)"])
            try? await outbound.write(
                .text(
                    encoder.error(
                        run: nil, code: "unauthorized", message: "send the server token as ?token=<token> or 'Authorization: Bearer <token>'")))
            try? await outbound.close(.policyViolation, reason: "unauthorized")
            return
        }
        if let refusal = context.admitSession(client: client) {
            context.logger.notice("connection refused", metadata: ["client": "\(client)", "code": "\(refusal.code)"])
            try? await outbound.write(.text(encoder.error(run: nil, code: refusal.code, message: refusal.message)))
            // 1012 (service restart) while draining: reconnect, through the balancer, to another node.
            try? await outbound.close(.unknown(refusal.code == "shutting-down" ? ServerContext.serviceRestart : 1013), reason: refusal.code)
            return
        }
        let outbox = Outbox()
        let session = ClientSession(context: context, client: client, outbox: outbox, encoder: encoder, logger: context.logger)
        context.register(session)
        let opened = ContinuousClock.now
        session.logger.info("session opened", metadata: ["protocol": "native"])
        outbox.send(hello(session: session, context: context))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await outbox.drain { try await outbound.write(.text($0)) }
                // The queue was closed by a server shutdown: close the socket too, which ends the reader.
                try? await outbound.close(outbox.closeCode.map { .unknown($0) } ?? .goingAway, reason: "server shutting down")
            }
            await WebSocketReader.read(inbound, maxBytes: context.settings.maxMessageBytes) { message in
                switch message {
                case .text(let text):
                    await NativeProtocol.handle(text, session: session)
                case .binary:
                    await session.sendError(
                        run: nil, ProtocolError(code: "bad-message", message: "binary messages are not part of the protocol; send JSON as text"))
                case .tooLarge(let size):
                    await session.sendError(run: nil, .tooLarge(size: size, limit: context.settings.maxMessageBytes))
                }
            }
            await session.end()
            outbox.finish()
            await group.waitForAll()
        }
        context.releaseSession(session)
        session.logger.info("session closed", metadata: ["seconds": "\(Int(milliseconds(ContinuousClock.now - opened) / 1000))"])
    }

    struct Hello: Encodable {
        var type = "hello"
        var session: String
        /// `server.instance` of the node that took the connection (absent when unnamed): which node of a fleet.
        var instance: String?
        var languages: [Language]
        var limits: Limits
        struct Language: Encodable {
            var name: String
            var displayName: String
            var extensions: [String]
            var kernel: Bool
            var exampleFile: String
            var example: String
        }
        struct Limits: Encodable {
            var maxMessageBytes: Int
            var maxRunsAtOnce: Int
            var runsPerMinute: Int
            var maxFiles: Int
        }
    }

    static func hello(session: ClientSession, context: ServerContext) -> String {
        JSON.encode(
            Hello(
                session: session.name, instance: context.runner.settings.instance.isEmpty ? nil : context.runner.settings.instance,
                languages: context.catalog.runtimes.map {
                    .init(
                        name: $0.language, displayName: $0.manifest.displayName, extensions: $0.manifest.extensions,
                        kernel: $0.manifest.kernel?.isEmpty == false,
                        exampleFile: context.examples[$0.language]?.file ?? "", example: context.examples[$0.language]?.source ?? "")
                },
                limits: .init(
                    maxMessageBytes: context.settings.maxMessageBytes, maxRunsAtOnce: context.settings.maxRunsPerSession,
                    runsPerMinute: context.settings.runsPerMinute, maxFiles: context.runner.settings.submissionLimits.maxFileCount)))
    }
}
