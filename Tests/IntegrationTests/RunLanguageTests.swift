import CodeRunnerCore
import Foundation
import Testing

/// One program per behaviour per language, run through the engine against real Docker.
/// Where a behaviour cannot exist in a language (stdin or segfaults in SQL), the table says so by leaving it out.
struct LanguagePrograms: Sendable, CustomTestStringConvertible {
    var language: String
    var ext: String
    var hello: String
    var stdin: String?  // reads one line "name", prints "Hello, <name>!"
    var arguments: String?  // prints its arguments joined by "|"
    var exitSeven: String?
    var runtimeError: String  // fails at run time with a non-zero exit
    var compileError: String?  // refused by the compiler
    var endlessLoop: String
    var memoryBomb: String?
    var segfault: String?
    var outputFlood: String
    var unicode: String  // prints "héllo wörld ✓ 世界"
    var twentyThousandLines: String  // prints 0...19999, one per line
    var multiFile: [(String, String)]  // entry first; prints "sum=5"

    var testDescription: String { language }
}

let programs: [LanguagePrograms] = [
    LanguagePrograms(
        language: "python", ext: "py",
        hello: "print('Hello, world!')",
        stdin: "name = input()\nprint(f'Hello, {name}!')",
        arguments: "import sys\nprint('|'.join(sys.argv[1:]))",
        exitSeven: "import sys\nsys.exit(7)",
        runtimeError: "raise ValueError('boom')",
        compileError: nil,
        endlessLoop: "print('started', flush=True)\nwhile True: pass",
        memoryBomb: "a = []\nwhile True: a.append(bytearray(10**7))",
        segfault: "import ctypes\nctypes.string_at(0)",
        outputFlood: "while True: print('x' * 1000)",
        unicode: "print('héllo wörld ✓ 世界')",
        twentyThousandLines: "for i in range(20000): print(i)",
        multiFile: [
            ("main.py", "from lib.util import add\nprint(f'sum={add(2, 3)}')"), ("lib/__init__.py", ""),
            ("lib/util.py", "def add(a, b): return a + b"),
        ]),
    LanguagePrograms(
        language: "javascript", ext: "js",
        hello: "console.log('Hello, world!')",
        stdin: "const name = require('fs').readFileSync(0, 'utf8').trim()\nconsole.log(`Hello, ${name}!`)",
        arguments: "console.log(process.argv.slice(2).join('|'))",
        exitSeven: "process.exit(7)",
        runtimeError: "throw new Error('boom')",
        compileError: nil,
        endlessLoop: "console.log('started'); while (true) {}",
        memoryBomb: "const a = []; while (true) a.push(Buffer.alloc(1e7, 1))",
        segfault: "process.kill(process.pid, 'SIGSEGV')",
        // Node queues writes in memory when a tight loop never yields, so a flood must wait for the pipe like real programs do.
        outputFlood: "const s = 'x'.repeat(1000) + '\\n'; (function w() { process.stdout.write(s, w) })()",
        unicode: "console.log('héllo wörld ✓ 世界')",
        twentyThousandLines: "let s = ''; for (let i = 0; i < 20000; i++) s += i + '\\n'; process.stdout.write(s)",
        multiFile: [
            ("main.js", "const { add } = require('./lib/util.js')\nconsole.log(`sum=${add(2, 3)}`)"),
            ("lib/util.js", "exports.add = (a, b) => a + b"),
        ]),
    LanguagePrograms(
        language: "java", ext: "java",
        hello: "public class Greeter { public static void main(String[] a) { System.out.println(\"Hello, world!\"); } }",
        stdin:
            "import java.util.Scanner;\npublic class Main { public static void main(String[] a) { String n = new Scanner(System.in).nextLine(); System.out.println(\"Hello, \" + n + \"!\"); } }",
        arguments: "public class Main { public static void main(String[] a) { System.out.println(String.join(\"|\", a)); } }",
        exitSeven: "public class Main { public static void main(String[] a) { System.exit(7); } }",
        runtimeError: "public class Main { public static void main(String[] a) { throw new RuntimeException(\"boom\"); } }",
        compileError: "public class Main { public static void main(String[] a) { int x = \"no\"; } }",
        endlessLoop: "public class Main { public static void main(String[] a) { System.out.println(\"started\"); while (true) {} } }",
        memoryBomb: nil,  // the JVM's own heap limit answers first (OutOfMemoryError, runtime-error); see README
        segfault: nil,
        outputFlood:
            "public class Main { public static void main(String[] a) { String s = \"x\".repeat(1000); while (true) System.out.println(s); } }",
        unicode: "public class Main { public static void main(String[] a) { System.out.println(\"héllo wörld ✓ 世界\"); } }",
        twentyThousandLines:
            "public class Main { public static void main(String[] a) { StringBuilder b = new StringBuilder(); for (int i = 0; i < 20000; i++) b.append(i).append('\\n'); System.out.print(b); } }",
        multiFile: [
            (
                "App.java",
                "import util.MathUtil;\npublic class Program { public static void main(String[] a) { System.out.println(\"sum=\" + MathUtil.add(2, 3)); } }"
            ),
            ("util/MathUtil.java", "package util;\npublic class MathUtil { public static int add(int a, int b) { return a + b; } }"),
        ]),
    LanguagePrograms(
        language: "cpp", ext: "cpp",
        hello: "#include <iostream>\nint main() { std::cout << \"Hello, world!\" << std::endl; }",
        stdin:
            "#include <iostream>\n#include <string>\nint main() { std::string n; std::getline(std::cin, n); std::cout << \"Hello, \" << n << \"!\" << std::endl; }",
        arguments:
            "#include <cstdio>\nint main(int c, char** v) { for (int i = 1; i < c; i++) printf(i > 1 ? \"|%s\" : \"%s\", v[i]); printf(\"\\n\"); }",
        exitSeven: "int main() { return 7; }",
        runtimeError: "#include <stdexcept>\nint main() { throw std::runtime_error(\"boom\"); }",
        compileError: "int main() { return undefined_name; }",
        endlessLoop: "#include <cstdio>\nint main() { puts(\"started\"); fflush(stdout); volatile unsigned long x = 0; while (true) x++; }",
        memoryBomb:
            "#include <cstdlib>\n#include <cstring>\nint main() { while (true) { char* p = (char*)malloc(10 << 20); memset(p, 1, 10 << 20); } }",
        segfault: "int main() { volatile int* p = nullptr; return *p; }",
        outputFlood:
            "#include <cstdio>\nint main() { for (;;) puts(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"); }",
        unicode: "#include <cstdio>\nint main() { puts(\"héllo wörld ✓ 世界\"); }",
        twentyThousandLines: "#include <cstdio>\nint main() { for (int i = 0; i < 20000; i++) printf(\"%d\\n\", i); }",
        multiFile: [
            ("main.cpp", "#include <cstdio>\n#include \"util.h\"\nint main() { printf(\"sum=%d\\n\", add(2, 3)); }"),
            ("util.h", "#pragma once\nint add(int a, int b);"), ("util.cpp", "#include \"util.h\"\nint add(int a, int b) { return a + b; }"),
        ]),
    LanguagePrograms(
        language: "sql", ext: "sql",
        hello: "SELECT 'Hello, world!' AS greeting;",
        stdin: nil, arguments: nil, exitSeven: nil,
        runtimeError: "SELECT * FROM no_such_table;",
        compileError: nil,
        endlessLoop: "SELECT 'started'; SELECT SLEEP(1000);",
        memoryBomb: nil, segfault: nil,
        outputFlood: "SELECT seq, REPEAT('x', 100) FROM seq_1_to_100000;",
        unicode: "SELECT 'héllo wörld ✓ 世界' AS u;",
        twentyThousandLines: "SELECT seq AS i FROM seq_0_to_19999;",
        multiFile: [
            ("main.sql", "CREATE TABLE t (a INT); INSERT INTO t VALUES (2), (3); SELECT CONCAT('sum=', SUM(a)) AS s FROM t;"),
            ("unused.sql", "SELECT 1;"),
        ]),
]

