import AgentProtocol
import Foundation
import Testing

@testable import CodeRunnerCore

/// Issue 19: what untrusted programs, cell files and kernels hand the CLI (no Docker).
@Suite struct TerminalFilterTests {
    static func filtered(_ text: String, chunk: Int = .max) -> String {
        var filter = TerminalFilter()
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + chunk)
            out += filter.filter(Array(bytes[index..<end]))
            index = end
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let esc = "\u{1B}"

    @Test(arguments: [1, 2, 3, 7, Int.max])
    func dropsSequencesThatActOutsideTheOutputEvenWhenSplit(_ chunk: Int) {
        let e = Self.esc
        let input =
            "a\(e)]52;c;ZXZpbA==\u{07}b\(e)]0;title\(e)\\c\(e)]8;;file:///etc/passwd\(e)\\link\(e)]8;;\(e)\\d\(e)[6n\(e)[c\(e)[2J\(e)[?1049h\(e)c\(e)P+q\(e)\\e\u{9B}6n!"
        #expect(Self.filtered(input, chunk: chunk) == "abclinkde6n!")
    }

    @Test(arguments: [1, 2, Int.max])
    func keepsColoursAndOrdinaryFormatting(_ chunk: Int) {
        let e = Self.esc
        let input = "\(e)[1;31mred\(e)[0m\tx\r\n\(e)[2K\(e)[3Aé ü 日本\u{08}\(e)[38;5;7mgrey\(e)[m"
        #expect(Self.filtered(input, chunk: chunk) == input)
    }

    @Test func reverseVideoIsRemovedSoTheStatusBadgeCannotBeForged() {
        let e = Self.esc
        #expect(Self.filtered("\(e)[1;7m coderunner \(e)[0m x") == "\(e)[1m coderunner \(e)[0m x")
        #expect(Self.filtered("\(e)[7mX") == "X")
        #expect(Self.filtered("\(e)[1;07mX\(e)[007;31mZ") == "\(e)[1mX\(e)[31mZ", "terminals read 07 as 7")
        #expect(Self.filtered("\(e)[38;2;7;7;7;7mY") == "\(e)[38;2;7;7;7mY")
        #expect(StatusBadge.styled("coderunner: time limit exceeded").contains("\(e)[1;7m coderunner \(e)[0m time limit"))
    }

    @Test func memoryStaysBoundedOnEndlessSequences() {
        var filter = TerminalFilter()
        #expect(filter.filter(Array("\u{1B}[".utf8) + [UInt8](repeating: UInt8(ascii: "1"), count: 1 << 20)).isEmpty)
        #expect(filter.filter(Array("5mok".utf8)) == Array("ok".utf8))
        #expect(filter.filter(Array("\u{1B}]52;".utf8) + [UInt8](repeating: UInt8(ascii: "A"), count: 1 << 20)).isEmpty)
        #expect(filter.filter([0x07] + Array("after".utf8)) == Array("after".utf8))
    }
}

@Suite struct HostFileTests {
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "coderunner-hostfile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aSymlinkAtTheNameIsLeftUntouched() throws {
        let dir = try Self.folder()
        try "victim\n".write(toFile: dir + "/victim.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/nb_cell1_1.png", withDestinationPath: dir + "/victim.txt")
        #expect(throws: HostFile.WriteError.exists(dir + "/nb_cell1_1.png")) { try HostFile.create(dir + "/nb_cell1_1.png", [1, 2, 3]) }
        #expect(try String(contentsOfFile: dir + "/victim.txt", encoding: .utf8) == "victim\n")
        // --force replaces the link itself, never the file it points to.
        try HostFile.create(dir + "/nb_cell1_1.png", [1, 2, 3], replace: true)
        #expect(try String(contentsOfFile: dir + "/victim.txt", encoding: .utf8) == "victim\n")
        #expect(try FileManager.default.destinationOfSymbolicLinkSafe(dir + "/nb_cell1_1.png") == nil)
        #expect(FileManager.default.contents(atPath: dir + "/nb_cell1_1.png") == Data([1, 2, 3]))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["nb_cell1_1.png", "victim.txt"])
    }

    @Test func anExistingFileIsNotReplacedAndUniqueNamesStepAside() throws {
        let dir = try Self.folder()
        try HostFile.create(dir + "/a.png", [1])
        #expect(throws: HostFile.WriteError.self) { try HostFile.create(dir + "/a.png", [2]) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/a-2.png", withDestinationPath: "/etc/hostname")
        #expect(try HostFile.createUnique(dir + "/a.png", [3]) == dir + "/a-3.png")
        #expect(FileManager.default.contents(atPath: dir + "/a.png") == Data([1]))
    }

    @Test func confinedPathsStayInTheFolder() throws {
        let dir = try Self.folder()
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try "x".write(toFile: dir + "/in/ok.txt", atomically: true, encoding: .utf8)
        try "secret".write(toFile: dir + "/secret.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: dir + "/in/link.txt", withDestinationPath: "../secret.txt")
        try FileManager.default.createSymbolicLink(atPath: dir + "/in/out", withDestinationPath: "..")
        let root = dir + "/in"
        #expect(try ConfinedPath.existing("ok.txt", root: root).hasSuffix("/in/ok.txt"))
        for bad in ["../secret.txt", dir + "/secret.txt", "/etc/passwd", "link.txt", "out/secret.txt"] {
            #expect(throws: ConfinedPath.Error.self, "\(bad)") { try ConfinedPath.existing(bad, root: root) }
        }
        #expect(try ConfinedPath.newFile("new.txt", root: root).hasSuffix("/in/new.txt"))
        for bad in ["../new.txt", "/tmp/new.txt", "link.txt", "out/new.txt", ".."] {
            #expect(throws: ConfinedPath.Error.self, "\(bad)") { try ConfinedPath.newFile(bad, root: root) }
        }
    }
}

