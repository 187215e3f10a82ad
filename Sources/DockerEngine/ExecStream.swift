import NIOCore

/// A running exec's hijacked connection: output as an async sequence, input through `write`.
///
/// Output is pulled: bytes are read from the socket only while fewer than `ExecOutputSource.highWatermark` bytes wait
/// for the consumer, so a slow consumer slows the process down instead of growing memory.
public final class ExecStream: Sendable {
    /// Output chunks as they arrive; finishes when the engine closes the stream (the process exited), throws on
    /// a broken connection or corrupt framing.
    public let output: AsyncThrowingStream<ExecChunk, any Error>
    private let connection: ConnectionOwner
    private var channel: any Channel { connection.channel }

    init(channel: any Channel, source: ExecOutputSource) {
        let connection = ConnectionOwner(channel: channel)
        self.connection = connection
        self.output = AsyncThrowingStream(unfolding: {
            // Capturing the owner keeps the connection open while someone still iterates the output.
            _ = connection
            return try await source.next()
        })
    }

    /// Writes to the process's stdin. Suspends until the bytes are handed to the socket, so a process that does not
    /// read its stdin slows the writer down instead of queueing data in memory.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        } catch {
            throw DockerError.protocolError("cannot write to the process's stdin: \(DockerTransport.describe(error))")
        }
    }

    /// Half-closes the connection: the process sees EOF on stdin while its output keeps flowing.
    public func closeWrite() async throws {
        do {
            try await channel.close(mode: .output).get()
        } catch ChannelError.outputClosed {
            return
        } catch ChannelError.alreadyClosed {
            return
        } catch {
            throw DockerError.protocolError("cannot close the process's stdin: \(DockerTransport.describe(error))")
        }
    }

    /// Drops the connection. The process itself keeps running: Docker has no API to stop an exec.
    public func close() async {
        try? await channel.close().get()
    }
}

/// Closes the channel once neither the `ExecStream` nor its output sequence is referenced, so an abandoned stream
/// does not leave a connection (and a process blocked on a full pipe) behind.
final class ConnectionOwner: Sendable {
    let channel: any Channel
    init(channel: any Channel) { self.channel = channel }
    deinit { channel.close(promise: nil) }
}

/// Bounded hand-over of output chunks from the event loop to the consumer. All state lives on the channel's event loop.
final class ExecOutputSource: Sendable {
    static let highWatermark = 1 << 20
    static let lowWatermark = 256 << 10
    /// Chunks of the same stream waiting together are merged up to this size, to save per-chunk overhead.
    static let mergeLimit = 64 << 10

    struct State {
        var queue = CircularBuffer<ExecChunk>()
        var queuedBytes = 0
        var waiter: EventLoopPromise<ExecChunk?>?
        var terminal: Result<Void, any Error>?
        /// Asks the handler to resume reading once the consumer has drained the queue.
        var onDemand: (() -> Void)?
    }

    let eventLoop: any EventLoop
    private let state: NIOLoopBoundBox<State>

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    // MARK: event-loop side

    var isFull: Bool { state.value.queuedBytes >= Self.highWatermark }

    func setOnDemand(_ onDemand: @escaping () -> Void) { state.value.onDemand = onDemand }

    func push(_ chunk: ExecChunk) {
        guard state.value.terminal == nil else { return }
        if let waiter = state.value.waiter {
            state.value.waiter = nil
            waiter.succeed(chunk)
        } else {
            state.value.queue.append(chunk)
            state.value.queuedBytes += chunk.bytes.count
        }
    }

    func finish(_ error: (any Error)? = nil) {
        guard state.value.terminal == nil else { return }
        state.value.terminal = error.map { .failure($0) } ?? .success(())
        state.value.onDemand = nil
        if let waiter = state.value.waiter, state.value.queue.isEmpty {
            state.value.waiter = nil
            completeTerminal(waiter)
        }
    }

    private func completeTerminal(_ promise: EventLoopPromise<ExecChunk?>) {
        switch state.value.terminal {
        case .failure(let error): promise.fail(error)
        default: promise.succeed(nil)
        }
    }

    private func nextOnLoop() -> EventLoopFuture<ExecChunk?> {
        if var chunk = state.value.queue.popFirst() {
            while let following = state.value.queue.first, following.stream == chunk.stream,
                chunk.bytes.count + following.bytes.count <= Self.mergeLimit
            {
                chunk.bytes += state.value.queue.removeFirst().bytes
            }
            state.value.queuedBytes -= chunk.bytes.count
            if state.value.queuedBytes < Self.lowWatermark { state.value.onDemand?() }
            return eventLoop.makeSucceededFuture(chunk)
        }
        let promise = eventLoop.makePromise(of: ExecChunk?.self)
        if state.value.terminal != nil {
            completeTerminal(promise)
        } else {
            state.value.waiter?.fail(DockerError.protocolError("concurrent reads of one exec output"))
            state.value.waiter = promise
            state.value.onDemand?()
        }
        return promise.futureResult
    }

    // MARK: consumer side

    func next() async throws -> ExecChunk? {
        let future = eventLoop.flatSubmit { self.nextOnLoop() }
        return try await withTaskCancellationHandler {
            try await future.get()
        } onCancel: {
            self.eventLoop.execute {
                if let waiter = self.state.value.waiter {
                    self.state.value.waiter = nil
                    waiter.fail(CancellationError())
                }
            }
        }
    }
}

/// Turns the raw stream after a hijack into `ExecChunk`s, and reads from the socket only while the consumer keeps up.
final class ExecStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case multiplexed(DockerStreamFrameDecoder)
        case raw
        case closed
    }

    private var mode: Mode
    private let source: ExecOutputSource
    private var pendingRead = false
    private var context: ChannelHandlerContext?

    init(source: ExecOutputSource, tty: Bool) {
        self.source = source
        self.mode = tty ? .raw : .multiplexed(DockerStreamFrameDecoder())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        source.setOnDemand { [weak self] in self?.resumeReading() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    private func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    func read(context: ChannelHandlerContext) {
        if source.isFull {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytesView
        do {
            switch mode {
            case .multiplexed(var decoder):
                decoder.append(bytes)
                while let chunk = try decoder.next() { source.push(chunk) }
                mode = .multiplexed(decoder)
            case .raw:
                if !bytes.isEmpty { source.push(ExecChunk(stream: .stdout, bytes: Array(bytes))) }
            case .closed:
                break
            }
        } catch {
            fail(error, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .multiplexed(let decoder) = mode, decoder.bufferedByteCount > 0 {
            source.finish(DockerError.protocolError("exec output ended in the middle of a frame"))
        } else {
            source.finish()
        }
        mode = .closed
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(DockerTransport.protocolError(error, connection: "exec connection"), context: context)
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        source.finish(error)
        mode = .closed
        context.close(promise: nil)
    }
}
