import SeededRandom
import Testing

@testable import AgentProtocol

let sampleRequest = AgentRunRequest(
    workdir: "/app", clearWorkdir: true,
    files: [
        AgentFile(path: "main.py", contents: Array("print('héllo')\n".utf8), executable: false),
        AgentFile(path: "bin/run.sh", contents: [0, 1, 2, 255], executable: true),
        AgentFile(path: "empty", contents: [], executable: false),
    ],
    environment: ["PATH=/usr/bin:/bin", "HOME=/tmp", "EMPTY="],
    stages: [
        AgentStage(name: "compile", argv: ["cc", "-O2", "main.c"], timeoutMilliseconds: 10_000, cpuSeconds: 5, takesStdin: false),
        AgentStage(name: "run", argv: ["./a.out"], timeoutMilliseconds: UInt64.max, cpuSeconds: UInt32.max, takesStdin: true),
    ],
    outputLimitBytes: 1 << 20, maxFileSizeBytes: 0, maxOpenFiles: 256)

let sampleKernelRequest = AgentKernelRequest(
    argv: ["python3", "/usr/local/lib/coderunner/kernel/python_kernel.py"],
    environment: ["PYTHONUNBUFFERED=1", "EMPTY="],
    workdir: "/app",
    files: [
        AgentFile(path: "data.csv", contents: Array("a,b\n1,2\n".utf8), executable: false),
        AgentFile(path: "tool", contents: [0, 0xff], executable: true),
    ],
    outputLimitBytes: UInt64.max, maxFileSizeBytes: 1 << 26, maxOpenFiles: UInt32.max)

let engineMessages: [EngineMessage] = [
    .run(sampleRequest),
    .run(
        AgentRunRequest(
            workdir: "", clearWorkdir: false, files: [], environment: [], stages: [], outputLimitBytes: 0,
            maxFileSizeBytes: 0, maxOpenFiles: 0)),
    .stdin(Array("input line\n".utf8)),
    .stdin([]),
    .closeStdin,
    .stop,
    .startKernel(sampleKernelRequest),
    .startKernel(
        AgentKernelRequest(
            argv: [], environment: [], workdir: "", files: [], outputLimitBytes: 0, maxFileSizeBytes: 0, maxOpenFiles: 0)),
    .execute(cell: 1, code: Array("x = 1\nx + 1\n".utf8)),
    .execute(cell: UInt32.max, code: []),
    .interrupt,
    .restartKernel,
    .endOfRun,
    .keepalive,
    .complete(request: 7, code: Array("os.pa".utf8)), .complete(request: 0, code: []),
]

