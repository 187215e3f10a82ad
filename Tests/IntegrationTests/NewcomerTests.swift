import CodeRunnerCore
import Foundation
import Testing

/// Issue 20: the places where a new user stopped, guessed or was misled, each as the user met it: a mistyped command,
/// program arguments without `--`, Docker unreachable, a bad setting that `config` and `doctor` let through, a session
/// whose containers expired, a notebook written where it could not go.
@Suite("A newcomer's first hour", .serialized, .docker)
struct NewcomerTests {
    static let noDocker = ["DOCKER_HOST": "unix:///nonexistent/coderunner-test-docker.sock"]

    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    @Test func aMistypedCommandNamesTheNearestOne() throws {
        let dir = try Live.temporaryDirectory([("greet.py", "print('hi')\n")])
        let typo = try Live.cli(["rnu", "greet.py"], cwd: dir)
        #expect(typo.status == 64 && typo.stderr.contains("unknown command 'rnu'") && typo.stderr.contains("`coderunner run`"), "\(typo.stderr)")
        let help = try Live.cli(["help", "rnu"])
        #expect(help.status == 64 && help.stderr.contains("no help topic 'rnu'") && help.stderr.contains("`coderunner run`"), "\(help.stderr)")
        #expect(help.stdout.isEmpty, "an unknown topic prints no help")
        let file = try Live.cli(["greet.py"], cwd: dir)
        #expect(file.status == 64 && file.stderr.contains("coderunner run greet.py"), "\(file.stderr)")
        let far = try Live.cli(["xyzzy"])
        #expect(far.status == 64 && far.stderr.contains("the commands are run,"), "\(far.stderr)")
        #expect(try Live.cli(["help", "run"]).status == 0)
    }

    @Test func wordsAfterTheProgramAreHintedToGoAfterTheSeparator() throws {
        let dir = try Live.temporaryDirectory([("app.js", "console.log(process.argv.slice(2))\n")])
        let outcome = try Live.cli(["run", "-e", "K=V", "app.js", "one"], cwd: dir)
        #expect(outcome.status == 64, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("no such file: one") && outcome.stderr.contains("coderunner run app.js -- one"), "\(outcome.stderr)")
    }

    @Test func anUnreachableEngineIsNamedPlainly() throws {
        let dir = try Live.temporaryDirectory([("a.py", "print(1)\n")])
        let outcome = try Live.cli(["run", "a.py"], environment: Self.noDocker, cwd: dir)
        #expect(outcome.status == 125)
        let line = try #require(Self.lines(outcome.stderr).first)
        #expect(line.contains("unix:///nonexistent/coderunner-test-docker.sock, set by DOCKER_HOST"), "\(line)")
        #expect(line.contains("no such file or directory"), "\(line)")
        #expect(!line.contains("descriptor:") && !line.contains("addr:"), "no Swift internals: \(line)")
        #expect(line.filter { $0 == "(" }.count == line.filter { $0 == ")" }.count, "unbalanced brackets: \(line)")
    }