extension FileManager {
    /// nil when `path` is not a symlink.
    func destinationOfSymbolicLinkSafe(_ path: String) throws -> String? {
        (try? attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeSymbolicLink ? try destinationOfSymbolicLink(atPath: path) : nil
    }
}

@Suite struct ReservedSessionNameTests {
    @Test(arguments: [
        SessionName.ephemeral(), "shell-" + SessionName.ephemeral().dropFirst(4), "nb-0123456789", SessionName.standby(), "Run-x", "shell-9cec6b9697",
    ])
    func autoGeneratedNamesAreRefused(_ name: String) {
        #expect(throws: SessionError.self) { try SessionName.validate(name) }
        #expect(SessionName.reservedPrefix(of: name) != nil)
    }

    @Test(arguments: ["runner", "shellfish", "nb", "ci-run-1", "sbx"])
    func similarNamesStayAllowed(_ name: String) throws {
        try SessionName.validate(name)
    }

    @Test func theErrorsSayWhatToDo() {
        #expect(SessionError.reservedName("shell-1", prefix: "shell-").description.contains("pick another name"))
        #expect(SessionError.otherCreator(session: "s", creator: "uid=1", ours: "uid=2").description.contains("--join"))
        #expect(SessionCreator.current(environment: ["CODERUNNER_JOB": "42 \u{1B}x"]).hasSuffix(" job=42x"))
    }
}

@Suite struct ForgedKernelEventTests {
    actor Events {
        var items: [KernelEvent] = []
        func add(_ event: KernelEvent) { items.append(event) }
    }

    static func run(limit: UInt64, events: @escaping @Sendable (UInt32) -> [AgentMessage]) async throws -> (CellResult, [KernelEvent], Int) {
        let agent = InstantlyAnsweringAgent { events($0) + [InstantlyAnsweringAgent.finished($0)] }
        let seen = Events()
        let manifest = ConfigurationTests.manifest
        let kernel = KernelSession(
            runtime: Runtime(manifest: manifest, directory: "/x", image: manifest.image), session: "s", containerID: "c",
            connection: agent, outputLimitBytes: limit
        ) { await seen.add($0) }
        guard case .ready = await kernel.begin() else { throw KernelSessionTests.TestFailure("not ready") }
        let result = try await KernelSessionTests.withinSeconds(10) { try await kernel.execute("forge()") }
        return (result, await seen.items, agent.interrupts.withLock { $0 })
    }

    static func displayBytes(_ events: [KernelEvent]) -> Int {
        events.reduce(0) {
            if case .display(_, _, let data) = $1 { return $0 + data.count }
            return $0
        }
    }

    @Test func oversizedDisplaysCountAgainstTheOutputLimit() async throws {
        let (result, events, interrupts) = try await Self.run(limit: 1 << 20) { cell in
            (0..<5).map { _ in .display(cell: cell, mime: "image/png", data: [UInt8](repeating: 0x89, count: 600 << 10)) }
        }
        #expect(result.status == .outputLimit)
        #expect(Self.displayBytes(events) <= 1 << 20)
        #expect(interrupts == 1)
    }

    @Test func displaysAreCappedInNumber() async throws {
        let (result, events, _) = try await Self.run(limit: 0) { cell in
            (0..<1000).map { _ in .display(cell: cell, mime: "text/plain", data: [0x41]) }
        }
        #expect(result.status == .outputLimit)
        #expect(
            events.filter {
                if case .display = $0 { return true }
                return false
            }.count == KernelDisplay.maxPerCell)
    }

    @Test func malformedTypesAndOtherCellsAreDropped() async throws {
        let (result, events, _) = try await Self.run(limit: 1 << 20) { cell in
            [
                .display(cell: cell, mime: "../../x", data: [1]), .display(cell: cell + 7, mime: "image/png", data: [1]),
                .display(cell: cell, mime: "text/plain", data: [0x41]),
            ]
        }
        #expect(result.status == .ok)
        #expect(
            events.filter {
                if case .display = $0 { return true }
                return false
            } == [.display(cell: result.cell, mime: "text/plain", data: [0x41])])
    }

    /// Every MIME type a cell can claim ends up in a notebook nbformat accepts, and never crashes the collector
    /// (`text/plain` was a duplicate key in a dictionary literal: a trap).
    @Test func everyMIMETypeMakesAValidOutput() async throws {
        let collector = CellCollector()
        let types = [
            "text/plain", "text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/svg+xml", "image/gif",
            "application/json", "application/vnd.custom+json", "application/javascript", "application/pdf", "application/x-anything", "x/y",
        ]
        for mime in types {
            await collector.add(mime: mime, data: Array("{\"a\": 1}".utf8))
            await collector.add(mime: mime, data: [0xFF, 0x00, 0x89])
        }
        let (outputs, images) = await collector.outputs(failed: false, status: .ok, imageBaseName: "nb_cell1")
        #expect(outputs.count == types.count * 2)
        #expect(images.map(\.name) == ["nb_cell1_1.png", "nb_cell1_2.png"])
        for output in outputs {
            guard case .object(let data)? = output["data"] else {
                Issue.record("no data in \(output)")
                continue
            }
            #expect(data["text/plain"] != nil)
        }
        #expect(outputs.first?["data"]?["text/plain"] == JSONValue.lines("{\"a\": 1}"))
        #expect(outputs[16]["data"]?["application/json"] == .object(["a": .number(1)]))
        _ = try JSONEncoder().encode(JSONValue.array(outputs))
    }
}
