import Testing

@testable import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// Reading a local tree as untrusted input: the symlink policy, special files and limits. Real files in a temporary
/// folder, no Docker.
@Suite struct LocalSubmissionTests {
    let limits = SubmissionLimits(maxFileBytes: 1 << 20, maxFileCount: 10, maxTotalBytes: 1 << 22)

    /// A fresh folder holding `files`; returns its resolved path.
    func tree(_ files: [(String, String)]) throws -> String {
        var template = Array("/tmp/coderunner-local-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let root = LocalTree.realPath(String(cString: try #require(made)))!
        for (path, contents) in files {
            let full = root + "/" + path
            _ = FileSystem.makeDirectoriesForTest(FilePath.directory(of: full))
            #expect(FileSystem.writeFile(full, Array(contents.utf8)))
        }
        return root
    }

    @Test(arguments: [
        // link, target, target is a folder, root, follow outside → decision
        ("/r/a/l", "/r/b.txt", false, "/r", false, LocalTree.LinkDecision.follow),
        ("/r/l", "/etc/passwd", false, "/r", false, .refuseOutside),
        ("/r/l", "/etc/passwd", false, "/r", true, .follow),
        ("/r/l", "/rx/file", false, "/r", false, .refuseOutside),  // a sibling sharing the prefix is outside
        ("/r/a/l", "/r", true, "/r", false, .refuseLoop),
        ("/r/a/l", "/", true, "/r", true, .refuseLoop),
        ("/r/a/l", "/r/b", true, "/r", false, .follow),
    ])
    func symlinkDecision(link: String, target: String, isDirectory: Bool, root: String, follow: Bool, expected: LocalTree.LinkDecision) {
        #expect(LocalTree.decide(link: link, target: target, targetIsDirectory: isDirectory, root: root, followOutside: follow) == expected)
    }

    /// Ten levels of folders, each holding ten links to the next: few entries, 10^9 paths. Each folder visit counts.
    @Test func foldersReachedThroughManyLinksAreBounded() throws {
        let root = try tree([("main.py", "print(1)")])
        for level in 0..<10 {
            _ = FileSystem.makeDirectoriesForTest(root + "/d\(level)")
            guard level > 0 else { continue }
            for link in 0..<10 { #expect(symlink(root + "/d\(level)", root + "/d\(level - 1)/l\(link)") == 0) }
        }
        let started = ContinuousClock.now
        #expect(throws: SubmissionError.tooManyFolders(limit: limits.maxFileCount)) {
            try LocalSubmission.read([root], limits: limits)
        }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    /// A file replaced between the check and the read (a folder on its path swapped for a link, say) is refused.
    @Test func aFileReplacedAfterTheCheckIsRefused() throws {
        let root = try tree([("main.py", "print(1)")])
        let path = root + "/main.py"
        let checked = try #require(LocalTree.lstatKind(path))
        let planned = LocalSubmission.Planned(relative: "main.py", source: path, size: checked.size, identity: checked.identity)
        // Made while the checked file still exists, so it is another inode; then moved over the checked name.
        #expect(FileSystem.writeFile(root + "/other.py", Array("print('swapped')".utf8)))
        #expect(rename(root + "/other.py", path) == 0)
        #expect(throws: SubmissionError.changedWhileReading("main.py")) { try LocalTree.readPlanned(planned, limits: limits) }
    }

    @Test func inTreeSymlinkIsUploadedAsACopy() throws {
        let root = try tree([("main.py", "print(1)"), ("data/real.txt", "inside")])
        #expect(symlink("data/real.txt", root + "/alias.txt") == 0)
        #expect(symlink("data", root + "/more") == 0)
        let local = try LocalSubmission.read([root], limits: limits)
        let byPath = Dictionary(uniqueKeysWithValues: local.files.map { ($0.path, String(decoding: $0.contents, as: UTF8.self)) })
        #expect(byPath == ["main.py": "print(1)", "data/real.txt": "inside", "alias.txt": "inside", "more/real.txt": "inside"])
        #expect(local.namedFiles.isEmpty)
    }

    @Test func symlinkOutsideTheTreeIsRefusedUnlessFollowed() throws {
        let secret = try tree([("secret.txt", "host secret")])
        let root = try tree([("main.py", "print(open('data.txt').read())")])
        #expect(symlink(secret + "/secret.txt", root + "/data.txt") == 0)
        #expect(throws: SubmissionError.symlinkOutside("data.txt", target: secret + "/secret.txt", root: "the submitted folder")) {
            try LocalSubmission.read([root], limits: limits)
        }
        let followed = try LocalSubmission.read([root], limits: limits, followSymlinks: true)
        #expect(followed.files.first { $0.path == "data.txt" }?.contents == Array("host secret".utf8))
        // A link to a folder outside, too.
        #expect(unlink(root + "/data.txt") == 0)
        #expect(symlink(secret, root + "/elsewhere") == 0)
        #expect(throws: SubmissionError.self) { try LocalSubmission.read([root], limits: limits) }
    }

    @Test func namedFileLinkMustStayInTheCurrentDirectory() throws {
        let secret = try tree([("secret.txt", "host secret")])
        let root = try tree([("main.py", "print(1)")])
        #expect(symlink(secret + "/secret.txt", root + "/data.txt") == 0)
        #expect(throws: SubmissionError.symlinkOutside("data.txt", target: secret + "/secret.txt", root: "the current directory")) {
            try LocalSubmission.read(["main.py", "data.txt"], limits: limits, currentDirectory: root)
        }
        let followed = try LocalSubmission.read(["main.py", "data.txt"], limits: limits, followSymlinks: true, currentDirectory: root)
        #expect(followed.namedFiles == ["main.py", "data.txt"])
    }