    @Test func runtimesListsTheLanguagesWithoutDocker() throws {
        let outcome = try Live.cli(["runtimes"], environment: Self.noDocker)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        for language in ["python", "javascript", "java", "cpp", "sql"] {
            #expect(Self.lines(outcome.stdout).contains { $0.hasPrefix(language) && $0.hasSuffix("unknown") }, "\(outcome.stdout)")
        }
        #expect(outcome.stderr.contains("state is unknown") && outcome.stderr.contains("cannot reach the Docker engine"), "\(outcome.stderr)")
        let json = try Live.cli(["runtimes", "--json"], environment: Self.noDocker)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 5 && rows.allSatisfy { $0["state"] as? String == "unknown" })
    }

    /// `config` and `doctor` refuse a value exactly as `run` does, in the same words.
    @Test(arguments: [
        ["CODERUNNER_RUN_STANDBY": "abc"], ["CODERUNNER_CONTAINER_TTL": "-5s"], ["CODERUNNER_RUNTIME_PYTHON_MEMORY": "0"],
        ["CODERUNNER_RUN_NETWORK": "bridge"], ["CODERUNNER_SERVER_PORT": "99999"],
    ])
    func configAndDoctorCheckValues(_ setting: [String: String]) throws {
        let dir = try Live.temporaryDirectory([("a.py", "print(1)\n")])
        let config = try Live.cli(["config"], environment: setting)
        #expect(config.status == 64, "config accepted \(setting): \(config.stderr)")
        let message = try #require(Self.lines(config.stderr).last)
        let doctor = try Live.cli(["doctor"], environment: setting)
        #expect(doctor.status == 1, "doctor accepted \(setting)")
        #expect(doctor.stdout.contains(message.replacingOccurrences(of: "coderunner: ", with: "")), "doctor: \(doctor.stdout)\nconfig: \(message)")
        if setting.keys.first?.hasPrefix("CODERUNNER_SERVER") == false {
            let run = try Live.cli(["run", "a.py"], environment: setting, cwd: dir)
            #expect(run.status == 64 && Self.lines(run.stderr).last == message, "run: \(run.stderr)\nconfig: \(message)")
        }
    }

    @Test func poolSaysWhenASessionDoesNotExist() async throws {
        let missing = "no-such-" + DockerProbe.randomSuffix()
        let drain = try Live.cli(["pool", "drain", "--session", missing])
        #expect(drain.status == 1 && drain.stderr.contains("no session \(missing)"), "\(drain.stdout) \(drain.stderr)")
        let show = try Live.cli(["pool", "show", "--session", missing])
        #expect(show.status == 1 && show.stderr.contains("no session \(missing)"), "\(show.stderr)")

        let session = "one-" + DockerProbe.randomSuffix()
        defer { Task { await DockerProbe.removeSession(session) } }
        let dir = try Live.temporaryDirectory([("a.py", "print(1)\n")])
        #expect(try Live.cli(["run", "--session", session, "a.py"], cwd: dir).status == 0)
        let one = try Live.cli(["pool", "show", "--session", session, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [String: Any], "\(one.stderr)")
        let sessions = try #require(report["sessions"] as? [[String: Any]])
        #expect(sessions.map { $0["name"] as? String } == [session])
    }

    /// A session whose containers expired says so before it starts over; `--ttl` keeps a session's containers longer.
    @Test func anExpiredSessionSaysSoAndTTLKeepsItLonger() async throws {
        let session = "ttl-" + DockerProbe.randomSuffix()
        defer { Task { await DockerProbe.removeSession(session) } }
        let dir = try Live.temporaryDirectory([("w.py", "import os\nprint(os.path.exists('mark'))\nopen('mark', 'w').close()\n")])
        let first = try Live.cli(["run", "--session", session, "--ttl", "2s", "w.py"], cwd: dir)
        #expect(first.status == 0 && first.stdout == "False\n", "\(first.stderr)")
        let engine = try Live.engine()
        let containers = try await engine.containers(labeled: ["\(ResourceLabel.session)=\(session)"])
        #expect(containers.map { $0.labels[ResourceLabel.ttl] } == ["2"], "--ttl sets the session's container TTL")
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !engine.containers(labeled: ["\(ResourceLabel.session)=\(session)"]).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(250))
        }
        let second = try Live.cli(["run", "--session", session, "--ttl", "10m", "w.py"], cwd: dir)
        #expect(second.status == 0 && second.stdout == "False\n")
        #expect(second.stderr.contains("session \(session): its containers expired"), "\(second.stderr)")
        let kept = try await engine.containers(labeled: ["\(ResourceLabel.session)=\(session)"])
        #expect(kept.map { $0.labels[ResourceLabel.ttl] } == ["600"])
        let third = try Live.cli(["run", "--session", session, "w.py"], cwd: dir)
        #expect(third.stdout == "True\n" && !third.stderr.contains("expired"), "\(third.stderr)")
        let oneShot = try Live.cli(["run", "--ttl", "5m", "w.py"], cwd: dir)
        #expect(oneShot.status == 64 && oneShot.stderr.contains("--ttl is for a named session"), "\(oneShot.stderr)")
        let bad = try Live.cli(["run", "--session", session, "--ttl", "25h", "w.py"], cwd: dir)
        #expect(bad.status == 64 && bad.stderr.contains("between 1s and 24h"), "\(bad.stderr)")
    }

    @Test func aNotebookOutputFolderIsCheckedBeforeAnyCellRuns() throws {
        let dir = try Live.temporaryDirectory([("nb.ipynb", UntrustedDoorsTests.notebook(["print('cell ran')"]))])
        let started = ContinuousClock.now
        let outcome = try Live.cli(["run", "nb.ipynb", "--output", "out/x.ipynb"], cwd: dir)
        #expect(outcome.status == 64 && outcome.stderr.contains("the folder out does not exist"), "\(outcome.stderr)")
        #expect(!outcome.stdout.contains("cell ran"), "no cell may run first")
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    /// The shell: `:lang` away and back keeps each kernel's state; an ignored Ctrl-C says what a second one does.
    @Test func theShellKeepsKernelsAndExplainsASecondCtrlC() throws {
        let (status, transcript) = try Live.ptyScript("shell_newcomer_pty.py", [Live.cliPath])
        #expect(status == 0, "pty session failed:\n\(transcript.suffix(3000))")
    }

    /// The shell: a cell's reads come from the terminal while it runs (Python's input() and sys.stdin, Node's
    /// readline), Ctrl-D ends one cell's input, type-ahead dies with its cell, Ctrl-C stops a waiting input().
    @Test func shellCellsReadTheTerminal() throws {
        let (status, transcript) = try Live.ptyScript("shell_input_pty.py", [Live.cliPath])
        #expect(status == 0, "pty session failed:\n\(transcript.suffix(3000))")
    }

    /// A build that fails on a header next to the entry (which was not sent) says so and how to send it.
    @Test func aMissingHeaderNextToTheEntryIsExplained() throws {
        let dir = try Live.temporaryDirectory([
            ("cppproj/main.cpp", "#include \"util.h\"\nint main() { return twice(1) == 2 ? 0 : 1; }\n"),
            ("cppproj/util.h", "inline int twice(int x) { return 2 * x; }\n"),
        ])
        let failed = try Live.cli(["run", "cppproj/main.cpp"], cwd: dir)
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("util.h is next to main.cpp") && failed.stderr.contains("coderunner run cppproj"), "\(failed.stderr)")
        let folder = try Live.cli(["run", "cppproj"], cwd: dir)
        #expect(folder.status == 0, "the folder runs as the hint says: \(folder.stderr)")
    }

    /// Validates `json` against docs/schemas/NAME with Python's jsonschema (installed with nbformat for the tests).
    static func expectValid(_ json: String, schema name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.validate(json.loads(sys.stdin.read()), schema, format_checker=None)
            print("valid")
            """, Live.repositoryRoot + "/docs/schemas/" + name,
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(json.utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(
            process.terminationStatus == 0 && text.hasPrefix("valid"), "\(name): \(text.suffix(1500))\nJSON: \(json.prefix(1500))",
            sourceLocation: sourceLocation)
    }

    /// `--json` answers in JSON on every path, with every key present, as docs/json.md's schemas say.
    @Test func jsonOnEveryPathMatchesTheSchemas() async throws {
        let dir = try Live.temporaryDirectory([
            ("ok.py", "print('hi')\n"), ("seg.c", "int main() { return *(volatile int *)0; }\n"),
            ("nb.ipynb", UntrustedDoorsTests.notebook(["print('cell one')", "1 / 0"])),
        ])
        let ok = try Live.cli(["run", "--json", "ok.py"], cwd: dir)
        #expect(ok.status == 0)
        try Self.expectValid(ok.stdout, schema: "run-result.schema.json")
        #expect(ok.stdout.contains("\"exitCode\":0") && ok.stdout.contains("\"session\":null"), "\(ok.stdout)")
        let seg = try Live.cli(["run", "--json", "seg.c"], cwd: dir)
        #expect(seg.status == 139)
        try Self.expectValid(seg.stdout, schema: "run-result.schema.json")
        #expect(seg.stdout.contains("\"exitCode\":null") && seg.stdout.contains("\"signalName\":\"SIGSEGV\""), "\(seg.stdout)")

        let notebook = try Live.cli(["run", "--json", "nb.ipynb"], cwd: dir)
        #expect(notebook.status == 1, "\(notebook.stderr)")
        try Self.expectValid(notebook.stdout, schema: "notebook.schema.json")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(notebook.stdout.utf8)) as? [String: Any])
        let cells = try #require(report["cells"] as? [[String: Any]])
        #expect(cells.map { $0["status"] as? String } == ["ok", "error"])
        #expect(cells.first?["stdout"] as? String == "cell one\n")
        #expect((cells.last?["stderr"] as? String)?.contains("ZeroDivisionError") == true)
        #expect(!notebook.stdout.contains("cell one\ncell"), "no streamed output mixed into the JSON")

        let config = try Live.cli(["config", "--json"])
        #expect(config.status == 0)
        try Self.expectValid(config.stdout, schema: "config.schema.json")

        for (arguments, environment, status) in [
            (["run", "--json", "missing.py"], [String: String](), Int32(64)),
            (["run", "--json", "--timeout", "0", "ok.py"], [:], 64),
            (["run", "--json", "--bogus", "ok.py"], [:], 64),
            (["config", "--json"], ["CODERUNNER_RUN_STANDBY": "abc"], 64),
            (["run", "--json", "ok.py"], Self.noDocker, 125),
        ] {
            let failed = try Live.cli(arguments, environment: environment, cwd: dir)
            #expect(failed.status == status, "\(arguments): \(failed.stderr)")
            try Self.expectValid(failed.stdout, schema: arguments.first == "run" && status == 125 ? "run-result.schema.json" : "error.schema.json")
        }
    }

    /// `:run` of a file in the kernel's language runs in the kernel's work dir: `:files` and `:get` see what it wrote,
    /// and the kernel's state survives it.
    @Test func theShellsRunAndFileCommandsShareOneWorkspace() throws {
        let dir = try Live.temporaryDirectory([("counter.py", "open('count.txt', 'w').write('3')\nprint('counted')\n")])
        let script = "x = 41\n:run counter.py\n:files\n:get count.txt got.txt\nx + 1\n"
        let result = try Live.cli(["session", "python", "--meta-commands"], stdin: script, cwd: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("counted"), "\(result.stdout)")
        #expect(result.stdout.contains("1\tcount.txt"), ":files should list what :run wrote: \(result.stdout)")
        #expect(result.stdout.contains("42"), "the kernel's state survives :run: \(result.stdout)")
        #expect(!result.stderr.contains("cannot read"), "\(result.stderr)")
        #expect((try? String(contentsOfFile: dir + "/got.txt", encoding: .utf8)) == "3")
    }
}
