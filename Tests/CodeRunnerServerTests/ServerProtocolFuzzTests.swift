import CodeRunnerCore
import Foundation
import SeededRandom
import Testing

@testable import CodeRunnerServer

/// Fuzz tests of the decoders `serve` runs on outside bytes (no Docker): the native protocol's message decoder (also
/// behind `POST /api/run`) and the Socket.IO packet parser. Seeded, so a failure repeats; each prints its seed.
/// Properties: nothing crashes (a trap here would take the whole server down), every refusal is one of the documented
/// error codes with a message, and what is accepted is well formed.
@Suite("Fuzz: serve protocol decoders")
struct ServerProtocolFuzzTests {
    static let validMessages = [
        #"{"type":"run","id":"r1","language":"python","files":[{"path":"main.py","content":"print(1)"}]}"#,
        #"{"type":"run","id":7,"files":[{"path":"a/b.js","content":"console.log(1)","executable":true},{"name":"c.js","content":"x"}],"entry":"./a/b.js","stdin":"in","args":["-v","x"],"env":{"K":"V"},"limits":{"timeout":"2s","memory":67108864,"cpus":0.5,"outputLimit":"64k"},"fresh":false}"#,
        #"{"type":"run","id":"b","files":[{"path":"bin.dat","content":"AAEC","encoding":"base64"}],"language":"cpp"}"#,
        #"{"type":"input","id":"r1","data":"hello\n"}"#,
        #"{"type":"input","id":"r1","eof":true}"#,
        #"{"type":"stop","id":"r1"}"#,
        #"{"type":"stop"}"#,
        #"{"type":"session.end"}"#,
        #"{"type":"ping"}"#,
        #"{"type":"kernel.start","language":"python","files":[{"path":"lib.py","content":"x=1"}]}"#,
        #"{"type":"kernel.execute","code":"1+1","cell":3}"#,
        #"{"type":"kernel.interrupt"}"#,
        #"{"type":"kernel.restart"}"#,
        #"{"type":"kernel.shutdown"}"#,
    ]

    static let documentedCodes: Set<String> = ["bad-json", "bad-message", "bad-request", "unknown-type"]

    /// Values of every JSON kind, including the awkward ones: huge and negative numbers, deep nesting, NUL, lone surrogates' escapes.
    static let awkwardValues = [
        "null", "true", "0", "-1", "1e300", "-1e300", "1.5", "18446744073709551616", "\"\"", "\"x\"", "\"\\u0000\"",
        "\"\\ud800\"", "[]", "{}", "[1,\"a\",null]", "{\"path\":1}", String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        "\"" + String(repeating: "€", count: 2000) + "\"",
    ]