    @Test func brokenLinksLoopsAndFIFOsAreRefused() throws {
        let root = try tree([("main.py", "print(1)"), ("sub/x.py", "")])
        #expect(symlink("nowhere", root + "/broken") == 0)
        #expect(throws: SubmissionError.brokenSymlink("broken")) { try LocalSubmission.read([root], limits: limits) }
        #expect(unlink(root + "/broken") == 0)

        #expect(symlink("..", root + "/sub/up") == 0)
        #expect(throws: SubmissionError.symlinkLoop("sub/up")) { try LocalSubmission.read([root], limits: limits) }
        #expect(unlink(root + "/sub/up") == 0)

        #expect(mkfifo(root + "/pipe", 0o600) == 0)
        let started = ContinuousClock.now
        #expect(throws: SubmissionError.specialFile("pipe", kind: "FIFO (named pipe)")) { try LocalSubmission.read([root], limits: limits) }
        #expect(throws: SubmissionError.specialFile(root + "/pipe", kind: "FIFO (named pipe)")) {
            try LocalSubmission.read([root + "/pipe"], limits: limits)
        }
        #expect(ContinuousClock.now - started < .seconds(30), "a FIFO must be refused, not opened")
    }

    @Test func limitsApplyBeforeReading() throws {
        let root = try tree((0..<12).map { ("f\($0).py", "") })
        #expect(throws: SubmissionError.tooManyFiles(count: 11, limit: 10)) { try LocalSubmission.read([root], limits: limits) }
        let big = try tree([("big.py", String(repeating: "x", count: 2048))])
        let small = SubmissionLimits(maxFileBytes: 1024, maxFileCount: 10, maxTotalBytes: 4096)
        #expect(throws: SubmissionError.fileTooLarge("big.py", size: 2048, limit: 1024)) { try LocalSubmission.read([big], limits: small) }
    }

    @Test func hiddenEntriesAreSkippedUnread() throws {
        let root = try tree([("main.py", "print(1)")])
        #expect(mkfifo(root + "/.hidden-pipe", 0o600) == 0)
        #expect(symlink("/etc/passwd", root + "/.env") == 0)
        #expect(try LocalSubmission.read([root], limits: limits).files.map(\.path) == ["main.py"])
    }
}

extension FileSystem {
    static func makeDirectoriesForTest(_ path: String) -> Bool {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            _ = mkdir(current, 0o755)
        }
        return isDirectory(path)
    }
}
