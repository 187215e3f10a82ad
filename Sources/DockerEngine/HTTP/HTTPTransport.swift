import Logging
import NIOCore
import NIOHTTP1
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

    var status: Int { Int(head.status.code) }
    var isSuccess: Bool { (200..<300).contains(status) }
}

/// Opens one connection per request: unix socket connects are cheap, and it keeps every request independent
/// (no pooling state to get wrong, a hijacked exec never blocks a JSON call).
struct DockerTransport: Sendable {
    let host: DockerHost
    let group: any EventLoopGroup
    let logger: Logger

    /// Connects and sets the pipeline up via `initializer`. Connection failures become `.unreachable`.
    func connect<Output: Sendable>(
        on eventLoop: any EventLoop,
        connectTimeout: Duration = .seconds(10),
        initializer: @escaping @Sendable (any Channel) throws -> Output
    ) async throws -> Output {
        let bootstrap = ClientBootstrap(group: eventLoop).connectTimeout(.nanoseconds(Self.nanoseconds(connectTimeout)))
        let initialize: @Sendable (any Channel) -> EventLoopFuture<Output> = { channel in
            channel.eventLoop.makeCompletedFuture { try initializer(channel) }
        }
        do {
            switch host {
            case .unixSocket(let path):
                return try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initialize)
            case .tcp(let hostName, let port):
                return try await bootstrap.connect(host: hostName, port: port, channelInitializer: initialize)
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
        let channel = try await connect(on: group.next(), connectTimeout: min(timeout ?? .seconds(10), .seconds(10))) { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
        }
        let parts = request.parts(host: host.httpHostHeader)
        let collector = ResponseCollector(maxBodyBytes: request.method == "GET" ? 256 << 20 : 64 << 20, onLine: onLine)
        let response = try await Self.withDeadline(timeout, path: request.path) {
            try await channel.executeThenClose { inbound, outbound in
                // A small request fits the channel's write buffer, so writing it first never waits on the engine. A large
                // body is written beside the reading, so an engine that answers (or streams progress) before it has read
                // all of it never waits on us.
                guard (request.body?.count ?? 0) > Self.inlineBodyLimit else {
                    try await outbound.write(contentsOf: parts)
                    return try await collector.collect(inbound)
                }
                return try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await outbound.write(contentsOf: parts) }
                    defer { group.cancelAll() }
                    return try await collector.collect(inbound)
                }
            }
        }
        logger.debug(
            "docker request",
            metadata: [
                "method": "\(request.method)", "path": "\(request.path)", "status": "\(response.status)",
                "elapsed": "\(ContinuousClock.now - start)",
            ])
        return response
    }

    /// Below NIO's default write-buffer high watermark (64 KiB), so writing never suspends.
    static let inlineBodyLimit = 32 << 10

    /// Runs `operation` but throws `.timeout(path:)` once `timeout` has passed (nil: no limit). `operation` is cancelled
    /// then, so it must end when its task is cancelled.
    static func withDeadline<T: Sendable>(
        _ timeout: Duration?, path: String, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        guard let timeout else { return try await operation() }
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw DockerError.timeout(path: path)
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CancellationError() }
            return first
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Errors from the connection or NIO's HTTP decoder, in the terms `DockerError` uses.
    static func protocolError(_ error: any Error, connection: String = "connection") -> any Error {
        if error is DockerError || error is CancellationError { return error }
        if let error = error as? HTTPParserError {
            if error == .invalidEOFState { return DockerError.protocolError("the engine closed the connection in the middle of a response") }
            return DockerError.protocolError("malformed HTTP response (\(error))")
        }
        return DockerError.protocolError("\(connection) error: \(describe(error))")
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

/// Collects (or streams line by line) one response from NIO's decoded parts.
struct ResponseCollector: Sendable {
    let maxBodyBytes: Int
    let onLine: (@Sendable ([UInt8]) -> String?)?

    func collect(_ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>) async throws -> DockerHTTPResponse {
        var head: HTTPResponseHead?
        var body: [UInt8] = []
        var lineBuffer: [UInt8] = []
        var streamError: String?
        func deliver(_ line: [UInt8], _ onLine: @Sendable ([UInt8]) -> String?) {
            var line = line
            if line.last == 13 { line.removeLast() }
            guard !line.isEmpty else { return }
            if let error = onLine(line), streamError == nil { streamError = error }
        }
        do {
            for try await part in inbound {
                switch part {
                case .head(let received):
                    head = received
                case .body(let bytes):
                    if let onLine, let head, (200..<300).contains(head.status.code) {
                        lineBuffer += bytes.readableBytesView
                        var start = 0
                        while let newline = lineBuffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                            deliver(Array(lineBuffer[start..<newline]), onLine)
                            start = newline + 1
                        }
                        lineBuffer.removeFirst(start)
                    } else {
                        body += bytes.readableBytesView
                        if body.count > maxBodyBytes {
                            throw DockerError.protocolError("response body larger than \(maxBodyBytes >> 20) MiB")
                        }
                    }
                case .end:
                    guard let head else { throw DockerError.protocolError("response ended before its head") }
                    if let onLine, !lineBuffer.isEmpty { deliver(lineBuffer, onLine) }
                    return DockerHTTPResponse(head: head, body: body, streamError: streamError)
                }
            }
        } catch {
            throw DockerTransport.protocolError(error)
        }
        if head == nil { throw DockerError.protocolError("the engine closed the connection without answering") }
        throw DockerError.protocolError("the engine closed the connection in the middle of a response")
    }
}
