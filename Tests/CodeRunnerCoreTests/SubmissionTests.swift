import Testing

@testable import CodeRunnerCore

@Suite struct SubmissionTests {
    let limits = SubmissionLimits(maxFileBytes: 1000, maxFileCount: 3, maxTotalBytes: 1500)

    @Test(arguments: [
        "../etc/passwd", "/etc/passwd", "a/../../b", "", "a//b", "./a", "a\0b", "a\nb", "dir\\file",
        String(repeating: "x", count: 300), String(repeating: "a/", count: 600) + "f",
    ])
    func rejectsBadPaths(_ path: String) {
        #expect(throws: SubmissionError.self) { try Submission.validate(path: path) }
    }

    @Test(arguments: ["main.py", "src/lib/util.py", "über.txt", "a b.c", ".hidden"])
    func acceptsGoodPaths(_ path: String) throws {
        try Submission.validate(path: path)
    }

    @Test func limitsAndEntry() throws {
        let small = SubmittedFile(path: "a.py", contents: Array(repeating: 65, count: 10))
        #expect(throws: SubmissionError.empty) { try Submission(files: [], entry: "a.py", limits: limits) }
        #expect(throws: SubmissionError.entryNotInFiles("b.py")) { try Submission(files: [small], entry: "b.py", limits: limits) }
        let big = SubmittedFile(path: "big.py", contents: Array(repeating: 65, count: 1001))
        #expect(throws: SubmissionError.self) { try Submission(files: [big], entry: "big.py", limits: limits) }
        let many = (0..<4).map { SubmittedFile(path: "f\($0).py", contents: []) }
        #expect(throws: SubmissionError.tooManyFiles(count: 4, limit: 3)) { try Submission(files: many, entry: "f0.py", limits: limits) }
        let total = (0..<2).map { SubmittedFile(path: "t\($0).py", contents: Array(repeating: 65, count: 800)) }
        #expect(throws: SubmissionError.self) { try Submission(files: total, entry: "t0.py", limits: limits) }
        #expect(throws: SubmissionError.duplicatePath("a.py")) { try Submission(files: [small, small], entry: "a.py", limits: limits) }
        #expect(try Submission(files: [small], entry: "./a.py", limits: limits).entry == "a.py")
    }

    /// Issue 17 (10): a file and a folder of the same name used to reach the agent and end as internal-error.
    @Test(arguments: [["a", "a/b"], ["a/b/c", "a"], ["x.py", "d/e", "d/e/f.py"]])
    func fileAndFolderOfTheSameName(_ paths: [String]) {
        let files = paths.map { SubmittedFile(path: $0, contents: []) }
        #expect(throws: SubmissionError.self) { try Submission(files: files, entry: paths[0], limits: limits) }
        do { _ = try Submission(files: files, entry: paths[0], limits: limits) } catch {
            guard case .fileAndFolder = error else {
                Issue.record("expected fileAndFolder, got \(error)")
                return
            }
            #expect(error.description.contains("rename one"))
        }
    }

    @Test func commonFolder() {
        #expect(Submission.commonFolder(["/w/src", "/w/src/lib"]) == "/w/src")
        #expect(Submission.commonFolder(["/w/a", "/w/b"]) == "/w")
        #expect(Submission.commonFolder(["/a", "/b"]) == "/")
        #expect(Submission.commonFolder(["/w/ab", "/w/a"]) == "/w")
    }

    @Test func localFilesKeepRelativePaths() throws {
        let root = FilePath.directory(of: RuntimeCatalog.sourceCheckoutRuntimes) + "/runtimes/java/examples/multi"
        let local = try LocalSubmission.read([root], limits: SubmissionLimits(maxFileBytes: 1 << 20, maxFileCount: 100, maxTotalBytes: 1 << 22))
        let catalog = try RuntimeCatalog.load(from: RuntimeCatalog.sourceCheckoutRuntimes)
        #expect(try local.choose(catalog: catalog, language: nil, entry: nil).entry == "Solution.java")  // the one class with main
        let submission = try Submission.fromLocalPaths([root + "/Solution.java"], limits: limits)
        #expect(submission.entry == "Solution.java")
        #expect(local.files.map(\.path).contains("shapes/Circle.java"))
        #expect(local.files.allSatisfy { !$0.path.hasPrefix("/") && !$0.path.contains("..") })
        #expect(throws: SubmissionError.missingFile("/nonexistent/x.py")) {
            try Submission.fromLocalPaths(["/nonexistent/x.py"], limits: limits)
        }
    }
}

/// Session names: what a user may choose (`--session`, the shell), and the `sb-` prefix kept for standby containers.
@Suite struct SessionNameTests {
    @Test(arguments: ["ci", "ci-42", "job_7", "A1", String(repeating: "x", count: 48), "sbx", "s-b"])
    func acceptsOrdinaryNames(_ name: String) throws {
        try SessionName.validate(name)
    }

    @Test(arguments: ["", "-x", "a b", "a/b", "ü", String(repeating: "x", count: 49), "sb-1", "sb-ci"])
    func rejectsBadOrReservedNames(_ name: String) {
        #expect(throws: SessionError.self) { try SessionName.validate(name) }
    }

    @Test func standbyNamesAreRecognised() {
        #expect(SessionName.isStandby(SessionName.standby()))
        #expect(!SessionName.isStandby(SessionName.ephemeral()))
        #expect(SessionError.reservedName("sb-x", prefix: "sb-").description.contains("sb-"))
    }
}
