import ArgumentParser
import Testing

@testable import CodeRunnerCLI

/// Command lines parsed through the library, as the binary parses them (no process, no Docker): each yields the
/// right command with the right values, and a mistake gives the message and exit code users see.
@Suite struct CommandParsingTests {
    @Test func runTakesFilesAndOptions() throws {
        let command = try RootCommand.parseAsRoot(["run", "a.py", "b.py", "--entry", "b.py", "--json", "-e", "A=1", "--session", "ci"])
        let run = try #require(command as? RunCommand)
        #expect(run.files == ["a.py", "b.py"])
        #expect(run.entry == "b.py")
        #expect(run.json)
        #expect(run.env == ["A=1"])
        #expect(run.session == "ci")
        #expect(!run.fresh)
    }

    @Test func subcommandsAreFoundByTheirPath() throws {
        #expect(try RootCommand.parseAsRoot(["session", "javascript"]) is SessionCommand)
        #expect(try RootCommand.parseAsRoot(["pool"]) is PoolShowCommand)
        #expect(try RootCommand.parseAsRoot(["pool", "drain", "--all", "--yes"]) is PoolDrainCommand)
        #expect(try RootCommand.parseAsRoot(["net", "gc", "--dry-run"]) is NetGCCommand)
        #expect(try RootCommand.parseAsRoot(["images", "build", "python"]) is ImagesBuildCommand)
        #expect(try RootCommand.parseAsRoot(["runtimes", "--json"]) is RuntimesCommand)
        #expect(try RootCommand.parseAsRoot(["config", "--keys"]) is ConfigCommand)
        #expect(try RootCommand.parseAsRoot(["doctor"]) is DoctorCommand)
        #expect(try RootCommand.parseAsRoot(["serve", "--port", "0"]) is ServeCommand)
    }

    @Test func poolWarmTakesItsCounts() throws {
        let warm = try #require(try RootCommand.parseAsRoot(["pool", "warm", "python", "--session", "ci", "--count", "2"]) as? PoolWarmCommand)
        #expect(warm.language?.name == "python")
        #expect(warm.session == "ci")
        #expect(warm.count == 2)
    }

    @Test func unknownOptionIsAUsageError() {
        #expect(throws: (any Error).self) { try RootCommand.parseAsRoot(["run", "--bogus-flag", "x.py"]) }
        do {
            _ = try RootCommand.parseAsRoot(["run", "--bogus-flag", "x.py"])
        } catch {
            #expect(RootCommand.exitCode(for: error).rawValue == 64)
            #expect(RootCommand.message(for: error).contains("--bogus-flag"))
        }
    }

    @Test func optionWithoutValueNamesIt() {
        do {
            _ = try RootCommand.parseAsRoot(["run", "x.py", "--lang"])
            Issue.record("parsed without a value for --lang")
        } catch {
            #expect(RootCommand.exitCode(for: error).rawValue == 64)
            #expect(RootCommand.message(for: error).contains("--lang"))
        }
    }

    /// `coderunner run a.py b.py -- --flag x`: what follows the first `--` is the program's, options included.
    @Test func programArgumentsFollowTheTerminator() throws {
        let run = try #require(try RootCommand.parseCommandLine(["run", "a.py", "b.py", "--", "--flag", "x"]) as? RunCommand)
        #expect(run.files == ["a.py", "b.py"])
        #expect(run.programArguments == ["--flag", "x"])

        let options = try #require(try RootCommand.parseCommandLine(["run", "--timeout", "2s", "a.py", "--", "--json", "--", "-v"]) as? RunCommand)
        #expect(options.timeout?.value == .seconds(2))
        #expect(!options.json, "--json after -- is the program's")
        #expect(options.programArguments == ["--json", "--", "-v"])

        #expect(try #require(try RootCommand.parseCommandLine(["run", "a.py", "--"]) as? RunCommand).programArguments.isEmpty)
        #expect(try #require(try RootCommand.parseCommandLine(["run", "a.py"]) as? RunCommand).programArguments.isEmpty)
    }

    @Test func mistypedCommandGetsTheNearestName() {
        #expect(CommandNames.unknownCommand(in: ["rnu", "x.py"])?.contains("did you mean `coderunner run`") == true)
        #expect(CommandNames.unknownCommand(in: ["help", "sesion"])?.contains("no help topic 'sesion'") == true)
        #expect(CommandNames.unknownCommand(in: ["run", "x.py"]) == nil)
    }
}
