import SeededRandom
import Testing

@testable import CodeRunnerCore

/// The fuzz tests' own helpers on the shared seeded generator.
extension SeededRandom {
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    /// A string made mostly of characters the parser under test treats specially.
    mutating func text(from alphabet: [Character], maxLength: Int) -> String {
        String((0..<int(0...maxLength)).map { _ in pick(alphabet) })
    }

    /// `base` with a few random edits: deletions, duplications, insertions from `alphabet`, swaps.
    mutating func mutate(_ base: String, alphabet: [Character], edits: Int = 4) -> String {
        var characters = Array(base)
        for _ in 0..<int(1...edits) {
            let position = characters.isEmpty ? 0 : int(0...characters.count - 1)
            switch int(0...3) {
            case 0 where !characters.isEmpty: characters.remove(at: position)
            case 1 where !characters.isEmpty: characters.insert(characters[position], at: position)
            case 2 where characters.count > 1: characters.swapAt(position, int(0...characters.count - 1))
            default: characters.insert(pick(alphabet), at: min(position, characters.count))
            }
        }
        return String(characters)
    }
}

/// Property and fuzz tests of every parser that reads text from outside (config files, quantities, CIDRs, submitted
/// paths, typed cells) and of the subnet allocator: random and mutated inputs never crash, and stated properties hold.
/// No Docker. Each test prints nothing unless a property fails; the seed is in the failure message.
@Suite("Fuzz: parsers and allocator")
struct FuzzTests {
    static let iterations = 3000
    static let awkward: [Character] = Array("[]=\"\\#,.-_ \t\n\r/0123456789abcxyzABC:;'`{}()$%+*nteé\u{0}\u{7f}\u{1b}İß🙂\u{200b}\u{301}")

    // MARK: Config file

    static let exampleConfig = """
        # coderunner configuration
        [server]
        host = "127.0.0.1"   # loopback only
        port = 8080
        logLevel = "info"

        [network]
        pools = ["10.64.0.0/12", "10.10.0.0/16"]
        allowEgress = false

        [runtime.python]
        memory = "256m"
        timeout = "5s"
        image = "coderunner/python:latest"
        """

