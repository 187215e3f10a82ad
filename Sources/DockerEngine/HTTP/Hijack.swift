import NIOCore
import NIOHTTP1

extension DockerTransport {
    /// Sends a request whose answer switches the connection to a raw stream (exec start, attach) and returns once the
    /// HTTP handlers are gone. `timeout` bounds the wait for the response head; the stream itself has no deadline.
    ///
    /// The pipeline, from the socket inwards: `EndOfInputGate`, NIO's request encoder and response decoder (keeping
    /// leftover bytes), `HijackHandler`, and `ExecStreamHandler`, which is all that is left once the engine has agreed.
    func hijack(_ request: DockerHTTPRequest, path: String, timeout: Duration, tty: Bool) async throws -> ExecStream {
        try Task.checkCancellation()
        let eventLoop = group.next()
        let upgraded = eventLoop.makePromise(of: Void.self)
        let source = ExecOutputSource(eventLoop: eventLoop)
        let parts = request.parts(host: host.httpHostHeader)
        let channel: any Channel
        do {
            channel = try await connect(on: eventLoop) { channel in
                let gate = EndOfInputGate()
                let encoder = HTTPRequestEncoder()
                let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                let hijack = HijackHandler(
                    request: parts, path: path, upgraded: upgraded, httpHandlers: [encoder, decoder], gate: gate)
                try channel.pipeline.syncOperations.addHandlers([
                    gate, encoder, decoder, hijack, ExecStreamHandler(source: source, tty: tty),
                ])
                return channel
            }
        } catch {
            upgraded.fail(error)
            throw error
        }
        do {
            try await Self.withDeadline(timeout, path: path) {
                try await withTaskCancellationHandler {
                    try await upgraded.futureResult.get()
                } onCancel: {
                    upgraded.fail(CancellationError())
                }
            }
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return ExecStream(channel: channel, source: source)
    }
}

/// Writes the hijack request and reads the answer's head. On 101 (or 2xx) it removes the HTTP handlers and itself, so
/// the bytes after the head, including those that arrived in the same read, reach `ExecStreamHandler` untouched; on
/// an error status it collects the body and fails with Docker's message.
final class HijackHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        case awaitingHead
        case upgraded
        case refused(status: Int, body: [UInt8])
        case done
    }

    private var state = State.awaitingHead
    private let request: [HTTPClientRequestPart]
    private let path: String
    private let upgraded: EventLoopPromise<Void>
    private let httpHandlers: [any RemovableChannelHandler]
    private let gate: EndOfInputGate

    init(
        request: [HTTPClientRequestPart], path: String, upgraded: EventLoopPromise<Void>, httpHandlers: [any RemovableChannelHandler],
        gate: EndOfInputGate
    ) {
        self.request = request
        self.path = path
        self.upgraded = upgraded
        self.httpHandlers = httpHandlers
        self.gate = gate
    }

    func channelActive(context: ChannelHandlerContext) {
        for part in request.dropLast() { context.write(wrapOutboundOut(part), promise: nil) }
        let channel = context.channel
        // A failed write ends in the connection's close, which reports the exec as unanswered.
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenFailure { _ in channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (state, unwrapInboundIn(data)) {
        case (.awaitingHead, .head(let head)):
            if head.status == .switchingProtocols || (200..<300).contains(head.status.code) {
                upgrade(context: context)
            } else {
                state = .refused(status: Int(head.status.code), body: [])
            }
        case (.upgraded, .body(let bytes)):
            // A 2xx without the upgrade: the decoder takes the stream for a body until it is removed.
            context.fireChannelRead(wrapInboundOut(bytes))
        case (.refused(let status, let body), .body(let bytes)):
            state = .refused(status: status, body: body + bytes.readableBytesView)
        case (.refused(let status, let body), .end):
            state = .done
            upgraded.fail(DockerClient.apiError(status: status, body: body, path: path))
            context.close(promise: nil)
        default:
            break  // the `.end` of a 101, or anything after a refusal
        }
    }

    private func upgrade(context: ChannelHandlerContext) {
        state = .upgraded
        gate.hold()
        let pipeline = context.pipeline.syncOperations
        let loop = context.eventLoop.assumeIsolated()
        // This handler leaves first, in a task of its own: the current read may still carry the head's `.end` (or
        // body parts), and the decoder's leftover bytes, forwarded when it leaves right after, must not reach it.
        loop.execute { pipeline.removeHandler(context: context, promise: nil) }
        let removals = httpHandlers.map { pipeline.removeHandler($0) }
        let gate = self.gate
        let upgraded = self.upgraded
        EventLoopFuture.andAllSucceed(removals, on: context.eventLoop).assumeIsolated().whenComplete { result in
            gate.release()
            pipeline.removeHandler(gate, promise: nil)
            switch result {
            case .success: upgraded.succeed()
            case .failure(let error): upgraded.fail(DockerTransport.protocolError(error, connection: "exec connection"))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .awaitingHead, .refused: upgraded.fail(DockerError.protocolError("the engine closed the exec connection before answering"))
        case .upgraded, .done: break
        }
        state = .done
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state = .done
        upgraded.fail(DockerTransport.protocolError(error, connection: "exec connection"))
        context.close(promise: nil)
    }
}

/// Holds back the end of input while the response decoder is being removed. The decoder drops the bytes it still
/// buffers when it sees the end of input, so an engine that sends the head, the output and its close in one go would
/// lose output; held here, the end arrives after those bytes have been forwarded.
final class EndOfInputGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var holding = false
    private var held: [ChannelEvent?] = []
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func hold() { holding = true }

    /// Passes on what was held, in order (nil stands for the channel becoming inactive).
    func release() {
        holding = false
        let events = held
        held = []
        for event in events {
            if let event { context?.fireUserInboundEventTriggered(event) } else { context?.fireChannelInactive() }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if holding { held.append(nil) } else { context.fireChannelInactive() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if holding, let event = event as? ChannelEvent, event == .inputClosed {
            held.append(event)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
