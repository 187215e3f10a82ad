// Framing: 1 byte tag, 4 byte big-endian payload length, payload.
// Payloads use a small length-prefixed binary encoding: integers big-endian, Bool as one byte 0/1,
// byte strings and UTF-8 strings as UInt32 length + bytes, arrays as UInt32 count + elements,
// optionals as one presence byte 0/1 + value.

/// Why a byte stream could not be decoded. The stream cannot be resynchronised after any of these.
public enum AgentProtocolError: Error, Equatable, CustomStringConvertible {
    /// A frame header announced more than `AgentWire.maxFrameBytes`.
    case frameTooLarge(length: UInt32, limit: Int)
    /// The tag byte names no message of the expected direction.
    case unknownTag(UInt8)
    /// The payload ended before a field was complete.
    case truncatedPayload(tag: UInt8)
    /// The payload had bytes left over after the message.
    case trailingBytes(tag: UInt8, count: Int)
    /// A string field is not valid UTF-8.
    case invalidUTF8(field: String)
    /// A field has a value outside its domain (e.g. a Bool byte of 7).
    case invalidValue(field: String, value: UInt64)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let limit):
            return "agent protocol: frame of \(length) bytes exceeds the \(limit)-byte limit; "
                + "send fewer or smaller files, or check that both sides speak protocol \(AgentWire.version)"
        case .unknownTag(let tag):
            return "agent protocol: unknown message tag \(tag); the engine and coderunner-agent versions differ "
                + "(rebuild the runtime images with the matching agent)"
        case .truncatedPayload(let tag):
            return "agent protocol: message with tag \(tag) is truncated; the peer sent a malformed frame "
                + "(check that both sides speak protocol \(AgentWire.version))"
        case .trailingBytes(let tag, let count):
            return "agent protocol: message with tag \(tag) has \(count) unexpected trailing bytes; "
                + "the engine and coderunner-agent versions differ"
        case .invalidUTF8(let field):
            return "agent protocol: field '\(field)' is not valid UTF-8; send file contents as bytes, names as UTF-8"
        case .invalidValue(let field, let value):
            return "agent protocol: field '\(field)' has invalid value \(value); "
                + "the engine and coderunner-agent versions differ"
        }
    }
}

/// Constants and encoders of the engine <-> agent wire format.
public enum AgentWire {
    /// How often the engine sends `keepalive` during a run over the container's main stdio.
    public static let keepaliveInterval: Duration = .seconds(2)
    /// How long an agent serving a run over the container's main stdio waits without a byte from the engine before it
    /// takes the engine for gone and stops the program.
    public static let engineSilenceLimit: Duration = .seconds(10)

    /// Protocol version, sent by the agent in `hello`. Bump on any incompatible change.
    public static let version: String = "4"
    /// Largest accepted payload. Files travel inside the run request, hence the generous size.
    public static let maxFrameBytes: Int = 512 * 1024 * 1024
    /// Size of the frame header (tag + length).
    public static let headerBytes: Int = 5
    /// Largest `output` chunk the agent sends.
    public static let maxOutputChunkBytes: Int = 64 * 1024
    /// Flow control of program stdin: the engine never has more than this many `stdin` bytes sent and not yet
    /// acknowledged by `stdinConsumed`, so the agent buffers at most this much however fast input arrives, and keeps
    /// reading its channel (a `stop` behind a flood of input still arrives at once).
    public static let stdinWindowBytes: Int = 1 << 20
    /// Largest `stdin` payload the engine sends.
    public static let maxStdinChunkBytes: Int = 64 * 1024

    enum EngineTag: UInt8 {
        case run = 0x01, stdin = 0x02, closeStdin = 0x03, stop = 0x04
        case startKernel = 0x05, execute = 0x06, interrupt = 0x07, restartKernel = 0x08
        case endOfRun = 0x09, keepalive = 0x0A, complete = 0x0B
    }

    // Agent tags live in a different range so a stream read in the wrong direction fails at once.
    enum AgentTag: UInt8 {
        case hello = 0x81, busy = 0x82, stageStarted = 0x83, output = 0x84, stageFinished = 0x85
        case failed = 0x86, finished = 0x87
        case kernelReady = 0x88, display = 0x89, cellFinished = 0x8A, kernelExited = 0x8B
        case stdinConsumed = 0x8C, runClosed = 0x8D, completions = 0x8E
    }