    @Test func configParserNeverCrashesOnRandomOrMutatedText() {
        var random = SeededRandom(seed: 0xC0F1)
        for _ in 0..<Self.iterations {
            let text =
                random.chance(50)
                ? random.text(from: Self.awkward, maxLength: 200)
                : random.mutate(Self.exampleConfig, alphabet: Self.awkward, edits: 8)
            do {
                let pairs = try ConfigFileParser.parse(text, file: "fuzz.toml")
                for (key, _) in pairs {
                    #expect(
                        !key.isEmpty && !key.contains { $0.isWhitespace || $0 == "=" || $0 == "\"" || $0 == "#" },
                        "key \(key.debugDescription) from \(text.debugDescription)")
                }
            } catch {
                guard case .syntax(let file, let line, let reason) = error else {
                    Issue.record("unexpected error \(error) for \(text.debugDescription)")
                    continue
                }
                #expect(file == "fuzz.toml" && line >= 1 && !reason.isEmpty)
                #expect(line <= text.split(separator: "\n", omittingEmptySubsequences: false).count, "line \(line) past the end")
            }
        }
    }

    /// Any value written the way the format documents comes back unchanged, escapes included.
    @Test func configParserRoundTripsRandomValidFiles() throws {
        var random = SeededRandom(seed: 0x70E1)
        let keyAlphabet = Array("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_-")
        let valueAlphabet: [Character] = Array("abc XYZ 019 #=[],./:'\"\\\t\néß🙂")
        func quoted(_ value: String) -> String {
            var out = "\""
            for character in value {
                switch character {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                default: out.append(character)
                }
            }
            return out + "\""
        }
        for round in 0..<500 {
            var text = ""
            var expected: [(String, String)] = []
            var section = ""
            for _ in 0..<random.int(1...12) {
                if random.chance(25) {
                    section = (0..<random.int(1...3)).map { _ in String(random.text(from: keyAlphabet, maxLength: 6)) + "k" }.joined(separator: ".")
                    text += random.chance(50) ? "[\(section)]\n" : "  [ \(section) ]   # section\n"
                }
                let key = random.text(from: keyAlphabet, maxLength: 10) + "k"
                let rendered: String
                let value: String
                switch random.int(0...3) {
                case 0:
                    value = random.text(from: valueAlphabet, maxLength: 20)
                    rendered = quoted(value)
                case 1:
                    let items = (0..<random.int(0...4)).map { _ in random.text(from: Array("abc123./:-"), maxLength: 8) }
                    value = items.joined(separator: ",")
                    rendered = "[" + items.map(quoted).joined(separator: random.chance(50) ? "," : " , ") + "]"
                case 2:
                    value = String(random.int(0...1_000_000))
                    rendered = value
                default:
                    value = random.pick(["true", "false", "10.64.0.0/12", "128m", "1.5s"])
                    rendered = value
                }
                text +=
                    random.pick(["", "  ", "\t"]) + key + random.pick(["=", " = ", "\t=  "]) + rendered
                    + random.pick(["", "   ", " # a comment with \"quotes\" and = signs"]) + "\n"
                if random.chance(20) { text += random.pick(["\n", "# only a comment\n", "   \n"]) }
                expected.append((section.isEmpty ? key : section + "." + key, value))
            }
            let parsed = try ConfigFileParser.parse(text, file: "round\(round).toml")
            #expect(parsed.map(\.0) == expected.map(\.0), "keys differ (round \(round)):\n\(text)")
            #expect(parsed.map(\.1) == expected.map(\.1), "values differ (round \(round)):\n\(text)")
        }
    }

    // MARK: Quantities

    @Test func quantityParsersNeverCrash() {
        var random = SeededRandom(seed: 0x0A17)
        let alphabet: [Character] =
            Array("0123456789.eE+-_ xnaifNAIF msuhkgbtiMSUHKGBTI\t\u{a0}İ🙂") + ["1e308", "1e400", "99999999999999999999"].flatMap(Array.init)
        let seeds = ["500ms", "2s", "1.5m", "1h", "10us", "128m", "1g", "512k", "1048576", "128MiB", "1gb", "0", "inf", "nan", "-1s", "1e18"]
        for _ in 0..<Self.iterations * 2 {
            let text = random.chance(50) ? random.text(from: alphabet, maxLength: 24) : random.mutate(random.pick(seeds), alphabet: alphabet)
            if let duration = try? Quantity.duration(text) {
                #expect(duration >= .zero && duration <= .seconds(86_400 * 365), "\(text.debugDescription) -> \(duration)")
                _ = Quantity.formatDuration(duration)
            }
            if let bytes = try? Quantity.byteSize(text) {
                #expect(Double(bytes) < 1e18, "\(text.debugDescription) -> \(bytes)")
                _ = Quantity.formatBytes(bytes)
            }
        }
    }

    @Test func quantitiesMeanWhatTheySay() throws {
        var random = SeededRandom(seed: 0x5175)
        for _ in 0..<Self.iterations {
            let n = random.int(0...1_000_000)
            #expect(try Quantity.duration("\(n)ms") == .milliseconds(n))
            #expect(try Quantity.duration(" \(n)S ") == .seconds(n))
            #expect(try Quantity.duration("\(n)") == .seconds(n))
            #expect(try Quantity.byteSize("\(n)k") == UInt64(n) << 10)
            #expect(try Quantity.byteSize("\(n)MiB") == UInt64(n) << 20)
            #expect(try Quantity.byteSize("\(n)") == UInt64(n))
            // What `config` prints parses back to the same value.
            let bytes = UInt64(n) << UInt64(random.pick([0, 10, 20, 30]))
            let shown = Quantity.formatBytes(bytes)
            if !shown.contains(".") { #expect(try Quantity.byteSize(shown) == bytes, "\(bytes) shown as \(shown)") }
            let duration = Duration.microseconds(Int64(n) * Int64(random.pick([1, 1000, 1_000_000])))
            #expect(try Quantity.duration(Quantity.formatDuration(duration)) == duration, "\(duration) shown as \(Quantity.formatDuration(duration))")
        }
    }

    // MARK: CIDRs and the allocator

    @Test func cidrParserNeverCrashesAndRoundTrips() {
        var random = SeededRandom(seed: 0xC1D2)
        let alphabet: [Character] = Array("0123456789./ -+x:abf\u{0}🙂")
        for _ in 0..<Self.iterations * 2 {
            let text =
                random.chance(50)
                ? random.text(from: alphabet, maxLength: 22)
                : random.mutate(
                    random.pick(["10.64.0.0/12", "10.10.0.0/16", "192.168.1.0/24", "0.0.0.0/0", "255.255.255.255/32"]), alphabet: alphabet)
            if let network = IPv4Network(text) {
                #expect((0...32).contains(network.prefixLength), "\(text.debugDescription)")
                #expect(IPv4Network(network.description) == network, "\(text.debugDescription) -> \(network)")
                #expect(network.contains(network))
                _ = network.size
                _ = network.lastAddress
                _ = network.subnet24Count
                _ = network.isPrivate
            }
        }
        for _ in 0..<Self.iterations {
            let prefix = random.int(0...32)
            let network = IPv4Network(address: UInt32.random(in: 0...UInt32.max, using: &random), prefixLength: prefix)
            #expect(IPv4Network(network.description) == network)
            // Setting any host bit makes the text invalid (typos like 10.64.1.0/12 are caught).
            if prefix < 32 {
                let hostBit = UInt32(1) << UInt32(random.int(0...(31 - prefix)))
                #expect(IPv4Network("\(IPv4Network.formatAddress(network.address | hostBit))/\(prefix)") == nil)
            }
        }
    }

    /// For random non-overlapping pools: the allocator hands out distinct /24s inside the pools, exactly `capacity` of
    /// them, then reports exhaustion naming the pools; a released subnet is handed out again.
    @Test func allocatorHandsOutDistinctSubnetsUntilExhaustion() async throws {
        var random = SeededRandom(seed: 0xA110)
        for round in 0..<60 {
            var pools: [IPv4Network] = []
            for _ in 0..<random.int(1...4) {
                let prefix = random.int(19...24)
                let candidate = IPv4Network(address: UInt32(10) << 24 | UInt32(random.int(0...0xFFFF)) << 8, prefixLength: prefix)
                if !pools.contains(where: { $0.overlaps(candidate) }) { pools.append(candidate) }
            }
            let allocator = try SubnetAllocator(pools: pools)
            #expect(allocator.capacity == pools.reduce(0) { $0 + (1 << (24 - $1.prefixLength)) })
            // Some subnets are taken by someone else (other Docker networks) and must be skipped.
            var foreign: Set<IPv4Network> = []
            for _ in 0..<random.int(0...3) {
                let pool = random.pick(pools)
                foreign.insert(pool.subnet24(at: random.int(0...pool.subnet24Count - 1)))
            }
            var handed: Set<IPv4Network> = []
            while true {
                let subnet: IPv4Network
                do { subnet = try await allocator.allocate(excluding: foreign) } catch {
                    #expect(error == .exhausted(pools: pools.map(\.description), capacity: allocator.capacity), "round \(round)")
                    #expect(error.description.contains(pools[0].description))
                    break
                }
                #expect(subnet.prefixLength == 24)
                #expect(pools.contains { $0.contains(subnet) }, "\(subnet) outside \(pools)")
                #expect(!foreign.contains(subnet), "\(subnet) is taken by someone else")
                #expect(handed.insert(subnet).inserted, "\(subnet) handed out twice")
                if handed.count > allocator.capacity {
                    Issue.record("more subnets than capacity")
                    break
                }
            }
            #expect(
                handed.count == allocator.capacity - foreign.count,
                "round \(round): \(handed.count) of \(allocator.capacity) with \(foreign.count) foreign")
            if let back = handed.randomElement(using: &random) {
                await allocator.release(back)
                #expect(try await allocator.allocate(excluding: foreign) == back)
            }
        }
    }

    @Test func allocatorRejectsBadPoolsWithoutCrashing() {
        var random = SeededRandom(seed: 0xBAD0)
        for _ in 0..<Self.iterations {
            let texts = (0..<random.int(0...3)).map { _ in
                random.chance(70)
                    ? "10.\(random.int(0...255)).\(random.int(0...255)).0/\(random.int(8...30))"
                    : random.text(from: Array("0123456789./x"), maxLength: 18)
            }
            do {
                let allocator = try SubnetAllocator(poolTexts: texts)
                #expect(allocator.pools.allSatisfy { $0.prefixLength <= 24 })
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    // MARK: Submitted paths

    @Test func pathValidationNeverCrashesAndNeverLetsAnEscapeThrough() {
        var random = SeededRandom(seed: 0x9A7B)
        let alphabet: [Character] = Array("ab./\\_-~ \u{0}\u{1}\u{7f}\n:é🙂") + [".", ".", "/", "/"]
        let seeds = ["main.py", "src/lib/util.py", "../etc/passwd", "/etc/passwd", "a//b", "./a", "a/./b", "a/..", "...", "..a/b"]
        for _ in 0..<Self.iterations * 2 {
            var path = random.chance(50) ? random.text(from: alphabet, maxLength: 30) : random.mutate(random.pick(seeds), alphabet: alphabet)
            if random.chance(3) { path = String(repeating: random.pick(["a", "ab/", "é"]), count: random.int(200...1200)) }
            let accepted = (try? Submission.validate(path: path)) != nil
            if accepted {
                let components = path.split(separator: "/", omittingEmptySubsequences: false)
                #expect(!path.hasPrefix("/"), "\(path.debugDescription)")
                #expect(!components.contains("..") && !components.contains(".") && !components.contains(""), "\(path.debugDescription)")
                #expect(!path.utf8.contains(0) && !path.contains("\\"), "\(path.debugDescription)")
                #expect(
                    path.utf8.count <= SubmissionLimits.maxPathBytes && components.allSatisfy { $0.utf8.count <= SubmissionLimits.maxComponentBytes })
            }
        }
        // Plain relative names are always accepted.
        let safe: [Character] = Array("abcXYZ019_-.é")
        for _ in 0..<Self.iterations {
            let components = (0..<random.int(1...5)).map { _ in "n" + random.text(from: safe, maxLength: 20) }
            let path = components.joined(separator: "/")
            #expect((try? Submission.validate(path: path)) != nil, "\(path.debugDescription) was refused")
        }
    }

    // MARK: Cells

    @Test func cellSplitterNeverCrashesAndKeepsEveryLine() {
        var random = SeededRandom(seed: 0xCE11)
        let alphabet: [Character] = Array("abc xy=:;,.()[]{}\"'`\\#/*-\n\n\n\t0123456789") + ["\u{0}", "é", "🙂"]
        let snippets = [
            "def f(x):\n    return x\n\nf(1)\n", "for i in range(3):\n  print(i)\n", "s = '''a\nb'''\n", "x = [1,\n2]\n",
            "SELECT 1;\nSELECT 'a\nb';\n", "function f() {\n  return `x\ny`;\n}\n", "/* a\n b */ int x = 1;\n", "-- c\nSELECT 2;",
        ]
        for _ in 0..<Self.iterations {
            let text =
                random.chance(50) ? random.text(from: alphabet, maxLength: 120) : random.mutate(random.pick(snippets), alphabet: alphabet, edits: 6)
            for language in ["python", "sql", "javascript", "java", "cpp", "other"] {
                let cells = CellSplitter(language: language).split(text)
                let kept = cells.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false) }.filter { !$0.trimmingWhitespace().isEmpty }
                let given = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.trimmingWhitespace().isEmpty }
                #expect(kept == given, "\(language) lost or reordered lines of \(text.debugDescription): \(cells)")
                #expect(cells.allSatisfy { !$0.trimmingWhitespace().isEmpty }, "\(language): an empty cell from \(text.debugDescription)")
                _ = CellSplitter(language: language).needsMore(text.split(separator: "\n").map(String.init))
                // Piped mode takes cells one at a time (the rest is the cell's stdin): the same cells as `split`.
                var input = Array(text.utf8)[...]
                var oneByOne: [String] = []
                while let unit = CellSplitter(language: language).next(in: &input, metaCommands: false), case .cell(let cell) = unit {
                    oneByOne.append(cell)
                }
                #expect(
                    oneByOne == cells && input.isEmpty, "\(language): \(text.debugDescription) cut differently one at a time: \(oneByOne) vs \(cells)"
                )
            }
        }
    }
}
