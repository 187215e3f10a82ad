import ArgumentParser
import Testing

@testable import CodeRunnerCLI

/// Checks between flags run in the commands' `validate()`, right after parsing: a mistake is a usage error (64)
/// before any config file, engine or submitted file is read.
@Suite struct ValidationTests {
    func refusal(_ arguments: [String]) -> (message: String, exitCode: Int32)? {
        do {
            _ = try RootCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return (RootCommand.message(for: error), RootCommand.exitCode(for: error).rawValue)
        }
    }

    @Test(arguments: [
        (["run"], "give a file to run"),
        (["run", "--timeout", "0", "a.py"], "--timeout 0 is too short"),
        (["run", "--output-limit", "0", "a.py"], "--output-limit 0 would stop every program"),
        (["run", "--output", "out.ipynb", "a.py"], "--output and --force are for notebooks"),
        (["run", "--force", "a.py", "b.py"], "--output and --force are for notebooks"),
        (["run", "--entry", "../up.py", "a.py"], "'..'"),
        (["run", "--env", "NOEQUALS", "a.py"], "--env takes KEY=VALUE, got 'NOEQUALS'"),
        (["run", "--env", "=x", "a.py"], "--env takes KEY=VALUE"),
        (["run", "--session", "s", "--ttl", "25h", "a.py"], "--ttl must be between 1s and 24h, not 25h"),
        (["run", "--session", "s", "--ttl", "500ms", "a.py"], "--ttl must be between 1s and 24h"),
        (["pool", "warm"], "give a language and --session NAME"),
        (["pool", "warm", "python"], "give a language and --session NAME"),
        (["pool", "warm", "--networks", "2", "--session", "s"], "--networks makes networks, not containers"),
        (["pool", "warm", "--networks", "5000"], "--networks must be between 1 and 4352"),
        (["pool", "warm", "python", "--session", "s", "--count", "101"], "--count must be between 1 and 100"),
        (["pool", "drain"], "add --all to do that"),
        (["pool", "drain", "--all", "--session", "s"], "give either --session NAME or --all, not both"),
        (["pool", "drain", "--networks", "--session", "s"], "leave out --session"),
        (["serve", "--port", "65536"], "--port takes 0...65535"),
        (["generate-docs"], "give --man, --completions <shell> or --output-dir <dir>"),
    ])
    func conflictingOrMissingFlagsAreUsageErrors(arguments: [String], needle: String) throws {
        let (message, exitCode) = try #require(refusal(arguments), "\(arguments) parsed")
        #expect(exitCode == 64)
        #expect(message.contains(needle), "\(message)")
    }

    @Test(arguments: [
        ["run", "a.py"],
        ["run", "--session", "s", "--ttl", "10m", "a.py"],
        ["run", "nb.ipynb", "--output", "out.ipynb", "--force"],
        // A notebook runs in a kernel: the options for programs are ignored, as they always were.
        ["run", "nb.ipynb", "--env", "NOEQUALS"],
        ["pool", "warm", "--networks", "3"],
        ["pool", "warm", "python", "--session", "ci", "--count", "2"],
        ["pool", "drain", "--networks"],
        ["pool", "drain", "--all", "--yes"],
        ["pool", "drain", "--session", "ci"],
        ["serve", "--port", "0"],
    ])
    func consistentCommandLinesPass(arguments: [String]) {
        #expect(refusal(arguments) == nil, "\(arguments): \(refusal(arguments)?.message ?? "")")
    }

    /// A one-shot run has no session for --ttl to keep (CODERUNNER_SESSION would give it one).
    @Test(.enabled(if: Terminal.environment()["CODERUNNER_SESSION", default: ""].isEmpty))
    func ttlNeedsASession() throws {
        let (message, exitCode) = try #require(refusal(["run", "--ttl", "5m", "a.py"]))
        #expect(exitCode == 64)
        #expect(message.contains("--ttl is for a named session"))
    }

    @Test func theCommandPathNamesTheHelpToRead() {
        #expect(CommandNames.path(of: ["pool", "warm", "python", "--count", "0"]) == ["pool", "warm"])
        #expect(CommandNames.path(of: ["run", "run.py"]) == ["run"])
        #expect(CommandNames.path(of: ["--json"]) == [])
    }
}
