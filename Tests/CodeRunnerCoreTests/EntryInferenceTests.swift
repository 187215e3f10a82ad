import Testing

@testable import CodeRunnerCore

/// Which language and entry a set of files means (`coderunner run DIR`, `serve` runs without `entry`). No Docker.
@Suite struct EntryInferenceTests {
    let catalog: RuntimeCatalog

    init() throws {
        catalog = try RuntimeCatalog.load(from: RuntimeCatalog.sourceCheckoutRuntimes)
    }

    func files(_ pairs: [(String, String)]) -> [SubmittedFile] {
        pairs.map { SubmittedFile(path: $0.0, contents: Array($0.1.utf8)) }
    }

    func choose(_ pairs: [(String, String)], language: String? = nil, entry: String? = nil) throws(EntryInferenceError) -> EntryChoice {
        try EntryInference.choose(files: files(pairs), catalog: catalog, language: language, entry: entry)
    }

    @Test func javaTheOneClassWithMain() throws {
        let choice = try choose([
            ("shapes/Shape.java", "package shapes; public interface Shape { double area(); }"),
            ("Solution.java", "public class Solution {\n  public static void main(String[] args) {}\n}"),
            ("shapes/Circle.java", "package shapes; public class Circle implements Shape { public double area() { return 1; } }"),
            ("README.md", "data, not a language"),
        ])
        #expect(choice.runtime.language == "java")
        #expect(choice.entry == "Solution.java")
        #expect(choice.note == nil)
    }

    @Test func cTranslationUnitsTheOneWithMain() throws {
        let choice = try choose([
            ("util.c", "int add(int a, int b) { return a + b; }"), ("util.h", "int add(int, int);"),
            ("prog.c", "#include \"util.h\"\nint main(void) { return add(1, 2); }"),
        ])
        #expect(choice.runtime.language == "cpp")
        #expect(choice.entry == "prog.c")
    }

    @Test func pythonPackageByConvention() throws {
        let choice = try choose([
            ("main.py", "from pkg import util\nutil.hi()"), ("pkg/__init__.py", ""),
            ("pkg/util.py", "def hi(): print('hi')"), ("data.csv", "a,b"),
        ])
        #expect(choice.runtime.language == "python")
        #expect(choice.entry == "main.py")
        #expect(choice.note == nil)
    }

    @Test func javascriptIndexByConvention() throws {
        let choice = try choose([
            ("lib/greet.js", "module.exports = n => 'hi ' + n"), ("index.js", "console.log(require('./lib/greet')('x'))"),
            ("package.json", "{}"),
        ])
        #expect(choice.runtime.language == "javascript")
        #expect(choice.entry == "index.js")
    }

    @Test func severalMainsSettledByConventionWithANote() throws {
        let choice = try choose([
            ("Main.java", "class Main { public static void main(String[] a) {} }"),
            ("Tool.java", "class Tool { static public void main(String... a) {} }"),
        ])
        #expect(choice.entry == "Main.java")
        #expect(choice.note?.contains("Tool.java") == true)
    }

    @Test func theOnlyTopLevelFileWithANote() throws {
        let choice = try choose([("run.py", "import lib.a"), ("lib/a.py", "x = 1"), ("lib/b.py", "y = 2")])
        #expect(choice.entry == "run.py")
        #expect(choice.note?.contains("run.py") == true)
    }

