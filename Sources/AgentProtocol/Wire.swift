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
        case endOfRun = 0x09, keepalive = 0x0A
    }

    // Agent tags live in a different range so a stream read in the wrong direction fails at once.
    enum AgentTag: UInt8 {
        case hello = 0x81, busy = 0x82, stageStarted = 0x83, output = 0x84, stageFinished = 0x85
        case failed = 0x86, finished = 0x87
        case kernelReady = 0x88, display = 0x89, cellFinished = 0x8A, kernelExited = 0x8B
        case stdinConsumed = 0x8C, runClosed = 0x8D
    }

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

// MARK: - Payload encoding

struct PayloadWriter {
    var buffer: [UInt8] = []

    mutating func u8(_ v: UInt8) { buffer.append(v) }
    mutating func bool(_ v: Bool) { buffer.append(v ? 1 : 0) }
    mutating func u32(_ v: UInt32) {
        buffer.append(UInt8(truncatingIfNeeded: v >> 24))
        buffer.append(UInt8(truncatingIfNeeded: v >> 16))
        buffer.append(UInt8(truncatingIfNeeded: v >> 8))
        buffer.append(UInt8(truncatingIfNeeded: v))
    }
    mutating func u64(_ v: UInt64) {
        u32(UInt32(truncatingIfNeeded: v >> 32))
        u32(UInt32(truncatingIfNeeded: v))
    }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func optionalI32(_ v: Int32?) {
        if let v {
            bool(true)
            i32(v)
        } else {
            bool(false)
        }
    }
    mutating func bytes(_ v: [UInt8]) {
        u32(UInt32(v.count))
        buffer.append(contentsOf: v)
    }
    mutating func string(_ v: String) {
        let utf8 = v.utf8
        u32(UInt32(utf8.count))
        buffer.append(contentsOf: utf8)
    }
    mutating func strings(_ v: [String]) {
        u32(UInt32(v.count))
        for s in v { string(s) }
    }

    mutating func request(_ r: AgentRunRequest) {
        string(r.workdir)
        bool(r.clearWorkdir)
        files(r.files)
        strings(r.environment)
        u32(UInt32(r.stages.count))
        for s in r.stages {
            string(s.name)
            strings(s.argv)
            u64(s.timeoutMilliseconds)
            u32(s.cpuSeconds)
            bool(s.takesStdin)
        }
        u64(r.outputLimitBytes)
        u64(r.maxFileSizeBytes)
        u32(r.maxOpenFiles)
    }

    mutating func files(_ files: [AgentFile]) {
        u32(UInt32(files.count))
        for f in files {
            string(f.path)
            bytes(f.contents)
            bool(f.executable)
        }
    }

    mutating func kernelRequest(_ r: AgentKernelRequest) {
        strings(r.argv)
        strings(r.environment)
        string(r.workdir)
        files(r.files)
        u64(r.outputLimitBytes)
        u64(r.maxFileSizeBytes)
        u32(r.maxOpenFiles)
    }

    mutating func result(_ r: AgentStageResult) {
        string(r.name)
        optionalI32(r.exitCode)
        optionalI32(r.signal)
        u64(r.wallMicroseconds)
        u64(r.userCPUMicroseconds)
        u64(r.systemCPUMicroseconds)
        u64(r.maxResidentKiB)
        bool(r.timedOut)
        bool(r.cpuLimitExceeded)
        bool(r.outputLimitExceeded)
        bool(r.memoryLimitExceeded)
        bool(r.stopped)
    }
}

// MARK: - Payload decoding

/// Reads fields from one complete payload. Every length is checked against the bytes actually present,
/// so a forged count can never make it allocate more than the payload it already holds.
struct PayloadReader {
    let payload: ArraySlice<UInt8>
    let tag: UInt8
    var index: Int

    init(_ payload: ArraySlice<UInt8>, tag: UInt8) {
        self.payload = payload
        self.tag = tag
        self.index = payload.startIndex
    }

    var remaining: Int { payload.endIndex - index }

