import CodeRunnerCore
import Foundation
import Testing

/// The committed completions and man page are generated from the command definitions (`.ci/generate-docs`);
/// these tests fail when they drift from what the current binary prints, and check the CLI's own documentation
/// surface (--version, help, Examples, no colour codes off a terminal). None of them needs Docker: where a command
/// would contact Docker, DOCKER_HOST points at a socket that does not exist.
@Suite("Generated files and CLI documentation")
struct GeneratedFilesTests {
    static let completionFiles = [("bash", "coderunner.bash"), ("zsh", "_coderunner"), ("fish", "coderunner.fish")]
    static let noDocker = ["DOCKER_HOST": "unix:///nonexistent/coderunner-test-docker.sock"]

    static func committed(_ path: String) throws -> String {
        try String(contentsOfFile: Live.repositoryRoot + "/" + path, encoding: .utf8)
    }

    /// Visible command paths (`["run"]`, `["images", "build"]`, ...) from ArgumentParser's help dump.
    static func commandPaths() throws -> [[String]] {
        let dump = try Live.cli(["--experimental-dump-help"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var paths: [[String]] = []
        func walk(_ command: [String: Any], path: [String]) {
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                guard (sub["shouldDisplay"] as? Bool) ?? true, let name = sub["commandName"] as? String, name != "help" else { continue }
                paths.append(path + [name])
                walk(sub, path: path + [name])
            }
        }
        walk(try #require(json["command"] as? [String: Any]), path: [])
        return paths
    }

    /// Long option names (`--lang`) a command declares, from the help dump.
    static func longOptions(of path: [String]) throws -> [String] {
        let dump = try Live.cli(["--experimental-dump-help"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var command = try #require(json["command"] as? [String: Any])
        for name in path {
            let subs = command["subcommands"] as? [[String: Any]] ?? []
            command = try #require(subs.first { $0["commandName"] as? String == name })
        }
        var names: [String] = []
        for argument in command["arguments"] as? [[String: Any]] ?? [] where (argument["shouldDisplay"] as? Bool) ?? true {
            for name in argument["names"] as? [[String: Any]] ?? [] where name["kind"] as? String == "long" {
                names.append("--" + (name["name"] as? String ?? ""))
            }
        }
        return names
    }

    // MARK: Generated files match the binary

    /// The tree follows `.swift-format` (the toolchain's `swift format`): `swift format --in-place --recursive Sources
    /// Tests Package.swift` fixes what this finds.
    @Test func theSourcesAreFormatted() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift", "format", "lint", "--strict", "--recursive", "Sources", "Tests", "Package.swift"]
        process.currentDirectoryURL = URL(fileURLWithPath: Live.repositoryRoot)
        let report = Pipe()
        process.standardError = report
        process.standardOutput = report
        try process.run()
        let findings = String(decoding: report.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0 && findings.isEmpty, "swift format lint found:\n\(findings.prefix(4000))")
    }

    @Test("completions/ match `coderunner --generate-completion-script`", arguments: completionFiles)
    func completionsAreCurrent(shell: String, file: String) throws {
        let generated = try Live.cli(["--generate-completion-script", shell])
        #expect(generated.status == 0, "\(generated.stderr)")
        let committed = try Self.committed("completions/" + file)
        #expect(generated.stdout == committed, "completions/\(file) is out of date: run .ci/generate-docs and commit the result")
    }

    @Test("man/coderunner.1 matches `coderunner generate-docs --man`")
    func manPageIsCurrent() throws {
        let generated = try Live.cli(["generate-docs", "--man"])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(
            generated.stdout == (try Self.committed("man/coderunner.1")),
            "man/coderunner.1 is out of date: run .ci/generate-docs and commit the result")
    }

    @Test("generate-docs --completions prints the same script as --generate-completion-script", arguments: completionFiles)
    func generateDocsCompletionsAgree(shell: String, file: String) throws {
        let viaDocs = try Live.cli(["generate-docs", "--completions", shell])
        let viaFlag = try Live.cli(["--generate-completion-script", shell])
        #expect(viaDocs.status == 0)
        #expect(viaDocs.stdout == viaFlag.stdout)
    }

    // MARK: Content of the generated files

    @Test("the man page documents every subcommand and option, settings, environment, exit codes, files and examples")
    func manPageIsComplete() throws {
        let page = try Self.committed("man/coderunner.1")
        for path in try Self.commandPaths() {
            let name = (["coderunner"] + path).joined(separator: " ")
            #expect(page.contains(".SS \"\(name)\""), "no section for \(name)")
            for option in try Self.longOptions(of: path) {
                #expect(page.contains("\\fB" + option.replacingOccurrences(of: "-", with: "\\-") + "\\fR"), "\(name) \(option) is not documented")
            }
        }
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "CONFIGURATION", "ENVIRONMENT", "EXIT STATUS", "FILES", "EXAMPLES"] {
            #expect(page.contains(".SH \(section)\n"), "no \(section) section")
        }
        let text = page.replacingOccurrences(of: "\\-", with: "-")
        for key in Configuration.keys {
            #expect(text.contains(key.name), "setting \(key.name) missing")
            #expect(text.contains(key.environmentName), "variable \(key.environmentName) missing")
        }
        for (suffix, _) in Configuration.runtimeKeySuffixes {
            #expect(text.contains("runtime.<language>.\(suffix)"))
            #expect(text.contains("CODERUNNER_RUNTIME_<LANGUAGE>_\(suffix.uppercased())"))
        }
        for variable in [
            "DOCKER_HOST", "NO_COLOR", "CODERUNNER_CONFIG", "CODERUNNER_SESSION", "CODERUNNER_RUNTIMES_DIR",
            "CODERUNNER_AGENT", "CODERUNNER_BASE_IMAGE",
        ] {
            #expect(text.contains(".TP\n\\fB\(variable)\\fR"), "\(variable) not in ENVIRONMENT")
        }
        for code in ["64", "124", "125", "128+N", "130"] { #expect(text.contains(".TP\n\\fB\(code)\\fR"), "exit code \(code) missing") }
        for file in ["/etc/coderunner/config.toml", "/usr/local/share/coderunner/runtimes", "/usr/local/lib/coderunner/coderunner-agent"] {
            #expect(text.contains(file))
        }
        #expect(!page.contains(".Dd"), "man(7) macros only: `groff -man` does not know mdoc")
    }

    @Test(
        "the man page renders without warnings",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/groff"), "groff is not installed"))
    func manPageRendersCleanly() throws {
        let result = try Self.tool("/usr/bin/groff", ["-ww", "-man", "-Tutf8", "-P-bcou", Live.repositoryRoot + "/man/coderunner.1"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "groff warnings:\n\(result.stderr)")
        #expect(result.stdout.contains("EXIT STATUS"))
    }

    @Test("bash completion offers subcommands, flags, languages and files", .enabled(if: FileManager.default.isExecutableFile(atPath: "/bin/bash")))
    func bashCompletionWorks() throws {
        let dir = try Live.temporaryDirectory([("hello.py", "print(1)\n"), ("notes.txt", "")])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = """
            source \(Live.repositoryRoot)/completions/coderunner.bash
            complete_line() {
              COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}
              read -ra COMP_WORDS <<< "$COMP_LINE"
              [[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
              COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
              COMPREPLY=()
              _coderunner coderunner "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
              echo "$1|${COMPREPLY[*]}"
            }
            complete_line "coderunner "
            complete_line "coderunner do"
            complete_line "coderunner run --l"
            complete_line "coderunner run --lang "
            complete_line "coderunner run h"
            """
        let result = try Self.tool("/bin/bash", ["-c", script], cwd: dir)
        var offered: [String: [String]] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            offered[String(parts[0])] = parts.count > 1 ? parts[1].split(separator: " ").map(String.init) : []
        }
        let top = offered["coderunner "] ?? []
        for path in try Self.commandPaths() where path.count == 1 { #expect(top.contains(path[0]), "subcommand \(path[0]) not offered: \(top)") }
        #expect(offered["coderunner do"] == ["doctor"])
        #expect(offered["coderunner run --l"] == ["--lang"])
        #expect(Set(offered["coderunner run --lang "] ?? []).isSuperset(of: ["python", "javascript", "java", "cpp", "sql"]))
        #expect(offered["coderunner run h"] == ["hello.py"])
    }

    @Test("zsh and fish completions cover subcommands, languages and files")
    func zshAndFishCompletionsCover() throws {
        let zsh = try Self.committed("completions/_coderunner")
        let fish = try Self.committed("completions/coderunner.fish")
        for path in try Self.commandPaths() where path.count == 1 {
            #expect(zsh.contains("'\(path[0]):"), "zsh does not offer \(path[0])")
            #expect(fish.contains("-fa '\(path[0])'"), "fish does not offer \(path[0])")
        }
        #expect(zsh.contains("('python' 'javascript' 'java' 'cpp' 'sql')"))
        #expect(zsh.contains("'*:file:_files'"))
        #expect(fish.contains("-l 'lang'") && fish.contains("'python javascript java cpp sql'"))
        #expect(fish.contains("\"coderunner run\" -ge 1' -F"))
        #expect(!zsh.contains("generate-docs") && !fish.contains("generate-docs"), "the hidden generate-docs command leaked into completions")
    }

    // MARK: CLI documentation surface

    @Test("--version prints a version")
    func versionIsPrinted() throws {
        let result = try Live.cli(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, "got \(result.stdout.debugDescription)")
    }

    @Test("`coderunner help run` prints run's help")
    func helpRunWorks() throws {
        let result = try Live.cli(["help", "run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("USAGE: coderunner run"))
        #expect(result.stdout.contains("--lang"))
        #expect(result.stdout.contains("Examples:"))
    }

    @Test("every subcommand's --help has an Examples section")
    func everySubcommandHasExamples() throws {
        let paths = try Self.commandPaths()
        #expect(paths.contains(["doctor"]) && paths.contains(["run"]))
        for path in paths {
            let result = try Live.cli(path + ["--help"])
            #expect(result.status == 0, "coderunner \(path.joined(separator: " ")) --help: \(result.stderr)")
            #expect(result.stdout.contains("\nExamples:\n  coderunner"), "coderunner \(path.joined(separator: " ")) --help has no Examples section")
        }
    }

    @Test("no escape codes when stdout is not a terminal or NO_COLOR is set")
    func noEscapeCodesOffTerminal() throws {
        let invocations: [[String]] = [
            ["--help"], ["help", "run"], ["doctor"], ["doctor", "--json"], ["config"], ["run"], ["run", "--bogus"], ["nosuchcommand"],
        ]
        for environment in [Self.noDocker, Self.noDocker.merging(["NO_COLOR": "1"]) { $1 }] {
            for arguments in invocations {
                let result = try Live.cli(arguments, environment: environment)
                #expect(
                    !result.stdout.contains("\u{1B}") && !result.stderr.contains("\u{1B}"),
                    "escape codes in `coderunner \(arguments.joined(separator: " "))` (\(environment))")
            }
        }
    }

    @Test(
        "on a terminal doctor colours its status words, except with NO_COLOR",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script is not installed"))
    func colourOnlyOnTerminal() throws {
        // `script` gives the CLI a pseudo-terminal as stdout.
        let command = "'\(Live.cliPath)' doctor"
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CODERUNNER_") }
        environment.merge(Self.noDocker) { $1 }
        environment["CODERUNNER_CONFIG"] = "/dev/null"
        environment["CODERUNNER_RUNTIMES_DIR"] = Live.repositoryRoot + "/runtimes"
        environment["TERM"] = "xterm"
        environment["NO_COLOR"] = nil
        let colored = try Self.tool("/usr/bin/script", ["-qec", command, "/dev/null"], environment: environment)
        #expect(colored.stdout.contains("\u{1B}[32mok\u{1B}[0m"), "no colour on a terminal: \(colored.stdout.debugDescription)")
        environment["NO_COLOR"] = "1"
        let plain = try Self.tool("/usr/bin/script", ["-qec", command, "/dev/null"], environment: environment)
        #expect(plain.stdout.contains("ok"))
        #expect(!plain.stdout.contains("\u{1B}"), "colour despite NO_COLOR: \(plain.stdout.debugDescription)")
    }

    // MARK: doctor without Docker

    @Test("doctor fails with exit 1 and a hint when Docker is unreachable, and --json says so")
    func doctorReportsUnreachableDocker() throws {
        let text = try Live.cli(["doctor"], environment: Self.noDocker)
        #expect(text.status == 1)
        let dockerLine = text.stdout.split(separator: "\n").first { $0.hasPrefix("fail  docker") }
        #expect(dockerLine?.contains("-> start it") == true, "\(text.stdout)")
        #expect(text.stdout.contains("ok    limits") || text.stdout.contains("fail  limits"))

        let json = try Live.cli(["doctor", "--json"], environment: Self.noDocker)
        #expect(json.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["ok"] as? Bool == false)
        let checks = try #require(object["checks"] as? [[String: Any]])
        let docker = try #require(checks.first { $0["check"] as? String == "docker" })
        #expect(docker["status"] as? String == "fail")
        #expect((docker["hint"] as? String)?.isEmpty == false)
    }

    @Test("doctor warns about public subnet pools and fails on overlapping ones")
    func doctorChecksPools() throws {
        let publicPool = try Live.cli(["doctor"], environment: Self.noDocker.merging(["CODERUNNER_NETWORK_POOLS": "172.80.0.0/12"]) { $1 })
        #expect(publicPool.stdout.contains("warn  subnet-pools  172.80.0.0/12 is not private"), "\(publicPool.stdout)")
        let overlapping = try Live.cli(
            ["doctor"], environment: Self.noDocker.merging(["CODERUNNER_NETWORK_POOLS": "10.64.0.0/12,10.64.0.0/16"]) { $1 })
        #expect(overlapping.status == 1)
        #expect(overlapping.stdout.contains("fail  subnet-pools"), "\(overlapping.stdout)")
    }

    // MARK: helpers

    /// Runs a tool other than the CLI (groff, bash, script) and captures its output.
    static func tool(_ path: String, _ arguments: [String], cwd: String? = nil, environment: [String: String]? = nil) throws -> Live.CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        // stderr goes to a file, so a chatty tool cannot fill one pipe while we wait on the other.
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("coderunner-test-\(UUID().uuidString).err").path
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let outPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errHandle.close()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Live.CLIResult(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