let agentMessages: [AgentMessage] = [
    .hello(version: AgentWire.version),
    .busy,
    .stageStarted("compile"),
    .output(.stdout, Array("hi\n".utf8)),
    .output(.stderr, [0, 0xff, 0x80]),
    .output(.stdout, []),
    .stageFinished(
        AgentStageResult(
            name: "run", exitCode: -3, signal: nil, wallMicroseconds: 1_234_567, userCPUMicroseconds: 1,
            systemCPUMicroseconds: UInt64.max, maxResidentKiB: 4096, timedOut: true, cpuLimitExceeded: false,
            outputLimitExceeded: true, memoryLimitExceeded: false, stopped: true)),
    .stageFinished(
        AgentStageResult(
            name: "", exitCode: nil, signal: 9, wallMicroseconds: 0, userCPUMicroseconds: 0, systemCPUMicroseconds: 0,
            maxResidentKiB: 0, timedOut: false, cpuLimitExceeded: true, outputLimitExceeded: false,
            memoryLimitExceeded: true, stopped: false)),
    .failed("cannot write \"a\": No space left on device ✗"),
    .finished,
    .kernelReady,
    .display(cell: 3, mime: "image/png", data: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
    .display(cell: 0, mime: "", data: []),
    .cellFinished(AgentCellResult(cell: 7, ok: true, interrupted: false, outputLimitExceeded: false, wallMicroseconds: 412)),
    .cellFinished(
        AgentCellResult(
            cell: UInt32.max, ok: false, interrupted: true, outputLimitExceeded: true, wallMicroseconds: UInt64.max)),
    .kernelExited(exitCode: nil, signal: 9, memoryLimitExceeded: true),
    .kernelExited(exitCode: -1, signal: nil, memoryLimitExceeded: false),
    .stdinConsumed(1 << 20),
    .runClosed,
    .completions(request: 7, matches: ["os.path", "os.pardir"]), .completions(request: 1, matches: []),
]

/// The two directions' decoders, for one `decodeAll`.
protocol MessageDecoding {
    associatedtype Message
    init()
    mutating func append(_ bytes: some Sequence<UInt8>)
    mutating func next() throws(AgentProtocolError) -> Message?
}
extension EngineMessageDecoder: MessageDecoding {}
extension AgentMessageDecoder: MessageDecoding {}

/// Every message in `bytes`, fed to the decoder in pieces cut at `cuts`.
func decodeAll<Decoder: MessageDecoding>(_: Decoder.Type, _ bytes: [UInt8], splitAt cuts: [Int] = []) throws -> [Decoder.Message] {
    var decoder = Decoder()
    var out: [Decoder.Message] = []
    var last = 0
    for cut in cuts + [bytes.count] {
        decoder.append(bytes[last..<cut])
        last = cut
        while let m = try decoder.next() { out.append(m) }
    }
    return out
}

func decodeAllEngine(_ bytes: [UInt8], splitAt cuts: [Int] = []) throws -> [EngineMessage] {
    try decodeAll(EngineMessageDecoder.self, bytes, splitAt: cuts)
}

func decodeAllAgent(_ bytes: [UInt8], splitAt cuts: [Int] = []) throws -> [AgentMessage] {
    try decodeAll(AgentMessageDecoder.self, bytes, splitAt: cuts)
}

@Suite struct RoundTripTests {
    @Test(arguments: engineMessages)
    func engineMessageRoundTrips(_ message: EngineMessage) throws {
        #expect(try decodeAllEngine(AgentWire.encode(message)) == [message])
    }

    @Test(arguments: agentMessages)
    func agentMessageRoundTrips(_ message: AgentMessage) throws {
        #expect(try decodeAllAgent(AgentWire.encode(message)) == [message])
    }

    @Test func severalFramesInOneAppend() throws {
        let engineBytes = engineMessages.flatMap { AgentWire.encode($0) }
        #expect(try decodeAllEngine(engineBytes) == engineMessages)
        let agentBytes = agentMessages.flatMap { AgentWire.encode($0) }
        #expect(try decodeAllAgent(agentBytes) == agentMessages)
    }

    @Test func frameLayoutIsTagThenBigEndianLength() {
        let bytes = AgentWire.encode(EngineMessage.stdin([7, 8]))
        #expect(bytes == [0x02, 0, 0, 0, 6, 0, 0, 0, 2, 7, 8])
        #expect(AgentWire.encode(AgentMessage.finished) == [0x87, 0, 0, 0, 0])
    }

    @Test func resultSucceededOnlyForCleanExitZero() {
        var r = AgentStageResult(
            name: "run", exitCode: 0, signal: nil, wallMicroseconds: 0, userCPUMicroseconds: 0, systemCPUMicroseconds: 0,
            maxResidentKiB: 0, timedOut: false, cpuLimitExceeded: false, outputLimitExceeded: false,
            memoryLimitExceeded: false, stopped: false)
        #expect(r.succeeded)
        r.outputLimitExceeded = true
        #expect(!r.succeeded)
        r.outputLimitExceeded = false
        r.exitCode = 1
        #expect(!r.succeeded)
    }
}

@Suite struct SplitTests {
    @Test func engineStreamSplitAtEveryByteBoundary() throws {
        let bytes = engineMessages.flatMap { AgentWire.encode($0) }
        for cut in 0...bytes.count {
            #expect(try decodeAllEngine(bytes, splitAt: [cut]) == engineMessages)
        }
    }

    @Test func agentStreamSplitAtEveryByteBoundary() throws {
        let bytes = agentMessages.flatMap { AgentWire.encode($0) }
        for cut in 0...bytes.count {
            #expect(try decodeAllAgent(bytes, splitAt: [cut]) == agentMessages)
        }
    }

    @Test func oneByteAtATime() throws {
        let bytes = agentMessages.flatMap { AgentWire.encode($0) }
        #expect(try decodeAllAgent(bytes, splitAt: Array(1..<bytes.count)) == agentMessages)
        let engineBytes = engineMessages.flatMap { AgentWire.encode($0) }
        #expect(try decodeAllEngine(engineBytes, splitAt: Array(1..<engineBytes.count)) == engineMessages)
    }

    @Test func randomSplitsOfALongStream() throws {
        var rng = SeededRandom(seed: 42)
        let messages = (0..<200).map { i in AgentMessage.output(i % 2 == 0 ? .stdout : .stderr, Array(repeating: UInt8(i % 256), count: i * 37)) }
        let bytes = messages.flatMap { AgentWire.encode($0) }
        for _ in 0..<20 {
            let cuts = (0..<50).map { _ in Int.random(in: 0...bytes.count, using: &rng) }.sorted()
            #expect(try decodeAllAgent(bytes, splitAt: cuts) == messages)
        }
    }

    @Test func partialFrameYieldsNil() throws {
        var decoder = AgentMessageDecoder()
        let bytes = AgentWire.encode(AgentMessage.stageStarted("run"))
        decoder.append(bytes.dropLast())
        #expect(try decoder.next() == nil)
        decoder.append(bytes.suffix(1))
        #expect(try decoder.next() == .stageStarted("run"))
        #expect(try decoder.next() == nil)
    }
}

@Suite struct MalformedInputTests {
    @Test func unknownTagIsRejected() {
        var decoder = EngineMessageDecoder()
        decoder.append([0x99, 0, 0, 0, 0])
        #expect(throws: AgentProtocolError.unknownTag(0x99)) { try decoder.next() }
    }

    /// A stream read in the wrong direction fails at once instead of producing nonsense (run and kernel tags alike).
    @Test(arguments: [(AgentMessage.finished, UInt8(0x87)), (.kernelReady, 0x88), (.completions(request: 1, matches: []), 0x8E)])
    func agentTagsAreNotEngineTags(_ message: AgentMessage, _ tag: UInt8) {
        var decoder = EngineMessageDecoder()
        decoder.append(AgentWire.encode(message))
        #expect(throws: AgentProtocolError.unknownTag(tag)) { try decoder.next() }
    }

    @Test(arguments: [(EngineMessage.stop, UInt8(0x04)), (.interrupt, 0x07), (.complete(request: 1, code: []), 0x0B)])
    func engineTagsAreNotAgentTags(_ message: EngineMessage, _ tag: UInt8) {
        var agent = AgentMessageDecoder()
        agent.append(AgentWire.encode(message))
        #expect(throws: AgentProtocolError.unknownTag(tag)) { try agent.next() }
    }

    @Test func oversizedLengthIsRejectedBeforeThePayloadArrives() {
        var decoder = EngineMessageDecoder()
        decoder.append([0x01, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: AgentProtocolError.frameTooLarge(length: 0xFFFF_FFFF, limit: AgentWire.maxFrameBytes)) {
            try decoder.next()
        }
        let justOver = UInt32(AgentWire.maxFrameBytes + 1)
        var other = AgentMessageDecoder()
        other.append([0x84, UInt8(justOver >> 24), UInt8((justOver >> 16) & 0xff), UInt8((justOver >> 8) & 0xff), UInt8(justOver & 0xff)])
        #expect(throws: AgentProtocolError.frameTooLarge(length: justOver, limit: AgentWire.maxFrameBytes)) {
            try other.next()
        }
    }

    @Test func largeButLegalLengthWaitsForBytes() throws {
        var decoder = EngineMessageDecoder()
        decoder.append([0x01, 0x10, 0, 0, 0])  // 256 MiB announced, nothing sent
        #expect(try decoder.next() == nil)
    }

    @Test func errorsAreSticky() {
        var decoder = AgentMessageDecoder()
        decoder.append([0x00])
        #expect(throws: AgentProtocolError.unknownTag(0)) { try decoder.next() }
        decoder.append(AgentWire.encode(AgentMessage.finished))
        #expect(throws: AgentProtocolError.unknownTag(0)) { try decoder.next() }
    }

    @Test func truncatedPayloadIsRejected() {
        // A stdin frame whose inner byte-string length claims more than the payload holds.
        var decoder = EngineMessageDecoder()
        decoder.append([0x02, 0, 0, 0, 4, 0, 0, 0, 9])
        #expect(throws: AgentProtocolError.truncatedPayload(tag: 0x02)) { try decoder.next() }
    }

    @Test func forgedElementCountDoesNotAllocate() {
        // A run request claiming 2^32-1 files inside a tiny payload.
        var payload: [UInt8] = [0, 0, 0, 1, UInt8(ascii: "/"), 0]
        payload += [0xFF, 0xFF, 0xFF, 0xFF]
        var decoder = EngineMessageDecoder()
        decoder.append([0x01, 0, 0, 0, UInt8(payload.count)] + payload)
        #expect(throws: AgentProtocolError.truncatedPayload(tag: 0x01)) { try decoder.next() }
    }

    @Test func trailingBytesAreRejected() {
        var decoder = AgentMessageDecoder()
        decoder.append([0x87, 0, 0, 0, 1, 0])
        #expect(throws: AgentProtocolError.trailingBytes(tag: 0x87, count: 1)) { try decoder.next() }
    }

    @Test func invalidUTF8IsRejected() {
        var decoder = AgentMessageDecoder()
        decoder.append([0x83, 0, 0, 0, 6, 0, 0, 0, 2, 0xC3, 0x28])
        #expect(throws: AgentProtocolError.invalidUTF8(field: "stageStarted.name")) { try decoder.next() }
    }

    @Test func invalidBoolAndStreamAreRejected() {
        var decoder = AgentMessageDecoder()
        decoder.append([0x84, 0, 0, 0, 5, 3, 0, 0, 0, 0])
        #expect(throws: AgentProtocolError.invalidValue(field: "output.stream", value: 3)) { try decoder.next() }
        var request = AgentWire.encode(EngineMessage.run(sampleRequest))
        request[5 + 4 + 4] = 7  // clearWorkdir byte after the "/app" string
        var engine = EngineMessageDecoder()
        engine.append(request)
        #expect(throws: AgentProtocolError.invalidValue(field: "clearWorkdir", value: 7)) { try engine.next() }
    }

    @Test func errorDescriptionsSayWhatToDo() {
        let e = AgentProtocolError.unknownTag(9)
        #expect(e.description.contains("rebuild"))
        #expect(AgentProtocolError.frameTooLarge(length: 1, limit: 0).description.contains("smaller files"))
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SeededRandom(seed: 7)
        for round in 0..<3000 {
            let count = Int.random(in: 0...64, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias some rounds towards valid tags and small lengths to reach the payload decoders.
            if round % 2 == 0 && !bytes.isEmpty {
                bytes[0] = round % 4 == 0 ? UInt8.random(in: 1...8, using: &rng) : UInt8.random(in: 0x81...0x8B, using: &rng)
                if bytes.count >= 5 {
                    bytes[1] = 0
                    bytes[2] = 0
                    bytes[3] = 0
                    bytes[4] = UInt8(truncatingIfNeeded: bytes.count - 5)
                }
            }
            var engine = EngineMessageDecoder()
            var agent = AgentMessageDecoder()
            engine.append(bytes)
            agent.append(bytes)
            for _ in 0..<4 {
                _ = try? engine.next()
                _ = try? agent.next()
            }
        }
    }

    @Test func mutatedValidFramesNeverCrash() {
        var rng = SeededRandom(seed: 99)
        let valid = engineMessages.map { AgentWire.encode($0) } + agentMessages.map { AgentWire.encode($0) }
        for _ in 0..<3000 {
            var bytes = valid.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            var engine = EngineMessageDecoder()
            var agent = AgentMessageDecoder()
            engine.append(bytes)
            agent.append(bytes)
            _ = try? engine.next()
            _ = try? agent.next()
        }
    }
}