    @Test func ambiguousEntryListsTheCandidates() {
        #expect(throws: EntryInferenceError.severalEntries(candidates: ["a.py", "b.py"])) {
            try choose([("a.py", "print(1)"), ("b.py", "print(2)")])
        }
        let message = EntryInferenceError.severalEntries(candidates: ["a.py", "b.py"]).description
        #expect(message.contains("a.py, b.py") && message.contains("--entry"))
    }

    @Test func severalLanguagesAreAnError() throws {
        let pairs = [("main.py", "print(1)"), ("Main.java", "class Main {}"), ("notes.txt", "")]
        #expect(throws: EntryInferenceError.severalLanguages(["python": ["main.py"], "java": ["Main.java"]])) { try choose(pairs) }
        let message = EntryInferenceError.severalLanguages(["python": ["main.py"], "java": ["Main.java"]]).description
        #expect(message == "the files are in several languages: java (Main.java); python (main.py); choose one with --lang LANGUAGE or --entry FILE")
        // Either option settles it.
        #expect(try choose(pairs, language: "java").entry == "Main.java")
        #expect(try choose(pairs, entry: "main.py").runtime.language == "python")
    }

    @Test func noSourceFiles() {
        #expect(throws: EntryInferenceError.self) { try choose([("notes.txt", "hi")]) }
        #expect(throws: EntryInferenceError.noSourceFilesFor(language: "java", extensions: [".java"])) {
            try choose([("a.py", "print(1)")], language: "java")
        }
    }

    @Test func serverTakesTheFirstWhenAmbiguous() throws {
        let choice = try EntryInference.choose(
            files: files([("b.py", "print(2)"), ("a.py", "print(1)")]), catalog: catalog,
            language: nil, entry: nil, firstWhenAmbiguous: true)
        #expect(choice.entry == "b.py")
    }

    @Test(arguments: [
        ("java", "public static void main(String[] args) {", true),
        ("java", "static public final void main(String[] args)", true),
        ("java", "void mainly() {}", false),
        ("cpp", "int main(int argc, char **argv) {", true),
        ("cpp", "  auto main() -> int {", true),
        ("cpp", "int not_main(void);", false),
        ("python", "if __name__ == '__main__':\n    run()", true),
        ("python", "def main(): pass", false),
        ("javascript", "function main() {}", false),
    ])
    func mainDetection(language: String, source: String, expected: Bool) {
        #expect(EntryInference.definesMain(Array(source.utf8), language: language) == expected)
    }

    @Test func commandLineNamedFilesComeFirst() throws {
        let local = LocalSubmission(
            files: files([("data.txt", ""), ("tool.py", "print(1)"), ("main.py", "print(2)")]),
            namedFiles: ["data.txt", "tool.py", "main.py"])
        // The first named file with a known extension, not the conventional main.py.
        #expect(try local.choose(catalog: catalog, language: nil, entry: nil).entry == "tool.py")
        #expect(try local.choose(catalog: catalog, language: nil, entry: "main.py").entry == "main.py")
    }
}

/// `--memory` and `--cpus` against Docker's minimums and the engine host's size. No Docker.
@Suite struct LimitOptionsTests {
    let host = HostCapacity(cpus: 2, memoryBytes: 4 << 30)

    @Test func acceptsValuesInRange() throws {
        #expect(try LimitOptions.memory("128m", host: host) == 128 << 20)
        #expect(try LimitOptions.memory("4g", host: host) == 4 << 30)
        #expect(try LimitOptions.cpus("0.5", host: host) == 0.5)
        #expect(try LimitOptions.cpus("2", host: host) == 2)
        #expect(try LimitOptions.memory("100t", host: nil) == 100 << 40)  // no host known: only the syntax is checked
    }

    @Test(arguments: ["0", "-1", "-1m", "12x", "lots", "", "5m", "1.5q"])
    func refusesBadMemory(_ text: String) {
        #expect(throws: LimitOptionError.badMemory(text, range: "6m to 4096m (the engine's host memory)")) {
            try LimitOptions.memory(text, host: host)
        }
    }

    @Test func refusesMemoryAboveTheHost() {
        #expect(throws: LimitOptionError.memoryAboveHost("100t", range: "6m to 4096m (the engine's host memory)")) {
            try LimitOptions.memory("100t", host: host)
        }
        #expect(
            LimitOptionError.memoryAboveHost("100t", range: "6m to 4096m (the engine's host memory)").description
                == "--memory 100t is more than the engine's host has: use a size from 6m to 4096m (the engine's host memory)")
    }

    @Test(arguments: ["0", "-1", "-0.5", "abc", "", "nan", "inf", "0.001"])
    func refusesBadCPUs(_ text: String) {
        #expect(throws: LimitOptionError.self) { try LimitOptions.cpus(text, host: host) }
        #expect((try? LimitOptions.cpus(text, host: host)) == nil)
    }

    @Test func refusesCPUsAboveTheHost() {
        #expect(throws: LimitOptionError.cpusAboveHost("3", range: "0.01 to 2 (the engine's host has 2 CPUs)")) {
            try LimitOptions.cpus("3", host: host)
        }
    }
}
