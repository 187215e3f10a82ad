import SeededRandom
import Testing

@testable import DockerEngine

/// Docker's multiplexed stream is bytes from outside the process: whatever dockerd (or something pretending to be it)
/// sends, the decoder must never crash, never buffer without bound, and must return valid frames exactly, however the
/// bytes are split across reads.
@Suite("Fuzz: Docker stream frames")
struct FrameFuzzTests {
    static func encode(_ kind: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [kind, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + payload
    }

    /// Feeds `bytes` in random pieces, draining whole frames after each piece, as the exec stream does.
    private static func decode(_ bytes: [UInt8], decoder: inout DockerStreamFrameDecoder, random: inout SeededRandom) throws -> [ExecChunk] {
        var chunks: [ExecChunk] = []
        var offset = 0
        while offset < bytes.count {
            let piece = min(bytes.count - offset, random.int(0...3) == 0 ? random.int(1...9) : random.int(1...20_000))
            decoder.append(bytes[offset..<offset + piece])
            offset += piece
            while let chunk = try decoder.next() { chunks.append(chunk) }
        }
        return chunks
    }

    @Test func validFramesRoundTripUnderRandomSplits() throws {
        for seed in 0..<300 as Range<UInt64> {
            var random = SeededRandom(seed: seed)
            var expected: [ExecChunk] = []
            var wire: [UInt8] = []
            for _ in 0..<random.int(0...40) {
                let kind = UInt8([0, 1, 2, 3][random.int(0...3)])
                let length = random.int(0...9) == 0 ? 0 : (random.int(0...19) == 0 ? random.int(20_000...70_000) : random.int(1...600))
                let payload = random.bytes(length)
                wire += Self.encode(kind, payload)
                if !payload.isEmpty { expected.append(ExecChunk(stream: kind >= 2 ? .stderr : .stdout, bytes: payload)) }
            }
            var decoder = DockerStreamFrameDecoder()
            let chunks = try Self.decode(wire, decoder: &decoder, random: &random)
            #expect(chunks == expected, "seed \(seed): \(chunks.count) chunks, expected \(expected.count)")
            #expect(decoder.bufferedByteCount == 0, "seed \(seed)")
            #expect(try decoder.next() == nil)
        }
    }

    @Test func truncatedStreamKeepsTheWholeFramesAndReportsTheRest() throws {
        for seed in 0..<200 as Range<UInt64> {
            var random = SeededRandom(seed: 10_000 + seed)
            var wire: [UInt8] = []
            var frames: [[UInt8]] = []
            for _ in 0..<random.int(1...10) {
                let payload = random.bytes(random.int(1...300))
                frames.append(payload)
                wire += Self.encode(1, payload)
            }
            let cut = random.int(0...wire.count - 1)
            var decoder = DockerStreamFrameDecoder()
            let chunks = try Self.decode(Array(wire[..<cut]), decoder: &decoder, random: &random)
            // Exactly the frames wholly before the cut come out; the partial one stays buffered.
            var whole = 0
            var end = 0
            while whole < frames.count, end + 8 + frames[whole].count <= cut {
                end += 8 + frames[whole].count
                whole += 1
            }
            #expect(chunks.map(\.bytes) == Array(frames.prefix(whole)), "seed \(seed)")
            #expect(decoder.bufferedByteCount == cut - end, "seed \(seed)")
        }
    }

    @Test func garbageNeverCrashesAndNeverBuffersPastTheFrameLimit() {
        let limit = 4096
        for seed in 0..<2000 as Range<UInt64> {
            var random = SeededRandom(seed: 50_000 + seed)
            var wire: [UInt8]
            switch random.int(0...2) {
            case 0:  // pure noise
                wire = random.bytes(random.int(0...3000))
            case 1:  // valid frames with a few bytes flipped
                wire = []
                for _ in 0..<random.int(1...8) { wire += Self.encode(UInt8(random.int(1...2)), random.bytes(random.int(0...500))) }
                for _ in 0..<random.int(1...4) { wire[random.int(0...wire.count - 1)] = UInt8(random.int(0...255)) }
            default:  // plausible headers with hostile lengths
                wire = []
                for _ in 0..<random.int(1...6) {
                    let length = UInt32([0, 1, 4095, 4096, 4097, 1 << 24, UInt32.max][random.int(0...6)])
                    wire += [
                        UInt8(random.int(0...3)), 0, 0, 0, UInt8(length >> 24), UInt8(length >> 16 & 255), UInt8(length >> 8 & 255),
                        UInt8(length & 255),
                    ]
                    wire += random.bytes(random.int(0...64))
                }
            }
            var decoder = DockerStreamFrameDecoder(maxFrameBytes: limit)
            var offset = 0
            feeding: while offset < wire.count {
                let piece = min(wire.count - offset, random.int(1...700))
                decoder.append(wire[offset..<offset + piece])
                offset += piece
                do {
                    while let chunk = try decoder.next() {
                        #expect(!chunk.bytes.isEmpty && chunk.bytes.count <= limit, "seed \(seed)")
                    }
                } catch {
                    #expect(!String(describing: error).isEmpty)
                    break feeding  // the stream is corrupt; the exec stream gives up here
                }
                // A frame can only wait for its own payload: never more than one header and one maximal frame.
                #expect(decoder.bufferedByteCount <= limit + 8 + 700, "seed \(seed): \(decoder.bufferedByteCount) bytes buffered")
            }
        }
    }

    @Test func oversizedFrameIsRefusedBeforeItsPayloadArrives() {
        var decoder = DockerStreamFrameDecoder(maxFrameBytes: 1 << 20)
        decoder.append([1, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff])
        #expect(throws: DockerError.self) { try decoder.next() }
        var bad = DockerStreamFrameDecoder()
        bad.append([9, 0, 0, 0, 0, 0, 0, 1, 0x41])
        #expect(throws: DockerError.self) { try bad.next() }
        var tty = DockerStreamFrameDecoder()
        tty.append(Array("hello, world\n".utf8))  // a TTY exec's raw output is not framed
        #expect(throws: DockerError.self) { try tty.next() }
    }

    /// Many tiny frames in one long stream: the decoder compacts its buffer, so memory follows what is pending only.
    @Test func longStreamsDoNotAccumulate() throws {
        var random = SeededRandom(seed: 77)
        var decoder = DockerStreamFrameDecoder()
        var total = 0
        for _ in 0..<20_000 {
            let payload = random.bytes(random.int(1...64))
            decoder.append(Self.encode(1, payload) + Self.encode(2, []))
            while let chunk = try decoder.next() { total += chunk.bytes.count }
            #expect(decoder.bufferedByteCount == 0)
        }
        #expect(total > 0)
    }
}
