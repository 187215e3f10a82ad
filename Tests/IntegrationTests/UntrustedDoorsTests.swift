import CodeRunnerCore
import Foundation
import Testing

/// Issue 19: untrusted code reaching the host through the CLI's other doors (piped shell input, notebooks, kernel
/// events, session names, terminal output, `pool drain`). Each test failed on the code before the fix.
@Suite(.serialized, .docker)
struct UntrustedDoorsTests {
    static let secret = "TOP-SECRET-19"

    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: 1. Piped meta commands

    @Test func pipedMetaCommandsAreCellsByDefault() async throws {
        let dir = try Live.temporaryDirectory([
            ("secret.txt", Self.secret + "\n"), ("prog.py", "print('LOADED-19')\n"), ("other.py", "print('RAN-19')\n"),
        ])
        let script = """
            open('evil.sh', 'w').write('owned')
            :put secret.txt
            :get evil.sh
            :load prog.py
            :run other.py
            import os
            print('workspace has secret:', os.path.exists('secret.txt'))

            """
        let result = try Live.cli(["session", "python"], stdin: script, cwd: dir)
        #expect(result.status == 1, "the ':' lines are Python syntax errors: \(result.stderr)")
        #expect(result.stdout.contains("workspace has secret: False"), "\(result.stdout)")
        for leaked in [Self.secret, "LOADED-19", "RAN-19"] { #expect(!result.stdout.contains(leaked), "\(leaked) in \(result.stdout)") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/evil.sh"), ":get wrote a host file")
        try await Live.expectNoLeaks()
    }

    @Test func withMetaCommandsFileCommandsStayInTheFolder() async throws {
        let dir = try Live.temporaryDirectory([("secret.txt", Self.secret + "\n"), ("work/ok.txt", "fine-19\n")])
        try FileManager.default.createSymbolicLink(atPath: dir + "/work/link.txt", withDestinationPath: "../secret.txt")
        try FileManager.default.createSymbolicLink(atPath: dir + "/work/up", withDestinationPath: "..")
        let script = """
            :put ../secret.txt a.txt
            :put \(dir)/secret.txt b.txt
            :put link.txt c.txt
            :load up/secret.txt
            :put ok.txt
            print(open('ok.txt').read().strip())
            open('out.txt', 'w').write('x')
            :get out.txt up/escaped.txt
            :get out.txt link.txt

            """
        let result = try Live.cli(["session", "python", "--meta-commands"], stdin: script, cwd: dir + "/work")
        #expect(result.stdout.contains("fine-19"), "\(result.stdout) \(result.stderr)")
        #expect(!result.stdout.contains(Self.secret) && !result.stderr.contains(Self.secret))
        #expect(result.stderr.components(separatedBy: "outside").count - 1 == 6, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/escaped.txt"))
        #expect(Self.contents(dir + "/secret.txt") == Self.secret + "\n")
        #expect(result.status == 1)
        try await Live.expectNoLeaks()
    }

    // MARK: 2. Symlinked figure names

    static func notebook(_ sources: [String]) -> String {
        let cells = sources.map { source in
            let escaped = source.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
                of: "\n", with: "\\n")
            return "{\"cell_type\": \"code\", \"execution_count\": null, \"metadata\": {}, \"outputs\": [], \"source\": \"\(escaped)\"}"
        }
        return
            "{\"cells\": [\(cells.joined(separator: ", "))], \"metadata\": {\"kernelspec\": {\"display_name\": \"Python 3\", \"language\": \"python\", \"name\": \"python3\"}}, \"nbformat\": 4, \"nbformat_minor\": 5}"
    }

    @Test func aSymlinkedNotebookFigureNameIsLeftUntouched() async throws {
        let dir = try Live.temporaryDirectory([
            ("victim.txt", "victim\n"), ("sub/nb.ipynb", Self.notebook(["import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])"])),
        ])
        try FileManager.default.createSymbolicLink(atPath: dir + "/sub/fig_cell1_1.png", withDestinationPath: "../victim.txt")
        try FileManager.default.createSymbolicLink(atPath: dir + "/sub/out.ipynb", withDestinationPath: "../victim.txt")
        let refused = try Live.cli(["run", "nb.ipynb", "--output", "out.ipynb"], cwd: dir + "/sub")
        #expect(refused.status == 64 && refused.stderr.contains("--force"), "\(refused.stderr)")
        // Without --output nothing is written at all.
        let unasked = try Live.cli(["run", "nb.ipynb"], cwd: dir + "/sub")
        #expect(unasked.status == 0 && unasked.stderr.contains("not saved: --output"), "\(unasked.stderr)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/sub")) == ["nb.ipynb", "fig_cell1_1.png", "out.ipynb"])
        // The figure's name is a symlink: not written through, and said.
        let result = try Live.cli(["run", "nb.ipynb", "--output", "fig.ipynb"], cwd: dir + "/sub")
        #expect(Self.contents(dir + "/victim.txt") == "victim\n", "the figure was written through the symlink")
        #expect(result.status == 1 && result.stderr.contains("figure not saved"), "\(result.stderr)")
        try? FileManager.default.removeItem(atPath: dir + "/sub/fig.ipynb")
        // --force replaces the links themselves, never what they point to.
        let forced = try Live.cli(["run", "nb.ipynb", "--output", "out.ipynb", "--force"], cwd: dir + "/sub")
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(Self.contents(dir + "/victim.txt") == "victim\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/sub/out_cell1_1.png")
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/sub/out.ipynb")) == nil)
        try await Live.expectNoLeaks()
    }