    /// Most names in one `completions` answer, and the longest name: a driver (user code can answer for it) cannot
    /// make the engine hold or print more.
    public static let maxCompletions = 500
    public static let maxCompletionBytes = 256

    public static func encode(_ message: EngineMessage) -> [UInt8] {
        var w = PayloadWriter()
        let tag: EngineTag
        switch message {
        case .run(let request):
            tag = .run
            w.request(request)
        case .stdin(let bytes):
            tag = .stdin
            w.bytes(bytes)
        case .closeStdin:
            tag = .closeStdin
        case .stop:
            tag = .stop
        case .startKernel(let request):
            tag = .startKernel
            w.kernelRequest(request)
        case .execute(let cell, let code):
            tag = .execute
            w.u32(cell)
            w.bytes(code)
        case .interrupt:
            tag = .interrupt
        case .restartKernel:
            tag = .restartKernel
        case .endOfRun:
            tag = .endOfRun
        case .keepalive:
            tag = .keepalive
        case .complete(let request, let code):
            tag = .complete
            w.u32(request)
            w.bytes(code)
        }
        return frame(tag: tag.rawValue, payload: w.buffer)
    }

    public static func encode(_ message: AgentMessage) -> [UInt8] {
        var w = PayloadWriter()
        let tag: AgentTag
        switch message {
        case .hello(let version):
            tag = .hello
            w.string(version)
        case .busy:
            tag = .busy
        case .stageStarted(let name):
            tag = .stageStarted
            w.string(name)
        case .output(let stream, let bytes):
            tag = .output
            w.u8(stream.rawValue)
            w.bytes(bytes)
        case .stageFinished(let result):
            tag = .stageFinished
            w.result(result)
        case .failed(let reason):
            tag = .failed
            w.string(reason)
        case .finished:
            tag = .finished
        case .kernelReady:
            tag = .kernelReady
        case .display(let cell, let mime, let data):
            tag = .display
            w.u32(cell)
            w.string(mime)
            w.bytes(data)
        case .cellFinished(let result):
            tag = .cellFinished
            w.u32(result.cell)
            w.bool(result.ok)
            w.bool(result.interrupted)
            w.bool(result.outputLimitExceeded)
            w.u64(result.wallMicroseconds)
            w.u64(result.stdinBytesRead)
        case .kernelExited(let exitCode, let signal, let memoryLimitExceeded):
            tag = .kernelExited
            w.optionalI32(exitCode)
            w.optionalI32(signal)
            w.bool(memoryLimitExceeded)
        case .stdinConsumed(let count):
            tag = .stdinConsumed
            w.u64(count)
        case .runClosed:
            tag = .runClosed
        case .completions(let request, let matches):
            tag = .completions
            w.u32(request)
            w.strings(matches)
        }
        return frame(tag: tag.rawValue, payload: w.buffer)
    }

    static func frame(tag: UInt8, payload: [UInt8]) -> [UInt8] {
        precondition(payload.count <= maxFrameBytes, "agent protocol: payload exceeds AgentWire.maxFrameBytes")
        var out: [UInt8] = []
        out.reserveCapacity(headerBytes + payload.count)
        out.append(tag)
        let n = UInt32(payload.count)
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
        out.append(contentsOf: payload)
        return out
    }
}

// MARK: - Framing

/// Accumulates bytes and cuts them into whole frames. Never reserves space for a payload before its bytes arrive.
/// After the first error it keeps returning that error: the stream cannot be resynchronised.
struct FrameBuffer: Sendable {
    private var buffer: [UInt8] = []
    private var start: Int = 0
    private(set) var failure: AgentProtocolError?

    mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        // Drop consumed bytes once they dominate, so a long stream does not grow without bound.
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed.
    mutating func nextFrame(isKnownTag: (UInt8) -> Bool) throws(AgentProtocolError) -> (tag: UInt8, payload: ArraySlice<UInt8>)? {
        if let failure { throw failure }
        let available = buffer.count - start
        guard available >= 1 else { return nil }
        let tag = buffer[start]
        guard isKnownTag(tag) else { try fail(.unknownTag(tag)) }
        guard available >= AgentWire.headerBytes else { return nil }
        var length: UInt32 = 0
        for i in 1...4 { length = length << 8 | UInt32(buffer[start + i]) }
        guard Int(length) <= AgentWire.maxFrameBytes else {
            try fail(.frameTooLarge(length: length, limit: AgentWire.maxFrameBytes))
        }
        guard available - AgentWire.headerBytes >= Int(length) else { return nil }
        let payloadStart = start + AgentWire.headerBytes
        let payload = buffer[payloadStart..<(payloadStart + Int(length))]
        start = payloadStart + Int(length)
        if start == buffer.count {
            // Everything consumed: reuse the storage. `payload` keeps its own reference to the old bytes.
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return (tag, payload)
    }

    mutating func fail(_ error: AgentProtocolError) throws(AgentProtocolError) -> Never {
        failure = error
        buffer = []
        start = 0
        throw error
    }
}

/// Decodes the engine -> agent stream (used by the agent).
public struct EngineMessageDecoder: Sendable {
    private var frames = FrameBuffer()

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        frames.append(bytes)
    }

    /// The next whole message, nil when more bytes are needed; throws on malformed input.
    public mutating func next() throws(AgentProtocolError) -> EngineMessage? {
        guard let (tag, payload) = try frames.nextFrame(isKnownTag: { AgentWire.EngineTag(rawValue: $0) != nil }) else {
            return nil
        }
        do throws(AgentProtocolError) {
            var r = PayloadReader(payload, tag: tag)
            let message: EngineMessage
            switch AgentWire.EngineTag(rawValue: tag)! {
            case .run: message = .run(try r.request())
            case .stdin: message = .stdin(try r.bytes())
            case .closeStdin: message = .closeStdin
            case .stop: message = .stop
            case .startKernel: message = .startKernel(try r.kernelRequest())
            case .execute:
                let cell = try r.u32()
                message = .execute(cell: cell, code: try r.bytes())
            case .interrupt: message = .interrupt
            case .restartKernel: message = .restartKernel
            case .endOfRun: message = .endOfRun
            case .keepalive: message = .keepalive
            case .complete:
                let request = try r.u32()
                message = .complete(request: request, code: try r.bytes())
            }
            try r.finish()
            return message
        } catch {
            try frames.fail(error)
        }
    }
}

/// Decodes the agent -> engine stream (used by the engine).
public struct AgentMessageDecoder: Sendable {
    private var frames = FrameBuffer()

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        frames.append(bytes)
    }

    /// The next whole message, nil when more bytes are needed; throws on malformed input.
    public mutating func next() throws(AgentProtocolError) -> AgentMessage? {
        guard let (tag, payload) = try frames.nextFrame(isKnownTag: { AgentWire.AgentTag(rawValue: $0) != nil }) else {
            return nil
        }
        do throws(AgentProtocolError) {
            var r = PayloadReader(payload, tag: tag)
            let message: AgentMessage
            switch AgentWire.AgentTag(rawValue: tag)! {
            case .hello: message = .hello(version: try r.string("hello.version"))
            case .busy: message = .busy
            case .stageStarted: message = .stageStarted(try r.string("stageStarted.name"))
            case .output:
                let raw = try r.u8()
                guard let stream = AgentStream(rawValue: raw) else {
                    throw AgentProtocolError.invalidValue(field: "output.stream", value: UInt64(raw))
                }
                message = .output(stream, try r.bytes())
            case .stageFinished: message = .stageFinished(try r.result())
            case .failed: message = .failed(try r.string("failed.reason"))
            case .finished: message = .finished
            case .kernelReady: message = .kernelReady
            case .display:
                let cell = try r.u32()
                let mime = try r.string("display.mime")
                message = .display(cell: cell, mime: mime, data: try r.bytes())
            case .cellFinished: message = .cellFinished(try r.cellResult())
            case .kernelExited:
                let exitCode = try r.optionalI32("kernelExited.exitCode")
                let signal = try r.optionalI32("kernelExited.signal")
                message = .kernelExited(
                    exitCode: exitCode, signal: signal, memoryLimitExceeded: try r.bool("kernelExited.memoryLimitExceeded"))
            case .stdinConsumed: message = .stdinConsumed(try r.u64())
            case .runClosed: message = .runClosed
            case .completions:
                let request = try r.u32()
                message = .completions(request: request, matches: try r.strings("completions.matches"))
            }
            try r.finish()
            return message
        } catch {
            try frames.fail(error)
        }
    }
}
