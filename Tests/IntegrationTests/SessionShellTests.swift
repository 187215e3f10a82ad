import CodeRunnerCore
import Foundation
import Testing

/// `coderunner session` for every language with a kernel: through piped stdin and through a real pseudo-terminal.
@Suite(.serialized, .docker)
struct SessionShellTests {
    /// Piped cells: state persists, an error does not stop later cells, the exit code reports the failure, and the
    /// session's containers and network are gone afterwards.
    struct PipedCase: Sendable, CustomTestStringConvertible {
        var language: String
        var script: String
        var expected: [String]  // substrings of stdout, in order
        var testDescription: String { language }
    }

    static let pipedCases: [PipedCase] = [
        PipedCase(language: "python", script: "x = 40\nx + 2\nraise ValueError('boom')\nprint('after', x)\n", expected: ["42", "after 40"]),
        PipedCase(
            language: "javascript", script: "let x = 40\nx + 2\nthrow new Error('boom')\nconsole.log('after', x)\nawait Promise.resolve(5)\n",
            expected: ["42", "after 40", "5"]),
        PipedCase(
            language: "java", script: "int x = 40;\nx + 2\nthrow new RuntimeException(\"boom\");\nSystem.out.println(\"after \" + x);\n",
            expected: ["42", "after 40"]),
        PipedCase(
            language: "sql",
            script:
                "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (40);\nSET @x = 2;\nSELECT a + @x AS s FROM t;\nSELECT * FROM missing;\nSELECT CONCAT('after ', a) AS r FROM t;\n",
            expected: ["42", "after 40"]),
        PipedCase(
            language: "cpp",
            script: "int twice(int a) { return a * 2; }\ncout << twice(21) << endl;\nthis is not c++;\ncout << \"after \" << twice(20) << endl;\n",
            expected: ["42", "after 40"]),
    ]

    @Test(arguments: pipedCases)
    func pipedCellsKeepStateAndReportFailures(_ c: PipedCase) async throws {
        let result = try Live.cli(["session", c.language], stdin: c.script)
        var rest = Substring(result.stdout)
        for piece in c.expected {
            guard let range = rest.range(of: piece) else {
                Issue.record("missing \(piece.debugDescription) in stdout \(result.stdout.debugDescription); stderr: \(result.stderr)")
                break
            }
            rest = rest[range.upperBound...]
        }
        #expect(result.status == 1, "one cell failed, so the exit code must be 1; stderr: \(result.stderr)")
        #expect(!result.stderr.isEmpty)
        try await Live.expectNoLeaks()
    }

    @Test func pipedSuccessExitsZeroWithoutPrompts() async throws {
        let result = try Live.cli(["session", "python"], stdin: "for i in range(3):\n    print(i)\n\nprint('done')\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "0\n1\n2\ndone\n")
        #expect(!result.stdout.contains("python>"))
        try await Live.expectNoLeaks()
    }

    /// Piped cells read the lines after their text, as a REPL reading a pipe does: what a cell reads is its input
    /// and never runs as code, what it leaves runs as the next cells, and the end of the stream is EOF.
    @Test func pipedCellsReadTheLinesAfterThem() async throws {
        let python = try Live.cli(
            ["session", "python"],
            stdin: """
                name = input("name? ")
                Alice
                print(name.upper())
                import sys, subprocess
                first = sys.stdin.readline()
                line one
                print(repr(first))
                subprocess.run(["cat"])
                from cat
                and the rest
                """ + "\n")
        #expect(python.status == 0, "\(python.stderr)")
        #expect(
            python.stdout == "name? ALICE\n'line one\\n'\nfrom cat\nand the rest\nCompletedProcess(args=['cat'], returncode=0)\n", "\(python.stdout)")

        let atTheEnd = try Live.cli(["session", "python"], stdin: "print('before')\nx = input()\n")
        #expect(atTheEnd.status == 1 && atTheEnd.stdout == "before\n" && atTheEnd.stderr.contains("EOFError"), "\(atTheEnd)")

        let javascript = try Live.cli(
            ["session", "javascript"],
            stdin: """
                const readline = require('readline/promises');
                const answer = await (async () => {
                  const rl = readline.createInterface({ input: process.stdin });
                  const a = await rl.question('name? ');
                  rl.close();
                  return a;
                })();
                Bob
                console.log(answer.toUpperCase());
                """ + "\n")
        #expect(javascript.status == 0 && javascript.stdout == "BOB\n", "\(javascript)")
        try await Live.expectNoLeaks()
    }

