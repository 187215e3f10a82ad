import ArgumentParser
import CodeRunnerCore
import Testing

@testable import CodeRunnerCLI

/// Quantities and languages arrive in the commands typed, read by CodeRunnerCore's parsers; a bad value is refused
/// while parsing, with the parser's explanation and the usage exit code (64).
@Suite struct TypedArgumentTests {
    /// The message and exit code ArgumentParser gives for `arguments` (which must not parse).
    func failure(_ arguments: [String]) -> (message: String, exitCode: Int32)? {
        do {
            _ = try RootCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return (RootCommand.message(for: error), RootCommand.exitCode(for: error).rawValue)
        }
    }

    @Test func runOptionsArriveTyped() throws {
        let command = try RootCommand.parseAsRoot([
            "run", "--timeout", "500ms", "--memory", "256m", "--cpus", "0.5", "--output-limit", "1m", "--lang", "py", "a.py",
        ])
        let run = try #require(command as? RunCommand)
        #expect(run.timeout?.value == .milliseconds(500))
        #expect(run.memory?.value == 256 << 20)
        #expect(run.cpus?.value == 0.5)
        #expect(run.outputLimit?.value == 1 << 20)
        #expect(run.lang == LanguageArgument("py"))
    }

    @Test func sessionOptionsArriveTyped() throws {
        let command = try RootCommand.parseAsRoot(["session", "sql", "--timeout", "2m", "--memory", "1g"])
        let session = try #require(command as? SessionCommand)
        #expect(session.language.name == "sql")
        #expect(session.timeout?.value == .seconds(120))
        #expect(session.memory?.value == 1 << 30)
        #expect(try #require(try RootCommand.parseAsRoot(["session"]) as? SessionCommand).language.name == "python")
    }

    @Test(arguments: [
        (["run", "--timeout", "banana", "a.py"], ["'banana' is not a duration", "--timeout <duration>"]),
        (["run", "--timeout", "-1", "a.py"], ["'-1' is not a duration"]),
        (["run", "--ttl", "soon", "--session", "s", "a.py"], ["'soon' is not a duration", "--ttl"]),
        (["run", "--output-limit", "lots", "a.py"], ["'lots' is not a size", "--output-limit"]),
        (["run", "--memory", "12x", "a.py"], ["--memory 12x is not a valid size", "6m to"]),
        (["run", "--memory", "1m", "a.py"], ["--memory 1m is not a valid size", "6m to"]),
        (["run", "--cpus", "two", "a.py"], ["--cpus two is not a valid number of CPUs", "0.01 to"]),
        (["run", "--cpus", "0", "a.py"], ["--cpus 0 is not a valid number of CPUs"]),
        (["session", "--timeout", "forever"], ["'forever' is not a duration"]),
        (["session", "--memory", "big"], ["'big' is not a size"]),
    ])
    func badValuesAreRefusedWithTheReason(arguments: [String], needles: [String]) throws {
        let (message, exitCode) = try #require(failure(arguments))
        #expect(exitCode == 64)
        for needle in needles { #expect(message.contains(needle), "\(message)") }
        #expect(!message.contains("\n"), "one line: \(message)")
    }

    @Test func quantitiesUseTheCoreParsers() throws {
        #expect(DurationArgument(argument: "2m")?.value == .seconds(120))
        #expect(DurationArgument(argument: "10")?.value == .seconds(10))
        #expect(DurationArgument(argument: "2 weeks") == nil)
        #expect(ByteSizeArgument(argument: "64k")?.value == 64 << 10)
        #expect(ByteSizeArgument(argument: "-5") == nil)
        #expect(MemoryLimitArgument(argument: "5m") == nil, "Docker refuses less than 6m")
        #expect(CPUCountArgument(argument: "2")?.value == 2)
        #expect(CPUCountArgument(argument: "0.001") == nil)
    }

    /// The engine host's size is checked once it is known, with the message `run` printed before.
    @Test func limitsAreCheckedAgainstTheHost() throws {
        let host = HostCapacity(cpus: 2, memoryBytes: 512 << 20)
        let memory = try #require(MemoryLimitArgument(argument: "1g"))
        #expect(throws: LimitOptionError.memoryAboveHost("1g", range: "6m to 512m (the engine's host memory)")) {
            try memory.checked(against: host)
        }
        #expect(try MemoryLimitArgument(parsing: "256m").checked(against: host) == 256 << 20)
        #expect(try MemoryLimitArgument(parsing: "1g").checked(against: nil) == 1 << 30)
        let cpus = try #require(CPUCountArgument(argument: "4"))
        #expect(throws: LimitOptionError.self) { try cpus.checked(against: host) }
        #expect(try CPUCountArgument(parsing: "1.5").checked(against: host) == 1.5)
    }

    /// Names stay as typed until the catalog is loaded; completion offers the shipped languages (the committed
    /// completion scripts, checked by GeneratedFilesTests, show the list).
    @Test func languagesResolveThroughTheCatalog() throws {
        #expect(RootCommand.completionScript(for: .fish).contains("python javascript java cpp sql"))
        let images = try #require(try RootCommand.parseAsRoot(["images", "build", "python", "java"]) as? ImagesBuildCommand)
        #expect(images.languages.map(\.name) == ["python", "java"])
        #expect(throws: RuntimeError.self) { try LanguageArgument("cobol").runtime(in: RuntimeCatalog(runtimes: [])) }
    }
}
