import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A complete (or fully streamed) response.
struct DockerHTTPResponse: Sendable {
    var head: HTTPResponseHead
    /// The body, unless it was delivered line by line (then only non-2xx bodies are collected here).
    var body: [UInt8]
    /// The first error a line callback reported (image build / import progress streams report errors in-band).
    var streamError: String?

    var status: Int { head.status }
    var isSuccess: Bool { (200..<300).contains(head.status) }
}

/// Opens one connection per request: unix socket connects are cheap, and it keeps every request independent
/// (no pooling state to get wrong, a hijacked exec never blocks a JSON call).
struct DockerTransport: Sendable {
    let host: DockerHost
    let group: any EventLoopGroup
    let logger: Logger

    /// Connects and installs handlers via `initializer`. Connection failures become `.unreachable`.
    func connect(
        on eventLoop: any EventLoop,
        connectTimeout: Duration = .seconds(10),
        halfClosure: Bool = false,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>
    ) async throws -> any Channel {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(
                .nanoseconds(
                    Int64(connectTimeout.components.seconds) * 1_000_000_000
                        + connectTimeout.components.attoseconds / 1_000_000_000)
            )
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: halfClosure)
            .channelInitializer(initializer)
        do {
            switch host {
            case .unixSocket(let path):
                return try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let hostName, let port):
                return try await bootstrap.connect(host: hostName, port: port).get()
            }
        } catch {
            throw DockerError.unreachable(host: host.description, reason: Self.describe(error))
        }
    }

    /// Sends one request and waits for the whole response. `timeout` nil means wait forever (streams: build, wait).
    /// `onLine` switches a 2xx body to line-by-line delivery (JSON progress streams).
    func send(
        _ request: DockerHTTPRequest,
        timeout: Duration?,
        onLine: (@Sendable ([UInt8]) -> String?)? = nil
    ) async throws -> DockerHTTPResponse {
        try Task.checkCancellation()
        let start = ContinuousClock.now
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: DockerHTTPResponse.self)
        let isHead = request.method == "HEAD"
        let maxBody = request.method == "GET" ? 256 << 20 : 64 << 20
        let channel: any Channel
        do {
            channel = try await connect(on: eventLoop, connectTimeout: min(timeout ?? .seconds(10), .seconds(10))) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPResponseCollector(promise: promise, isHeadRequest: isHead, maxBodyBytes: maxBody, onLine: onLine))
                }
            }
        } catch {
            promise.fail(error)
            throw error
        }
        let path = request.path
        if let timeout {
            let scheduled = eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) {
                promise.fail(DockerError.timeout(path: path))
            }
            promise.futureResult.whenComplete { _ in scheduled.cancel() }
        }
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        channel.writeAndFlush(ByteBuffer(bytes: request.encoded(host: host.httpHostHeader))).whenFailure { error in
            promise.fail(DockerError.unreachable(host: host.description, reason: Self.describe(error)))
        }
        let response = try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            promise.fail(CancellationError())
        }
        logger.debug(
            "docker request",
            metadata: [
                "method": "\(request.method)", "path": "\(request.path)", "status": "\(response.status)",
                "elapsed": "\(ContinuousClock.now - start)",
            ])
        return response
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? DockerError { return error.description }
        // The system's words for errno ("No such file or directory"), not NIO's rendering with the failing call's
        // Swift signature and a stray parenthesis.
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() + " (errno \(error.errnoCode))" }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return describe(first.error) }
            return "connection failed"
        }
        if error is ChannelError { return "\(error)" }
        return String(describing: error)
    }
}

/// Collects (or streams line by line) one HTTP response and completes `promise` with it.
final class HTTPResponseCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var parser: HTTPResponseParser
    private let promise: EventLoopPromise<DockerHTTPResponse>
    private let maxBodyBytes: Int
    private let onLine: (@Sendable ([UInt8]) -> String?)?
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var lineBuffer: [UInt8] = []
    private var streamError: String?
    private var done = false

    init(
        promise: EventLoopPromise<DockerHTTPResponse>, isHeadRequest: Bool, maxBodyBytes: Int,
        onLine: (@Sendable ([UInt8]) -> String?)?
    ) {
        self.parser = HTTPResponseParser(isHeadRequest: isHeadRequest)
        self.promise = promise
        self.maxBodyBytes = maxBodyBytes
        self.onLine = onLine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        let buffer = unwrapInboundIn(data)
        parser.append(buffer.readableBytesView)
        do {
            while let event = try parser.next() {
                handle(event, context: context)
                if done { return }
            }
        } catch {
            fail(error, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            do {
                if let event = try parser.finish() { handle(event, context: context) }
            } catch {
                fail(error, context: context)
            }
            if !done { fail(DockerError.protocolError("the engine closed the connection early"), context: context) }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(DockerError.protocolError("connection error: \(DockerTransport.describe(error))"), context: context)
    }

    private func handle(_ event: HTTPResponseParser.Event, context: ChannelHandlerContext) {
        switch event {
        case .head(let head):
            self.head = head
        case .body(let bytes):
            if let onLine, let head, (200..<300).contains(head.status) {
                lineBuffer += bytes
                var start = 0
                while let newline = lineBuffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    deliver(Array(lineBuffer[start..<newline]), onLine)
                    start = newline + 1
                }
                lineBuffer.removeFirst(start)
            } else {
                body += bytes
                if body.count > maxBodyBytes {
                    fail(DockerError.protocolError("response body larger than \(maxBodyBytes >> 20) MiB"), context: context)
                }
            }
        case .end:
            if let onLine, !lineBuffer.isEmpty { deliver(lineBuffer, onLine) }
            done = true
            if let head {
                promise.succeed(DockerHTTPResponse(head: head, body: body, streamError: streamError))
            } else {
                promise.fail(DockerError.protocolError("response ended before its head"))
            }
            context.close(promise: nil)
        }
    }

    private func deliver(_ line: [UInt8], _ onLine: @Sendable ([UInt8]) -> String?) {
        var line = line
        if line.last == 13 { line.removeLast() }
        guard !line.isEmpty else { return }
        if let error = onLine(line), streamError == nil { streamError = error }
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        promise.fail(error)
        context.close(promise: nil)
    }
}