    @Test func metaCommandsInPipedMode() async throws {
        let dir = try Live.temporaryDirectory([("data.txt", "payload\n"), ("prog.py", "print('loaded', 6 * 7)\n")])
        let script =
            ":put data.txt\n:files\nprint(open('data.txt').read().strip())\n:load prog.py\n:lang javascript\nconsole.log('js')\n:quit\nprint('never')\n"
        let result = try Live.cli(["session", "python", "--meta-commands"], stdin: script, cwd: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("8\tdata.txt"))
        #expect(result.stdout.contains("payload"))
        #expect(result.stdout.contains("loaded 42"))
        #expect(result.stdout.contains("js"))
        #expect(!result.stdout.contains("never"))
        try await Live.expectNoLeaks()
    }

    @Test(arguments: ["python", "javascript", "java", "sql", "cpp"])
    func interactiveThroughAPseudoTerminal(_ language: String) async throws {
        let (status, transcript) = try Live.ptyScript("shell_pty.py", [Live.cliPath, language])
        #expect(status == 0, "pty session failed:\n\(transcript.suffix(3000))")
        try await Live.expectNoLeaks()
    }

    @Test func notebookRunsToAValidOutputNotebookWithThePlot() async throws {
        let notebook = """
            {"cells": [
              {"cell_type": "markdown", "metadata": {}, "source": ["# A notebook\\n", "with text"]},
              {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ["x = 6\\n", "print('x is', x)\\n", "x * 7"]},
              {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ["1 / 0"]},
              {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ["import matplotlib.pyplot as plt\\n", "plt.plot([1, 2, 3], [1, 4, 9])\\n", "plt.title('squares')"]}
            ], "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
            """
        let dir = try Live.temporaryDirectory([("in.ipynb", notebook)])
        let result = try Live.cli(["run", "in.ipynb", "--output", "out.ipynb"], cwd: dir)
        #expect(result.status == 1, "the error cell must make the exit code 1; stderr: \(result.stderr)")
        #expect(result.stdout.contains("x is 6"))
        #expect(result.stdout.contains("42"))
        #expect(result.stderr.contains("ZeroDivisionError"))
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/out_cell4_1.png"))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        // nbformat's own JSON-schema validation (the nbformat package, installed by setup.sh).
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = [
            "python3", "-c",
            """
            import base64, json, sys, nbformat
            nb = nbformat.read(sys.argv[1], as_version=4)
            nbformat.validate(nb)
            outputs = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs]
            kinds = [o.output_type for o in outputs]
            assert 'error' in kinds and 'display_data' in kinds and 'stream' in kinds, kinds
            png = [o for o in outputs if o.output_type == 'display_data'][0].data['image/png']
            assert base64.b64decode(png).startswith(b'\\x89PNG')
            assert nb.cells[2].outputs[0].ename == 'ZeroDivisionError', nb.cells[2].outputs
            print('valid')
            """, dir + "/out.ipynb",
        ]
        let out = Pipe()
        let err = Pipe()
        check.standardOutput = out
        check.standardError = err
        try check.run()
        let checkOut = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let checkErr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        check.waitUntilExit()
        #expect(check.terminationStatus == 0 && checkOut.contains("valid"), "nbformat rejected the output: \(checkErr)")
        try await Live.expectNoLeaks()
    }
}
