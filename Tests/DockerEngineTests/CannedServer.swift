import Foundation
import NIOCore
import NIOPosix

/// A unix-socket server that answers each connection with canned bytes, to test the transport without Docker.
final class CannedServer: Sendable {
    let path: String
    let channel: any Channel
    /// Every request as it arrived (head and body), one entry per connection.
    let requests = Recorded()

    /// Once a whole request (head plus its `Content-Length` body) has arrived, writes `pieces` one by one, 20 ms apart
    /// so that each is read on its own, then closes the connection if `close` is set. With `echo`, every later byte
    /// from the client comes back as a stdout frame, and the client's half-close ends the connection.
    init(pieces: [[UInt8]], close: Bool, echo: Bool = false) async throws {
        path = "/tmp/cr-canned-\(UUID().uuidString.prefix(8)).sock"
        let requests = self.requests
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: echo)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Responder(pieces: pieces, close: close, echo: echo, requests: requests))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
    }

    func stop() async {
        try? await channel.close().get()
        try? FileManager.default.removeItem(atPath: path)
    }

    final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let pieces: [[UInt8]]
        let close: Bool
        let echo: Bool
        let requests: Recorded
        var received: [UInt8] = []
        var answered = false

        init(pieces: [[UInt8]], close: Bool, echo: Bool, requests: Recorded) {
            self.pieces = pieces
            self.close = close
            self.echo = echo
            self.requests = requests
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(unwrapInboundIn(data).readableBytesView)
            if answered {
                if echo { context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: FrameDecoderTests.frame(1, bytes))), promise: nil) }
                return
            }
            received += bytes
            guard let length = Self.completeRequestLength(received) else { return }
            answered = true
            requests.append(Array(received[..<length]))
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let closeAfter = close ? pieces.count - 1 : -1
            if pieces.isEmpty && close { context.close(promise: nil) }
            for (index, piece) in pieces.enumerated() {
                context.eventLoop.scheduleTask(in: .milliseconds(20 * Int64(index))) {
                    bound.value.writeAndFlush(NIOAny(ByteBuffer(bytes: piece)), promise: nil)
                    if index == closeAfter { bound.value.close(promise: nil) }
                }
            }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
        }

        /// The length of the first request in `bytes` once it is complete (head and `Content-Length` body), else nil.
        static func completeRequestLength(_ bytes: [UInt8]) -> Int? {
            guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { bytes[$0..<$0 + 4] == [13, 10, 13, 10] }) else {
                return nil
            }
            let head = String(decoding: bytes[..<end], as: UTF8.self).lowercased()
            let length =
                head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            return bytes.count >= end + 4 + length ? end + 4 + length : nil
        }
    }
}

/// A tiny thread-safe log of byte strings, for what a server received.
final class Recorded: @unchecked Sendable {
    private var storage: [[UInt8]] = []
    private let lock = NSLock()
    func append(_ value: [UInt8]) { lock.withLock { storage.append(value) } }
    var values: [[UInt8]] { lock.withLock { storage } }
}
