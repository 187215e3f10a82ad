#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files and folders read from the local disk for `coderunner run`, treated as untrusted (a checkout a CI job or an
/// autograder runs): nothing is opened before the whole tree has been listed with `lstat` and checked against the
/// limits, and nothing outside the tree is read. The policy (docs/cli-run.md):
/// - a symlink whose target (fully resolved) lies inside the submitted folder, or for a file named on the command line
///   inside the current directory, is uploaded as a copy of its target; one that leads outside is refused unless
///   `followSymlinks`; a broken link, a link to a folder that contains it (a loop), FIFOs, sockets and devices are refused;
/// - names starting with `.` inside folders (`.git`, editor files) are skipped without being looked at.
public struct LocalSubmission: Sendable, Equatable {
    public var files: [SubmittedFile]
    /// The paths (as uploaded) of the files named one by one on the command line, in order: the first is the entry
    /// unless `--entry` says otherwise. Empty when only folders were named (the entry is then inferred).
    public var namedFiles: [String]

    /// One file to read: its path in the upload, the path to open (fully resolved) and its size from `stat`.
    struct Planned: Equatable {
        var relative: String
        var source: String
        var size: UInt64
        /// The file that was checked; reading refuses any other one found at `source` by then (a folder on the way
        /// swapped for a symlink between the check and the read).
        var identity: FileIdentity
    }

    /// A file for good: device and inode.
    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64
        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// `currentDirectory` is for tests (the process's own by default).
    public static func read(
        _ paths: [String], limits: SubmissionLimits, followSymlinks: Bool = false, currentDirectory: String? = nil
    ) throws(SubmissionError) -> LocalSubmission {
        guard !paths.isEmpty else { throw .empty }
        let cwd = currentDirectory ?? Submission.currentDirectory()
        let cwdReal = LocalTree.realPath(cwd) ?? cwd
        var walker = LocalTree(limits: limits, followSymlinks: followSymlinks)
        var loose: [(absolute: String, source: String, size: UInt64, identity: FileIdentity)] = []
        for path in paths {
            let absolute = FilePath.normalize(path.hasPrefix("/") ? path : cwd + "/" + path)
            guard let own = LocalTree.lstatKind(absolute) else { throw .missingFile(path) }
            guard let resolved = LocalTree.realPath(absolute) else {
                throw own.kind == .symlink ? .brokenSymlink(path) : .unreadable(path)
            }
            // The path went through a symlink (of the submission's, or of the way to it): it must stay in the current directory.
            if resolved != absolute && !followSymlinks && !LocalTree.isInside(resolved, root: cwdReal) {
                throw .symlinkOutside(path, target: resolved, root: "the current directory")
            }
            guard let target = LocalTree.lstatKind(resolved) else { throw .missingFile(path) }
            switch target.kind {
            case .file:
                loose.append((absolute, resolved, target.size, target.identity))
                try walker.count(1)
            case .directory:
                try walker.walk(directory: resolved, root: resolved, prefix: "")
            case .symlink, .other:
                throw .specialFile(path, kind: target.kind.description)
            }
        }
        // Files named one by one keep their paths relative to the deepest folder that holds them all.
        let base = Submission.commonFolder(loose.map { FilePath.directory(of: $0.absolute) })
        let named = loose.map { file in
            Planned(
                relative: base == "/" ? String(file.absolute.dropFirst()) : String(file.absolute.dropFirst(base.count + 1)),
                source: file.source, size: file.size, identity: file.identity)
        }
        let planned = named + walker.planned
        try checkSizes(planned, limits: limits)
        let files = try planned.map { planned throws(SubmissionError) in try LocalTree.readPlanned(planned, limits: limits) }
        return LocalSubmission(files: files, namedFiles: named.map(\.relative))
    }

    /// The limits on sizes, from `stat`, before any file is opened.
    static func checkSizes(_ planned: [Planned], limits: SubmissionLimits) throws(SubmissionError) {
        var total: UInt64 = 0
        for file in planned {
            guard file.size <= limits.maxFileBytes else { throw .fileTooLarge(file.relative, size: file.size, limit: limits.maxFileBytes) }
            total += file.size
            guard total <= limits.maxTotalBytes else { throw .tooLarge(total: total, limit: limits.maxTotalBytes) }
        }
    }
}

/// Walks a submitted folder with `lstat`, classifying every entry before anything is read.
struct LocalTree {
    enum Kind: Equatable, CustomStringConvertible {
        case file, directory, symlink
        case other(String)

        init(mode: mode_t) {
            switch mode & S_IFMT {
            case S_IFREG: self = .file
            case S_IFDIR: self = .directory
            case S_IFLNK: self = .symlink
            case S_IFIFO: self = .other("FIFO (named pipe)")
            case S_IFSOCK: self = .other("socket")
            case S_IFCHR: self = .other("character device")
            case S_IFBLK: self = .other("block device")
            default: self = .other("special file")
            }
        }

        var description: String {
            switch self {
            case .file: return "file"
            case .directory: return "folder"
            case .symlink: return "symlink"
            case .other(let name): return name
            }
        }
    }

    /// What a symlink found in a folder is to be: read as a copy of its target, or refused.
    enum LinkDecision: Equatable {
        case follow
        case refuseOutside
        case refuseLoop
    }

    let limits: SubmissionLimits
    let followSymlinks: Bool
    private(set) var planned: [Planned] = []
    /// The resolved folders being walked, outermost first: a folder symlink to one of them is a loop.
    private var walking: [String] = []
    private var fileCount = 0
    private var foldersWalked = 0

