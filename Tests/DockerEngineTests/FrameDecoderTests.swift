import Testing

@testable import DockerEngine

@Suite struct FrameDecoderTests {
    static func frame(_ stream: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [stream, 0, 0, 0, UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + payload
    }

    static let sample: [UInt8] =
        frame(1, Array("hello\n".utf8)) + frame(2, Array("oops\n".utf8)) + frame(1, []) + frame(1, Array(repeating: 7, count: 300))
    static let expected = [
        ExecChunk(stream: .stdout, bytes: Array("hello\n".utf8)), ExecChunk(stream: .stderr, bytes: Array("oops\n".utf8)),
        ExecChunk(stream: .stdout, bytes: Array(repeating: 7, count: 300)),
    ]

    static func decodeAll(_ reads: [[UInt8]]) throws -> [ExecChunk] {
        var decoder = DockerStreamFrameDecoder()
        var out: [ExecChunk] = []
        for read in reads {
            decoder.append(read)
            while let chunk = try decoder.next() { out.append(chunk) }
        }
        #expect(decoder.bufferedByteCount == 0)
        return out
    }

    @Test func severalFramesInOneRead() throws {
        #expect(try Self.decodeAll([Self.sample]) == Self.expected)
    }

    @Test func splitAtEveryByte() throws {
        #expect(try Self.decodeAll(Self.sample.map { [$0] }) == Self.expected)
        for split in 1..<Self.sample.count {
            #expect(try Self.decodeAll([Array(Self.sample[..<split]), Array(Self.sample[split...])]) == Self.expected)
        }
    }

    @Test func partialFrameWaits() throws {
        var decoder = DockerStreamFrameDecoder()
        decoder.append(Self.frame(1, [1, 2, 3]).dropLast())
        #expect(try decoder.next() == nil)
        #expect(decoder.bufferedByteCount == 10)
        decoder.append([3])
        #expect(try decoder.next() == ExecChunk(stream: .stdout, bytes: [1, 2, 3]))
    }

    @Test func oversizeAndGarbageAreErrors() {
        var decoder = DockerStreamFrameDecoder(maxFrameBytes: 100)
        decoder.append(Self.frame(1, Array(repeating: 0, count: 101)))
        #expect(throws: DockerError.self) { try decoder.next() }
        var garbage = DockerStreamFrameDecoder()
        garbage.append(Array("hello world\n".utf8))
        #expect(throws: DockerError.self) { try garbage.next() }
        var unknown = DockerStreamFrameDecoder()
        unknown.append(Self.frame(9, [1]))
        #expect(throws: DockerError.self) { try unknown.next() }
    }

    @Test func largeStreamStaysIntact() throws {
        var payload: [UInt8] = []
        var reads: [[UInt8]] = []
        var all: [UInt8] = []
        for i in 0..<200 {
            let bytes = [UInt8](repeating: UInt8(i % 251), count: 32 * 1024 + i)
            payload += bytes
            all += Self.frame(1, bytes)
        }
        var offset = 0
        var size = 1
        while offset < all.count {
            let end = min(all.count, offset + size)
            reads.append(Array(all[offset..<end]))
            offset = end
            size = size * 3 % 70_001 + 1
        }
        let chunks = try Self.decodeAll(reads)
        #expect(chunks.flatMap(\.bytes) == payload)
    }
}
