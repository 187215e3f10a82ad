import CodeRunnerCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `coderunner run DIR` (issue 18): the README's folder examples as written, an ambiguous folder, symlinks out of the
/// tree, a FIFO, and limits the engine's host cannot meet. docs/cli-run.md describes the rules.
extension CLIRunTests {
    static let root = Live.repositoryRoot

    // MARK: folders, as the README writes them (run from the checkout's root)

    @Test(arguments: [
        (["runtimes/java/examples/multi"], "circle area=3.14\nsquare area=4.00\nargs: \n"),
        (["runtimes/cpp/examples/multi", "--", "arg1", "arg2"], "Hello, world!\nsum=10\narg: arg1\narg: arg2\n"),
        (["examples/c-multi"], "mean 3.875, largest 9\n"),
        (["examples/python-package", "--", "Ada", "Grace"], "Hello, Ada!\nHello, Grace!\n"),
        (["examples/js-project"], "2 items, total 11.25\n"),
    ])
    func folderExampleRunsAsWritten(arguments: [String], expected: String) async throws {
        let outcome = try await CLI.run(["run"] + arguments, cwd: Self.root)
        #expect(outcome.status == 0, "\(arguments):\n\(outcome)")
        #expect(outcome.stdoutText == expected, "\(arguments):\n\(outcome)")
        try await Live.expectNoLeaks()
    }

    /// Two classes with main: the one at the top runs, and the CLI says so.
    @Test func javaFolderSaysWhichMainItChose() async throws {
        let outcome = try await CLI.run(["run", "runtimes/java/examples/multi"], cwd: Self.root)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(
            outcome.stderrLines == [
                "coderunner: several files have a main (Solution.java, shapes/Square.java); running Solution.java, the only one at the top (--entry chooses another)"
            ])
    }

    @Test func ambiguousFolderIsAnError() async throws {
        let dir = try CLI.folder([("a.py", "print(1)"), ("b.py", "print(2)"), ("notes.txt", "data")])
        try await expectUsageError(["run", dir], mentioning: ["several files could be the entry (a.py, b.py)", "--entry"])
        let mixed = try CLI.folder([("main.py", "print(1)"), ("Main.java", "class Main {}")])
        try await expectUsageError(["run", mixed], mentioning: ["several languages: java (Main.java); python (main.py)", "--lang", "--entry"])
        // Either option settles it.
        let outcome = try await CLI.run(["run", dir, "--entry", "b.py"])
        #expect(outcome.status == 0 && outcome.stdoutText == "2\n", "\(outcome)")
        try await Live.expectNoLeaks()
    }

    // MARK: symlinks and special files

    /// A submission whose data file links to a host file: refused (naming it), read only with --follow-symlinks.
    @Test func symlinkOutOfTheTreeIsRefused() async throws {
        let host = try CLI.folder([("secret.txt", "host secret\n")])
        let dir = try CLI.folder([("main.py", "print(open('data.txt').read(), end='')")])
        #expect(symlink(host + "/secret.txt", dir + "/data.txt") == 0)
        try await expectUsageError(["run", dir], mentioning: ["data.txt", "symlink", "outside", "--follow-symlinks"])
        // Named one by one, the link must stay inside the current directory.
        try await expectUsageError(["run", "main.py", "data.txt"], cwd: dir, mentioning: ["data.txt", "outside the current directory"])

        let followed = try await CLI.run(["run", "--follow-symlinks", dir])
        #expect(followed.status == 0, "\(followed)")
        #expect(followed.stdoutText == "host secret\n")
        try await Live.expectNoLeaks()
    }

    @Test func symlinkInsideTheTreeIsUploadedAsACopy() async throws {
        let dir = try CLI.folder([("main.py", "print(open('alias.txt').read(), end='')"), ("data/real.txt", "inside\n")])
        #expect(symlink("data/real.txt", dir + "/alias.txt") == 0)
        let outcome = try await CLI.run(["run", dir])
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.stdoutText == "inside\n")
        try await Live.expectNoLeaks()
    }

    /// Opening a FIFO for reading blocks until a writer comes: it must be refused from its lstat, at once.
    @Test func fifoInTheTreeIsRefusedWithoutHanging() async throws {
        let dir = try CLI.folder([("main.py", "print(1)")])
        #expect(mkfifo(dir + "/pipe", 0o600) == 0)
        let started = ContinuousClock.now
        try await expectUsageError(["run", dir], mentioning: ["pipe", "FIFO"])
        try await expectUsageError(["run", dir + "/main.py", dir + "/pipe"], mentioning: ["pipe", "FIFO"])
        #expect(ContinuousClock.now - started < .seconds(20), "took \(ContinuousClock.now - started)")
    }

    // MARK: limits

    @Test(arguments: [
        (["--memory", "100t"], ["--memory 100t", "more than the engine's host has", "6m to"]),
        (["--memory", "0"], ["--memory 0", "not a valid size", "6m to"]),
        (["--memory", "-1"], ["--memory -1", "not a valid size", "6m to"]),
        (["--memory", "12x"], ["--memory 12x", "not a valid size", "6m to"]),
        (["--cpus", "-1"], ["--cpus -1", "not a valid number", "0.01 to"]),
        (["--cpus", "0"], ["--cpus 0", "not a valid number", "0.01 to"]),
        (["--cpus", "1000"], ["--cpus 1000", "more than the engine's host has", "0.01 to"]),
        (["--cpus", "two"], ["--cpus two", "not a valid number"]),
        (["--timeout", "-1"], ["--timeout", "-1"]),
        (["--timeout", "0"], ["--timeout 0", "above 0"]),
    ])
    func badLimit(option: [String], needles: [String]) async throws {
        try await expectUsageError(["run"] + option + [try file("x.py", "print(1)")], mentioning: needles)
    }

    /// A notebook's limits go through the same checks (they used to be parsed on their own, 0 included).
    @Test(arguments: [
        (["--timeout", "0"], ["--timeout 0", "above 0"]),
        (["--memory", "0"], ["--memory 0", "not a valid size"]),
        (["--output-limit", "0"], ["--output-limit 0"]),
    ])
    func badNotebookLimit(option: [String], needles: [String]) async throws {
        try await expectUsageError(
            ["run"] + option + [try file("nb.ipynb", #"{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}"#)],
            mentioning: needles)
    }
}