    /// One decode: never a crash; a refusal has a documented code and a message; an accepted message is well formed.
    func checkDecode(_ text: String, seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let (_, request) = try NativeProtocol.decode(text)
            if case .run(let spec) = request {
                #expect(!spec.files.isEmpty, "seed \(seed): a run without files was accepted: \(text.prefix(300))", sourceLocation: sourceLocation)
                #expect(!spec.id.isEmpty || text.contains("\"id\":\"\""), "seed \(seed): \(text.prefix(300))", sourceLocation: sourceLocation)
                if let timeout = spec.limits?.timeout {
                    #expect(timeout >= .milliseconds(1), "seed \(seed): \(text.prefix(300))", sourceLocation: sourceLocation)
                }
                if let output = spec.limits?.outputLimit { #expect(output > 0, "seed \(seed): \(text.prefix(300))", sourceLocation: sourceLocation) }
                if let memory = spec.limits?.memory {
                    #expect(memory >= 6 << 20, "seed \(seed): \(text.prefix(300))", sourceLocation: sourceLocation)
                }
                if let cpus = spec.limits?.cpus {
                    #expect(cpus.isFinite && cpus >= 0.01, "seed \(seed): \(text.prefix(300))", sourceLocation: sourceLocation)
                }
                #expect(!spec.environment.contains { !$0.contains("=") || $0.hasPrefix("=") }, sourceLocation: sourceLocation)
            }
        } catch {
            #expect(
                Self.documentedCodes.contains(error.error.code), "seed \(seed): code \(error.error.code) for \(text.prefix(300))",
                sourceLocation: sourceLocation)
            #expect(!error.error.message.isEmpty, sourceLocation: sourceLocation)
        }
    }

    @Test func validMessagesDecode() throws {
        for text in Self.validMessages {
            #expect(throws: Never.self, "\(text)") { _ = try NativeProtocol.decode(text) }
        }
        let (id, request) = try NativeProtocol.decode(Self.validMessages[1])
        #expect(id == "7")
        guard case .run(let spec) = request else {
            Issue.record("not a run")
            return
        }
        #expect(spec.files.map(\.path) == ["a/b.js", "c.js"] && spec.entry == "a/b.js" && spec.arguments == ["-v", "x"])
        #expect(spec.environment == ["K=V"] && spec.stdin == Array("in".utf8) && !spec.fresh)
        #expect(spec.limits?.timeout == .seconds(2) && spec.limits?.memory == 64 << 20 && spec.limits?.outputLimit == 64 << 10)
    }

    @Test func hugeNumbersInLimitsAreClampedNotATrap() throws {
        for value in ["1e300", "-1e300", "18446744073709551616", "9.3e18"] {
            let text = #"{"type":"run","id":"x","files":[{"path":"a.py","content":""}],"limits":{"timeout":V,"memory":V,"outputLimit":V}}"#
                .replacingOccurrences(of: "V", with: value)
            checkDecode(text, seed: 0)
        }
    }

    /// Issue 17 (1): a client limit may only tighten. Zero, negative, too small to mean anything (0.0004s is 0 ms for
    /// the agent), non-finite, unparsable, and limits a client cannot set are `bad-request`; before, `"0s"`, `0`, `-1`
    /// and `"0k"` decoded to a zero limit, which the agent reads as "no limit".
    @Test(arguments: [
        #""timeout":"0s""#, #""timeout":"0.0004s""#, #""timeout":0"#, #""timeout":-1"#, #""timeout":0.5"#, #""timeout":-1e300"#,
        #""timeout":"never""#, #""timeout":"-2s""#, #""outputLimit":0"#, #""outputLimit":-1"#, #""outputLimit":"0k""#, #""outputLimit":0.3"#,
        #""outputLimit":"lots""#, #""memory":0"#, #""memory":-1"#, #""memory":"0m""#, #""memory":"1k""#, #""cpus":0"#, #""cpus":-0.5"#,
        #""cpus":1e-12"#, #""pids":0"#, #""fileSize":0"#, #""timeOut":"1s""#,
    ])
    func aLimitThatIsNotARealLimitIsABadRequest(_ field: String) {
        let text = #"{"type":"run","id":"x","files":[{"path":"a.py","content":""}],"limits":{"# + field + "}}"
        do {
            let (_, request) = try NativeProtocol.decode(text)
            Issue.record("accepted \(field): \(request)")
        } catch {
            #expect(error.error.code == "bad-request" && error.run == "x", "\(field): \(error.error)")
            #expect(error.error.message.contains("limits."), "\(field): \(error.error.message)")
        }
    }

    @Test(arguments: [
        (#""timeout":"1ms""#, "timeout"), (#""timeout":1500"#, "timeout"), (#""outputLimit":1"#, "outputLimit"),
        (#""memory":"6m""#, "memory"), (#""cpus":0.01"#, "cpus"), (#""timeout":1e300"#, "timeout"),
    ])
    func aRealLimitIsAccepted(_ field: String, _ name: String) throws {
        let text = #"{"type":"run","id":"x","files":[{"path":"a.py","content":""}],"limits":{"# + field + "}}"
        let (_, request) = try NativeProtocol.decode(text)
        guard case .run(let spec) = request, let limits = spec.limits else {
            Issue.record("no limits in \(request)")
            return
        }
        switch name {
        case "timeout": #expect(limits.timeout.map { $0 >= .milliseconds(1) } == true)
        case "outputLimit": #expect(limits.outputLimit == 1)
        case "memory": #expect(limits.memory == 6 << 20)
        default: #expect(limits.cpus == 0.01)
        }
    }

    /// Foundation's JSONDecoder traps on a document cut off inside 512 nested arrays; the decoders must refuse it first.
    @Test func deeplyNestedAndCutOffMessagesAreRefusedNotACrash() {
        for depth in [63, 64, 65, 511, 512, 513, 5000] {
            for tail in ["", "]", "x"] {
                let text = #"{"type":"run","id":"d","files":"# + String(repeating: "[", count: depth) + tail
                checkDecode(text, seed: 0)
                _ = SocketIOConnection.parsePacket("2" + String(repeating: "[", count: depth) + tail)
            }
        }
        #expect(JSONGuard.nestsTooDeeply(Array((String(repeating: "[", count: 65)).utf8)))
        #expect(!JSONGuard.nestsTooDeeply(Array(("[\"" + String(repeating: "[", count: 100) + "\"]").utf8)), "brackets in strings do not count")
        #expect(
            !JSONGuard.nestsTooDeeply(Array(#"["\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]"#.utf8)), "escaped quotes")
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func mutatedMessagesNeverCrashTheDecoder(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for _ in 0..<1500 {
            var bytes = Array(Self.validMessages.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng))
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
                case 3:  // swap one JSON value for an awkward one
                    let text = String(decoding: bytes, as: UTF8.self)
                    if let colon = text.indices.filter({ text[$0] == ":" }).randomElement(using: &rng) {
                        let after = text.index(after: colon)
                        let end = text[after...].firstIndex(where: { $0 == "," || $0 == "}" }) ?? text.endIndex
                        bytes = Array((text[..<after] + Self.awkwardValues.randomElement(using: &rng)! + text[end...]).utf8)
                    }
                default:  // duplicate a slice
                    if bytes.count > 2 {
                        let a = Int.random(in: 0..<bytes.count - 1, using: &rng)
                        let b = Int.random(in: a..<bytes.count, using: &rng)
                        bytes.insert(contentsOf: bytes[a...b], at: Int.random(in: 0...bytes.count, using: &rng))
                    }
                }
                if bytes.isEmpty { bytes = [UInt8(ascii: "{")] }
            }
            checkDecode(String(decoding: bytes, as: UTF8.self), seed: seed)
        }
    }

    @Test(arguments: [UInt64(11), 12])
    func randomJSONObjectsNeverCrashTheDecoder(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let keys = [
            "type", "id", "files", "path", "name", "content", "encoding", "language", "entry", "stdin", "args", "env",
            "limits", "timeout", "memory", "cpus", "outputLimit", "fresh", "data", "eof", "code", "cell", "executable",
        ]
        let types = ["\"run\"", "\"input\"", "\"stop\"", "\"kernel.start\"", "\"kernel.execute\"", "\"ping\"", "\"x\"", "1", "null"]
        func value(_ depth: Int) -> String {
            if depth > 3 || Bool.random(using: &rng) { return Self.awkwardValues.randomElement(using: &rng)! }
            if Bool.random(using: &rng) {
                return "[" + (0..<Int.random(in: 0...3, using: &rng)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
            }
            return object(depth + 1)
        }
        func object(_ depth: Int) -> String {
            var fields = (0..<Int.random(in: 0...6, using: &rng)).map { _ in "\"\(keys.randomElement(using: &rng)!)\":\(value(depth))" }
            if depth == 0 && Int.random(in: 0..<4, using: &rng) > 0 { fields.insert("\"type\":\(types.randomElement(using: &rng)!)", at: 0) }
            return "{" + fields.joined(separator: ",") + "}"
        }
        for _ in 0..<3000 { checkDecode(object(0), seed: seed) }
    }

    @Test(arguments: [UInt64(21), 22])
    func socketIOPacketsNeverCrashTheParser(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let valid = [
            "0", "0{\"token\":\"t\"}", "0/admin,", "1", "2[\"run\",{\"sessionId\":\"c\",\"files\":[]}]", "213[\"input\",\"x\\n\"]",
            "2/other,5[\"stop\"]", "3", "3[]",
        ]
        for _ in 0..<4000 {
            var bytes = Array(valid.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                if Bool.random(using: &rng), !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                } else {
                    bytes.insert(
                        contentsOf: Array(Self.awkwardValues.randomElement(using: &rng)!.utf8), at: Int.random(in: 0...bytes.count, using: &rng))
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let packet = SocketIOConnection.parsePacket(text) else {
                #expect(text.isEmpty, "seed \(seed): nil for a non-empty packet")
                continue
            }
            #expect(packet.type == text.first)
            #expect(packet.ackID.map { $0.allSatisfy { $0.isASCII && $0.isNumber } } ?? true)
            #expect(packet.namespace.hasPrefix("/"))
        }
    }
}