    mutating func take(_ n: Int) throws(AgentProtocolError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw .truncatedPayload(tag: tag) }
        let slice = payload[index..<(index + n)]
        index += n
        return slice
    }

    mutating func u8() throws(AgentProtocolError) -> UInt8 {
        guard remaining >= 1 else { throw .truncatedPayload(tag: tag) }
        let v = payload[index]
        index += 1
        return v
    }

    mutating func bool(_ field: String) throws(AgentProtocolError) -> Bool {
        let v = try u8()
        switch v {
        case 0: return false
        case 1: return true
        default: throw .invalidValue(field: field, value: UInt64(v))
        }
    }

    mutating func u32() throws(AgentProtocolError) -> UInt32 {
        let s = try take(4)
        var v: UInt32 = 0
        for b in s { v = v << 8 | UInt32(b) }
        return v
    }

    mutating func u64() throws(AgentProtocolError) -> UInt64 {
        let hi = try u32()
        let lo = try u32()
        return UInt64(hi) << 32 | UInt64(lo)
    }

    mutating func i32() throws(AgentProtocolError) -> Int32 { Int32(bitPattern: try u32()) }

    mutating func optionalI32(_ field: String) throws(AgentProtocolError) -> Int32? {
        try bool(field) ? try i32() : nil
    }

    mutating func bytes() throws(AgentProtocolError) -> [UInt8] {
        let n = try u32()
        return Array(try take(Int(n)))
    }

    mutating func string(_ field: String) throws(AgentProtocolError) -> String {
        let n = try u32()
        let raw = try take(Int(n))
        guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return s
    }

    /// An element count, rejected when even `minElementBytes` per element could not fit in what is left.
    mutating func count(minElementBytes: Int) throws(AgentProtocolError) -> Int {
        let n = Int(try u32())
        guard n <= remaining / max(minElementBytes, 1) else { throw .truncatedPayload(tag: tag) }
        return n
    }

    mutating func strings(_ field: String) throws(AgentProtocolError) -> [String] {
        let n = try count(minElementBytes: 4)
        var out: [String] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try string(field)) }
        return out
    }

    func finish() throws(AgentProtocolError) {
        guard remaining == 0 else { throw .trailingBytes(tag: tag, count: remaining) }
    }

    mutating func request() throws(AgentProtocolError) -> AgentRunRequest {
        let workdir = try string("workdir")
        let clear = try bool("clearWorkdir")
        let files = try files()
        let environment = try strings("environment")
        let stageCount = try count(minElementBytes: 21)
        var stages: [AgentStage] = []
        stages.reserveCapacity(stageCount)
        for _ in 0..<stageCount {
            let name = try string("stages.name")
            let argv = try strings("stages.argv")
            let timeout = try u64()
            let cpu = try u32()
            let takesStdin = try bool("stages.takesStdin")
            stages.append(
                AgentStage(name: name, argv: argv, timeoutMilliseconds: timeout, cpuSeconds: cpu, takesStdin: takesStdin))
        }
        let outputLimit = try u64()
        let fsize = try u64()
        let nofile = try u32()
        return AgentRunRequest(
            workdir: workdir, clearWorkdir: clear, files: files, environment: environment, stages: stages,
            outputLimitBytes: outputLimit, maxFileSizeBytes: fsize, maxOpenFiles: nofile)
    }

    mutating func files() throws(AgentProtocolError) -> [AgentFile] {
        let fileCount = try count(minElementBytes: 9)
        var files: [AgentFile] = []
        files.reserveCapacity(fileCount)
        for _ in 0..<fileCount {
            let path = try string("files.path")
            let contents = try bytes()
            let executable = try bool("files.executable")
            files.append(AgentFile(path: path, contents: contents, executable: executable))
        }
        return files
    }

    mutating func kernelRequest() throws(AgentProtocolError) -> AgentKernelRequest {
        AgentKernelRequest(
            argv: try strings("kernel.argv"),
            environment: try strings("kernel.environment"),
            workdir: try string("kernel.workdir"),
            files: try files(),
            outputLimitBytes: try u64(),
            maxFileSizeBytes: try u64(),
            maxOpenFiles: try u32())
    }

    mutating func cellResult() throws(AgentProtocolError) -> AgentCellResult {
        AgentCellResult(
            cell: try u32(),
            ok: try bool("cell.ok"),
            interrupted: try bool("cell.interrupted"),
            outputLimitExceeded: try bool("cell.outputLimitExceeded"),
            wallMicroseconds: try u64(),
            stdinBytesRead: try u64())
    }

    mutating func result() throws(AgentProtocolError) -> AgentStageResult {
        AgentStageResult(
            name: try string("result.name"),
            exitCode: try optionalI32("result.exitCode"),
            signal: try optionalI32("result.signal"),
            wallMicroseconds: try u64(),
            userCPUMicroseconds: try u64(),
            systemCPUMicroseconds: try u64(),
            maxResidentKiB: try u64(),
            timedOut: try bool("result.timedOut"),
            cpuLimitExceeded: try bool("result.cpuLimitExceeded"),
            outputLimitExceeded: try bool("result.outputLimitExceeded"),
            memoryLimitExceeded: try bool("result.memoryLimitExceeded"),
            stopped: try bool("result.stopped"))
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
            }
            try r.finish()
            return message
        } catch {
            try frames.fail(error)
        }
    }
}