    typealias Planned = LocalSubmission.Planned

    init(limits: SubmissionLimits, followSymlinks: Bool) {
        self.limits = limits
        self.followSymlinks = followSymlinks
    }

    /// A regular file to read later, as `relative` in the upload; `entry` is what `lstat` said of `source`.
    mutating func plan(_ relative: String, source: String, _ entry: (kind: Kind, size: UInt64, identity: LocalSubmission.FileIdentity))
        throws(SubmissionError)
    {
        try count(1)
        planned.append(Planned(relative: relative, source: source, size: entry.size, identity: entry.identity))
    }

    mutating func count(_ added: Int) throws(SubmissionError) {
        fileCount += added
        guard fileCount <= limits.maxFileCount else { throw .tooManyFiles(count: fileCount, limit: limits.maxFileCount) }
    }

    /// `directory` is a resolved path inside (or equal to) `root`; `prefix` is its path in the upload.
    mutating func walk(directory: String, root: String, prefix: String) throws(SubmissionError) {
        // Links to folders can make a tree of few entries that walks for ever (ten links to the next folder, ten
        // levels deep): every visit of a folder counts.
        foldersWalked += 1
        guard foldersWalked <= limits.maxFileCount else { throw .tooManyFolders(limit: limits.maxFileCount) }
        walking.append(directory)
        defer { walking.removeLast() }
        for name in FileSystem.listDirectory(directory).sorted() where !name.hasPrefix(".") {
            let path = directory + "/" + name
            let relative = prefix + name
            guard let entry = Self.lstatKind(path) else { continue }  // gone since the listing
            switch entry.kind {
            case .file:
                try plan(relative, source: path, entry)
            case .directory:
                try walk(directory: path, root: root, prefix: relative + "/")
            case .symlink:
                guard let target = Self.realPath(path), let resolved = Self.lstatKind(target) else { throw .brokenSymlink(relative) }
                let loops = resolved.kind == .directory && walking.contains(target)
                switch loops
                    ? .refuseLoop
                    : Self.decide(
                        link: path, target: target, targetIsDirectory: resolved.kind == .directory, root: root, followOutside: followSymlinks)
                {
                case .refuseOutside: throw .symlinkOutside(relative, target: target, root: "the submitted folder")
                case .refuseLoop: throw .symlinkLoop(relative)
                case .follow: break
                }
                switch resolved.kind {
                case .file:
                    try plan(relative, source: target, resolved)
                case .directory:
                    try walk(directory: target, root: root, prefix: relative + "/")
                default:
                    throw .specialFile(relative, kind: resolved.kind.description)
                }
            case .other:
                throw .specialFile(relative, kind: entry.kind.description)
            }
        }
    }

    /// The symlink policy, on resolved paths only (no file system access): a target inside `root` is followed, one
    /// outside only with `followOutside`; a folder target that contains the link would recurse for ever.
    static func decide(link: String, target: String, targetIsDirectory: Bool, root: String, followOutside: Bool) -> LinkDecision {
        if targetIsDirectory && isInside(link, root: target) { return .refuseLoop }
        if isInside(target, root: root) || followOutside { return .follow }
        return .refuseOutside
    }

    /// Whether `path` is `root` or below it; both absolute and normalized (resolved paths are).
    static func isInside(_ path: String, root: String) -> Bool {
        root == "/" || path == root || path.hasPrefix(root + "/")
    }

    /// Opens without following a final symlink and without blocking (a FIFO swapped in since the listing must not
    /// hang us), then checks it is still a regular file and reads at most the per-file limit.
    static func readPlanned(_ file: Planned, limits: SubmissionLimits) throws(SubmissionError) -> SubmittedFile {
        let fd = open(file.source, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ELOOP ? .specialFile(file.relative, kind: "symlink") : .unreadable(file.relative) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadable(file.relative) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .specialFile(file.relative, kind: Kind(mode: info.st_mode).description) }
        guard LocalSubmission.FileIdentity(info) == file.identity else { throw .changedWhileReading(file.relative) }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(file.relative)
            }
            if count == 0 { break }
            contents.append(contentsOf: buffer[0..<count])
            if UInt64(contents.count) > limits.maxFileBytes {  // grew since it was listed
                throw .fileTooLarge(file.relative, size: UInt64(contents.count), limit: limits.maxFileBytes)
            }
        }
        return SubmittedFile(path: file.relative, contents: contents, executable: info.st_mode & S_IXUSR != 0)
    }

    static func lstatKind(_ path: String) -> (kind: Kind, size: UInt64, identity: LocalSubmission.FileIdentity)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (Kind(mode: info.st_mode), UInt64(info.st_size), LocalSubmission.FileIdentity(info))
    }

    /// `realpath(3)`: every symlink resolved; nil for a broken link or a missing path.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension Submission {
    /// Reads local files for a run whose entry is the first file named (the shell's `:run`, the images' smoke test),
    /// through the same checks as `coderunner run` (`followSymlinks` for coderunner's own files, such as the examples).
    public static func fromLocalPaths(
        _ paths: [String], entry: String? = nil, limits: SubmissionLimits, followSymlinks: Bool = false
    ) throws(SubmissionError) -> Submission {
        let local = try LocalSubmission.read(paths, limits: limits, followSymlinks: followSymlinks)
        guard let entry = entry ?? local.namedFiles.first else { throw .noEntry(candidates: local.files.map(\.path)) }
        return try Submission(files: local.files, entry: entry, limits: limits)
    }
}
