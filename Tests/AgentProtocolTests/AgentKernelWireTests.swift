import SeededRandom
import Testing

@testable import AgentProtocol

/// The kernel messages (issue 4): fixed layouts the engine and agent both rely on, and hostile input.
@Suite struct KernelWireTests {
    @Test func executeLayoutIsCellThenCode() {
        #expect(
            AgentWire.encode(EngineMessage.execute(cell: 0x0102_0304, code: [0x41])) == [
                0x06, 0, 0, 0, 9, 1, 2, 3, 4, 0, 0, 0, 1, 0x41,
            ])
        #expect(AgentWire.encode(EngineMessage.interrupt) == [0x07, 0, 0, 0, 0])
        #expect(AgentWire.encode(EngineMessage.restartKernel) == [0x08, 0, 0, 0, 0])
        #expect(AgentWire.encode(EngineMessage.endOfRun) == [0x09, 0, 0, 0, 0])
        #expect(AgentWire.encode(AgentMessage.kernelReady) == [0x88, 0, 0, 0, 0])
    }

    @Test func cellFinishedLayout() throws {
        let bytes = AgentWire.encode(
            AgentMessage.cellFinished(
                AgentCellResult(
                    cell: 5, ok: true, interrupted: false, outputLimitExceeded: true, wallMicroseconds: 258, stdinBytesRead: 6)))
        #expect(bytes == [0x8A, 0, 0, 0, 23, 0, 0, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 6])
        var decoder = AgentMessageDecoder()
        decoder.append(bytes)
        #expect(
            try decoder.next()
                == .cellFinished(
                    AgentCellResult(
                        cell: 5, ok: true, interrupted: false, outputLimitExceeded: true, wallMicroseconds: 258, stdinBytesRead: 6)))
    }

    @Test func aKernelConversationSplitAnywhere() throws {
        // What one shell session looks like on the wire, both directions, cut at every boundary.
        let engine: [EngineMessage] = [
            .startKernel(sampleKernelRequest), .execute(cell: 1, code: Array("while True: pass".utf8)), .interrupt,
            .execute(cell: 2, code: Array("1+1".utf8)), .restartKernel, .stop,
        ]
        let agent: [AgentMessage] = [
            .hello(version: AgentWire.version), .kernelReady, .output(.stderr, Array("KeyboardInterrupt\n".utf8)),
            .cellFinished(AgentCellResult(cell: 1, ok: false, interrupted: true, outputLimitExceeded: false, wallMicroseconds: 1)),
            .output(.stdout, Array("2\n".utf8)), .display(cell: 2, mime: "image/png", data: Array(repeating: 0xAB, count: 300)),
            .cellFinished(AgentCellResult(cell: 2, ok: true, interrupted: false, outputLimitExceeded: false, wallMicroseconds: 90)),
            .kernelReady, .kernelExited(exitCode: nil, signal: 9, memoryLimitExceeded: false),
        ]
        let engineBytes = engine.flatMap { AgentWire.encode($0) }
        for cut in 0...engineBytes.count {
            #expect(try decodeAllEngine(engineBytes, splitAt: [cut]) == engine)
        }
        let agentBytes = agent.flatMap { AgentWire.encode($0) }
        for cut in 0...agentBytes.count {
            #expect(try decodeAllAgent(agentBytes, splitAt: [cut]) == agent)
        }
        var rng = SeededRandom(seed: 4)
        for _ in 0..<50 {
            let cuts = (0..<8).map { _ in Int.random(in: 0...agentBytes.count, using: &rng) }.sorted()
            #expect(try decodeAllAgent(agentBytes, splitAt: cuts) == agent)
        }
    }

    @Test func invalidFieldsAreNamed() {
        var agent = AgentMessageDecoder()
        agent.append([0x8A, 0, 0, 0, 15, 0, 0, 0, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: AgentProtocolError.invalidValue(field: "cell.ok", value: 2)) { try agent.next() }
        var display = AgentMessageDecoder()
        display.append([0x89, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 1, 0xFF, 0, 0, 0, 1, 0])
        #expect(throws: AgentProtocolError.invalidUTF8(field: "display.mime")) { try display.next() }
        var exited = AgentMessageDecoder()
        exited.append([0x8B, 0, 0, 0, 3, 0, 0, 9])
        #expect(throws: AgentProtocolError.invalidValue(field: "kernelExited.memoryLimitExceeded", value: 9)) { try exited.next() }
    }

    @Test func truncatedAndTrailingKernelFramesAreRejected() {
        var short = EngineMessageDecoder()
        short.append([0x06, 0, 0, 0, 3, 0, 0, 1])
        #expect(throws: AgentProtocolError.truncatedPayload(tag: 0x06)) { try short.next() }
        var long = EngineMessageDecoder()
        long.append([0x07, 0, 0, 0, 1, 0])
        #expect(throws: AgentProtocolError.trailingBytes(tag: 0x07, count: 1)) { try long.next() }
        // A kernel request claiming 2^32-1 argv entries in a 4-byte payload.
        var forged = EngineMessageDecoder()
        forged.append([0x05, 0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: AgentProtocolError.truncatedPayload(tag: 0x05)) { try forged.next() }
    }

    @Test func mutatedKernelFramesNeverCrash() {
        var rng = SeededRandom(seed: 2024)
        let valid: [[UInt8]] =
            [
                AgentWire.encode(EngineMessage.startKernel(sampleKernelRequest)),
                AgentWire.encode(EngineMessage.execute(cell: 9, code: Array("print(1)".utf8))),
            ]
            + [
                AgentMessage.display(cell: 1, mime: "image/png", data: [1, 2, 3]),
                .cellFinished(AgentCellResult(cell: 1, ok: true, interrupted: true, outputLimitExceeded: false, wallMicroseconds: 3)),
                .kernelExited(exitCode: 1, signal: nil, memoryLimitExceeded: false),
            ].map { AgentWire.encode($0) }
        for _ in 0..<5000 {
            var bytes = valid.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            var engine = EngineMessageDecoder()
            var agent = AgentMessageDecoder()
            engine.append(bytes)
            agent.append(bytes)
            _ = try? engine.next()
            _ = try? agent.next()
        }
    }
}
