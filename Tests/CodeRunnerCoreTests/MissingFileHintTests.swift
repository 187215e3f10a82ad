import Testing

@testable import CodeRunnerCore

struct MissingFileHintTests {
    @Test func cppHeaderNextToTheEntry() throws {
        let stderr = "main.cpp:1:10: fatal error: util.h: No such file or directory\n    1 | #include \"util.h\"\ncompilation terminated.\n"
        let hint = try #require(
            MissingFileHint.hint(
                stderr: stderr, language: "cpp", entry: "main.cpp", sent: ["cppproj/main.cpp"],
                folderEntries: ["main.cpp", "util.h"], folder: "cppproj"))
        #expect(hint.contains("only cppproj/main.cpp was sent") && hint.contains("util.h is next to main.cpp"))
        #expect(hint.contains("coderunner run cppproj)") && hint.contains("coderunner run cppproj/main.cpp util.h"))
    }

    @Test func pythonJavaScriptAndJavaModules() {
        #expect(
            MissingFileHint.missingNames(in: "ModuleNotFoundError: No module named 'helpers.io'", language: "python") == ["helpers.py", "helpers"])
        #expect(
            MissingFileHint.missingNames(in: "Error: Cannot find module './util'\nRequire stack:", language: "javascript") == ["util.js", "util"])
        #expect(MissingFileHint.missingNames(in: "Error: Cannot find module 'express'", language: "javascript").isEmpty, "a package, not a file")
        #expect(
            MissingFileHint.missingNames(in: "Main.java:3: error: cannot find symbol\n  symbol:   class Util\n", language: "java") == ["Util.java"])
    }

    @Test func noHintWhenTheFileIsNotThereOrWasSent() {
        let stderr = "main.cpp:1:10: fatal error: util.h: No such file or directory"
        #expect(
            MissingFileHint.hint(stderr: stderr, language: "cpp", entry: "main.cpp", sent: ["main.cpp"], folderEntries: ["main.cpp"], folder: ".")
                == nil)
        #expect(
            MissingFileHint.hint(
                stderr: stderr, language: "cpp", entry: "main.cpp", sent: ["main.cpp", "util.h"],
                folderEntries: ["main.cpp", "util.h"], folder: ".") == nil)
        #expect(
            MissingFileHint.missingNames(in: "fatal error: ../../etc/passwd: No such file or directory", language: "cpp").isEmpty,
            "a name with a slash is never looked up")
        // The program's output names them: secrets and other kinds of files are never suggested for sending.
        #expect(MissingFileHint.missingNames(in: "main.cpp:1:10: fatal error: .env: No such file or directory", language: "cpp").isEmpty)
        #expect(MissingFileHint.missingNames(in: "fatal error: id_rsa: No such file or directory", language: "cpp").isEmpty)
        #expect(MissingFileHint.missingNames(in: "Error: Cannot find module './.npmrc'", language: "javascript").isEmpty)
        #expect(MissingFileHint.missingNames(in: "Error: Cannot find module './secrets.txt'", language: "javascript").isEmpty)
    }
}