    @Test func aSymlinkedShellFigureNameIsLeftUntouched() async throws {
        let dir = try Live.temporaryDirectory([("victim.txt", "victim\n")])
        try FileManager.default.createSymbolicLink(atPath: dir + "/coderunner-cell1-1.png", withDestinationPath: "victim.txt")
        let result = try Live.cli(["session", "python"], stdin: "import matplotlib.pyplot as plt; plt.plot([1, 2, 3])\n", cwd: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.contents(dir + "/victim.txt") == "victim\n", "the figure was written through the symlink")
        let png = try #require(FileManager.default.contents(atPath: dir + "/coderunner-cell1-1-2.png"), "\(result.stderr)")
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        try await Live.expectNoLeaks()
    }

    // MARK: 3. Forged kernel events

    /// Finds the driver's event writer from inside a cell, as the red-team review did.
    static let forge = """
        import sys
        f = sys._getframe()
        while f is not None and '_event' not in f.f_globals:
            f = f.f_back
        ev = f.f_globals['_event']
        """

    @Test func forgedDisplaysOfEveryTypeAndSizeStayWithinTheLimits() async throws {
        // SIGINT is blocked while forging: the interrupt the limit sends would otherwise land inside a record and leave
        // the event stream waiting for the rest of it until the cell's time limit.
        let forged =
            Self.forge + """

                import signal
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                png = b'\\x89PNG\\r\\n\\x1a\\n' + b'x' * 100
                for mime, data in [('text/plain', b'forged text'), ('text/html', b'<b>x</b>'), ('image/png', png), ('image/svg+xml', b'<svg/>'),
                                   ('application/json', b'not json'), ('application/vnd.x+json', b'{"a": 1}'), ('a/b/c', b'x'), ('x', b'y')]:
                    ev(b'DISPLAY 1 %s %d\\n' % (mime.encode(), len(data)) + data)
                for _ in range(5):
                    ev(b'DISPLAY 1 image/png %d\\n' % (4 << 20) + b'\\x89PNG' + b'y' * ((4 << 20) - 4))
                print('forged')
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
                """
        let dir = try Live.temporaryDirectory([("nb.ipynb", Self.notebook([forged, "print('next cell runs')"]))])
        let result = try Live.cli(["run", "nb.ipynb", "--output", "out.ipynb"], cwd: dir)
        #expect(result.status == 1, "the forging cell ends as output-limit, the CLI does not crash: \(result.status) \(result.stderr)")
        #expect(result.stdout.contains("next cell runs"))
        #expect(result.stderr.contains("rich output passed the output limit"), "\(result.stderr)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: dir + "/out.ipynb")[.size] as? Int)
        #expect(size < 2 << 20, "the notebook holds \(size) bytes: forged displays passed the 1 MiB output limit")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        let figureBytes = try files.filter { $0.hasSuffix(".png") }.reduce(0) {
            $0 + (try FileManager.default.attributesOfItem(atPath: dir + "/" + $1)[.size] as? Int ?? 0)
        }
        #expect(figureBytes <= 1 << 20)
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = [
            "python3", "-c", "import nbformat, sys; nbformat.validate(nbformat.read(sys.argv[1], as_version=4)); print('valid')", dir + "/out.ipynb",
        ]
        let out = Pipe()
        check.standardOutput = out
        try check.run()
        let checkOut = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(checkOut.contains("valid"), "nbformat rejected the output")
        try await Live.expectNoLeaks()
    }

    /// A cell can report itself as passed (`DONE 1 ok`) and then fail: a kernel's cell status is self-reported, which
    /// the docs say, and `run` (the grading path) takes the status from the process, which the program cannot forge.
    @Test func aForgedDoneIsDocumentedAndRunTakesTheStatusFromTheProcess() async throws {
        let help = try Live.cli(["run", "--help"])
        let words = help.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        #expect(
            words.contains("can lie about it") && words.contains("grade with `coderunner run`"),
            "run --help must say that cell statuses are self-reported")
        let program = """
            import os, sys
            for fd in (1, 2, 3, 4):
                try:
                    os.write(fd, b'DONE 1 ok\\n')
                except OSError:
                    pass
            sys.stderr.write('coderunner: ok\\n')
            raise SystemExit(3)
            """
        let dir = try Live.temporaryDirectory([("prog.py", program)])
        let result = try Live.cli(["run", "--json", "prog.py"], cwd: dir)
        #expect(result.status == 3)
        #expect(result.stdout.contains("\"status\":\"runtime-error\"") && result.stdout.contains("\"exitCode\":3"), "\(result.stdout)")
        try await Live.expectNoLeaks()  // a one-shot run's keeper removes its resources just after it exits
    }

    // MARK: 4. Session names

    @Test(arguments: ["shell-9cec6b9697", "run-0123456789", "nb-0123456789", "sb-0123456789"])
    func autoGeneratedSessionNamesAreRefused(_ name: String) async throws {
        let dir = try Live.temporaryDirectory([("hello.py", "print('hi')\n")])
        let result = try Live.cli(["run", "--session", name, "hello.py"], cwd: dir)
        #expect(result.status == 64, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("pick another name"))
        let shell = try Live.cli(["session", "python", "--session", name], stdin: "print(1)\n")
        #expect(shell.status == 64, "\(shell.stderr)")
        await DockerProbe.removeSession(name)  // only there if the name was accepted
        try await Live.expectNoLeaks()
    }

    @Test func anotherJobsSessionIsJoinedOnlyWithJoin() async throws {
        let session = "ci19-" + DockerProbe.randomSuffix()
        let dir = try Live.temporaryDirectory([("hello.py", "print('hi')\n")])
        let first = try Live.cli(["run", "--session", session, "hello.py"], environment: ["CODERUNNER_JOB": "job-a"], cwd: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let again = try Live.cli(["run", "--session", session, "hello.py"], environment: ["CODERUNNER_JOB": "job-a"], cwd: dir)
        #expect(again.status == 0, "the creating job reuses its session: \(again.stderr)")
        let other = try Live.cli(["run", "--session", session, "hello.py"], environment: ["CODERUNNER_JOB": "job-b"], cwd: dir)
        #expect(other.status == 125 && other.stderr.contains("--join") && other.stderr.contains("job=job-a"), "\(other.stderr)")
        let joined = try Live.cli(["run", "--session", session, "--join", "hello.py"], environment: ["CODERUNNER_JOB": "job-b"], cwd: dir)
        #expect(joined.status == 0 && joined.stdout == "hi\n", "\(joined.stderr)")
        await DockerProbe.removeSession(session)
    }

    // MARK: 7 and 8. Terminal control sequences, forged status lines

    @Test func controlSequencesAreFilteredOnAPseudoTerminalAndKeptWithRaw() async throws {
        let program = """
            import sys, time
            sys.stdout.write('\\x1b]52;c;ZXZpbA==\\x07visible \\x1b]0;pwned\\x07\\x1b[6n\\x1b[31mred\\x1b[0m\\n')
            sys.stdout.flush()
            sys.stderr.write('\\x1b[1;7m coderunner \\x1b[0m time limit exceeded (forged)\\n')
            sys.stderr.flush()
            time.sleep(30)
            """
        let dir = try Live.temporaryDirectory([("osc.py", program)])
        let (status, transcript) = try Live.ptyScript("terminal_filter_pty.py", [Live.cliPath, dir])
        #expect(status == 0, "pty checks failed:\n\(transcript.suffix(4000))")
        // Piped output is never changed.
        let piped = try Live.cli(["run", "--timeout", "3s", "osc.py"], cwd: dir)
        #expect(piped.stdout.contains("\u{1B}]52;c;ZXZpbA==\u{07}"))
        try await Live.expectNoLeaks()
    }

    // MARK: 9. pool drain

    /// Against an engine that does not exist, so a regression cannot drain the real engine's sessions.
    @Test func poolDrainWithoutSessionNeedsAllAndConfirmation() throws {
        let nowhere = ["DOCKER_HOST": "unix:///nonexistent/coderunner-19.sock"]
        let bare = try Live.cli(["pool", "drain"], environment: nowhere)
        #expect(bare.status == 64 && bare.stderr.contains("--all"), "\(bare.stderr)")
        let unconfirmed = try Live.cli(["pool", "drain", "--all"], environment: nowhere)
        #expect(unconfirmed.status == 64 && unconfirmed.stderr.contains("--yes"), "\(unconfirmed.stderr)")
        let confirmed = try Live.cli(["pool", "drain", "--all", "--yes"], environment: nowhere)
        #expect(confirmed.status == 125, "with --all --yes it goes ahead (and finds no engine): \(confirmed.stderr)")
    }
}