@Suite(.serialized, .docker)
struct RunLanguageTests {
    func file(_ p: LanguagePrograms, _ source: String) -> [(String, String)] {
        let name = p.language == "java" ? "Main.java" : "main.\(p.ext)"
        return [(name, source)]
    }

    @Test(arguments: programs)
    func helloWorld(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.hello))
        #expect(outcome.result.status == .ok, "\(outcome.stderr) \(outcome.result.message ?? "")")
        #expect(outcome.stdout.contains("Hello, world!"))
        #expect(outcome.result.processExitCode == 0)
        #expect(!outcome.result.stages.isEmpty && outcome.result.stages.allSatisfy { $0.wallMilliseconds > 0 })
        try await Live.expectNoLeaks()
    }

    @Test(arguments: programs.filter { $0.stdin != nil })
    func stdinIsPassedThrough(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.stdin!), stdin: "Ada\n")
        #expect(outcome.stdout == "Hello, Ada!\n", "\(outcome.stderr)")
    }

    @Test(arguments: programs.filter { $0.arguments != nil })
    func programArguments(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.arguments!), arguments: ["one", "two words", "ünï"])
        #expect(outcome.stdout == "one|two words|ünï\n", "\(outcome.stderr)")
    }

    @Test(arguments: programs.filter { $0.exitSeven != nil })
    func exitCodePassesThrough(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.exitSeven!))
        #expect(outcome.result.status == .runtimeError)
        #expect(outcome.result.exitCode == 7)
        #expect(outcome.result.processExitCode == 7)
    }

    @Test(arguments: programs)
    func runtimeErrors(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.runtimeError))
        #expect([.runtimeError, .signal].contains(outcome.result.status), "\(outcome.result)")
        #expect(outcome.result.processExitCode != 0)
        #expect(!outcome.stderr.isEmpty)
    }

    @Test(arguments: programs.filter { $0.compileError != nil })
    func compileErrors(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.compileError!))
        #expect(outcome.result.status == .compileError, "\(outcome.result)")
        #expect(outcome.result.processExitCode != 0)
        #expect(outcome.result.stages.map(\.name) == ["compile"])
        #expect(outcome.stderr.contains("error"))
    }

    @Test(arguments: programs)
    func timeoutStopsTheProgram(_ p: LanguagePrograms) async throws {
        let started = ContinuousClock.now
        let outcome = try await Live.run(p.language, file(p, p.endlessLoop), timeout: .seconds(2))
        #expect(outcome.result.status == .timeout, "\(outcome.result)")
        #expect(outcome.result.processExitCode == 124)
        #expect(outcome.stdout.contains("started"))
        #expect(ContinuousClock.now - started < .seconds(20))
        try await Live.expectNoLeaks()
    }

    @Test(arguments: programs.filter { $0.memoryBomb != nil })
    func memoryBombHitsTheLimit(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.memoryBomb!), memory: 96 << 20)
        #expect(outcome.result.status == .memoryLimit, "\(outcome.result) \(outcome.stderr)")
        #expect(outcome.result.processExitCode == 137)
    }

    @Test(arguments: programs.filter { $0.segfault != nil })
    func segfaultIsASignal(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.segfault!))
        #expect(outcome.result.status == .signal, "\(outcome.result)")
        #expect(outcome.result.signalName == "SIGSEGV")
        #expect(outcome.result.processExitCode == 139)
    }

    @Test(arguments: programs)
    func outputIsCappedAndKept(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.outputFlood), timeout: .seconds(20), outputLimit: 64 << 10)
        #expect(outcome.result.status == .outputLimit, "\(outcome.result)")
        #expect(outcome.result.truncated)
        let total = outcome.stdoutBytes.count + outcome.stderr.utf8.count
        #expect(total == 64 << 10, "kept \(total) bytes")
        try await Live.expectNoLeaks()
    }

    @Test(arguments: programs)
    func unicodeSurvives(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.unicode))
        #expect(outcome.stdout.contains("héllo wörld ✓ 世界"), "\(outcome.stdout) \(outcome.stderr)")
    }

    @Test(arguments: programs)
    func twentyThousandLinesIntactAndInOrder(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, file(p, p.twentyThousandLines))
        #expect(outcome.result.status == .ok, "\(outcome.stderr)")
        let numbers = outcome.stdout.split(separator: "\n").compactMap { line in
            Int(line.trimmingCharacters(in: .init(charactersIn: "| ")))
        }
        #expect(numbers == Array(0..<20000))
    }

    @Test(arguments: programs)
    func severalFilesWithFolders(_ p: LanguagePrograms) async throws {
        let outcome = try await Live.run(p.language, p.multiFile)
        #expect(outcome.result.status == .ok, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("sum=5"))
    }
}
