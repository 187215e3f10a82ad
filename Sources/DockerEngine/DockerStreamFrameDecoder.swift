/// Which output of the process a chunk came from.
public enum ExecOutputStream: Sendable, Equatable, Hashable {
    case stdout
    case stderr
}

/// A piece of process output, in arrival order.
public struct ExecChunk: Sendable, Equatable {
    public var stream: ExecOutputStream
    public var bytes: [UInt8]

    public init(stream: ExecOutputStream, bytes: [UInt8]) {
        self.stream = stream
        self.bytes = bytes
    }
}

/// Splits Docker's multiplexed attach/exec stream into chunks. Each frame is an 8-byte header
/// `[stream, 0, 0, 0, UInt32 big-endian length]` followed by the payload; frames may be split across reads or
/// several may arrive in one read, so only whole frames are returned.
public struct DockerStreamFrameDecoder: Sendable {
    /// Frames larger than this are treated as corruption rather than buffered without bound.
    public let maxFrameBytes: Int
    private var buffer: [UInt8] = []
    private var index = 0

    public init(maxFrameBytes: Int = 16 << 20) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes received but not yet returned as a frame (a partial frame at end of stream means truncation).
    public var bufferedByteCount: Int { buffer.count - index }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if index > 0 && index >= buffer.count / 2 {
            buffer.removeFirst(index)
            index = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil if more bytes are needed. Empty frames are skipped.
    public mutating func next() throws(DockerError) -> ExecChunk? {
        while buffer.count - index >= 8 {
            let kind = buffer[index]
            guard buffer[index + 1] == 0, buffer[index + 2] == 0, buffer[index + 3] == 0 else {
                throw .protocolError("invalid stream frame header (is the exec running with a TTY?)")
            }
            let length =
                Int(buffer[index + 4]) << 24 | Int(buffer[index + 5]) << 16 | Int(buffer[index + 6]) << 8
                | Int(buffer[index + 7])
            let stream: ExecOutputStream
            switch kind {
            case 0, 1: stream = .stdout  // 0 (stdin) only appears when Docker echoes input; treat it as output
            case 2, 3: stream = .stderr  // 3 is Docker's "systemerr" (engine-side errors)
            default: throw .protocolError("unknown stream type \(kind) in stream frame header")
            }
            guard length <= maxFrameBytes else {
                throw .protocolError("stream frame of \(length) bytes exceeds the \(maxFrameBytes)-byte limit")
            }
            guard buffer.count - index - 8 >= length else { return nil }
            let start = index + 8
            index = start + length
            if length == 0 { continue }
            return ExecChunk(stream: stream, bytes: Array(buffer[start..<start + length]))
        }
        return nil
    }
}
