/// A file as it will appear in the container's work dir.
public struct SubmittedFile: Sendable, Equatable {
    public var path: String
    public var contents: [UInt8]
    public var executable: Bool
    public init(path: String, contents: [UInt8], executable: Bool = false) {
        self.path = path
        self.contents = contents
        self.executable = executable
    }
}

public struct SubmissionLimits: Sendable, Equatable {
    public var maxFileBytes: UInt64
    public var maxFileCount: Int
    public var maxTotalBytes: UInt64
    public static let maxPathBytes = 1024
    public static let maxComponentBytes = 255

    public init(maxFileBytes: UInt64, maxFileCount: Int, maxTotalBytes: UInt64) {
        self.maxFileBytes = maxFileBytes
        self.maxFileCount = maxFileCount
        self.maxTotalBytes = maxTotalBytes
    }
}

public enum SubmissionError: Error, Equatable, CustomStringConvertible {
    case empty
    case missingFile(String)
    case unreadable(String)
    case badPath(String, reason: String)
    case duplicatePath(String)
    case fileTooLarge(String, size: UInt64, limit: UInt64)
    case tooManyFiles(count: Int, limit: Int)
    case tooManyFolders(limit: Int)
    case changedWhileReading(String)
    case tooLarge(total: UInt64, limit: UInt64)
    case entryNotInFiles(String)
    case noEntry(candidates: [String])
    /// `a` is a file and also the folder of `a/b`: both cannot exist in the work dir.
    case fileAndFolder(file: String, inside: String)
    case symlinkOutside(String, target: String, root: String)
    case brokenSymlink(String)
    case symlinkLoop(String)
    case specialFile(String, kind: String)

    public var description: String {
        switch self {
        case .empty:
            return "nothing to run: give at least one source file"
        case .missingFile(let path):
            return "no such file: \(path)"
        case .unreadable(let path):
            return "cannot read \(path); check its permissions"
        case .badPath(let path, let reason):
            return "refusing file name '\(path.debugDescription.dropFirst().dropLast())': \(reason); use a relative path inside the work dir"
        case .duplicatePath(let path):
            return "two files would both be uploaded as '\(path)'; rename one"
        case .fileTooLarge(let path, let size, let limit):
            return "\(path) is \(Quantity.formatBytes(size)), over the \(Quantity.formatBytes(limit)) limit per file (files.maxSize)"
        case .tooManyFiles(let count, let limit):
            return "\(count) files is over the limit of \(limit) per run (files.maxCount)"
        case .tooManyFolders(let limit):
            return
                "the submission has more than \(limit) folders to read (a folder reached through several symlinks counts each time); limit files.maxCount"
        case .changedWhileReading(let path):
            return
                "refusing \(path): it changed while the submission was read (a file or folder was replaced); run again on a tree nobody is changing"
        case .tooLarge(let total, let limit):
            return "the files add up to \(Quantity.formatBytes(total)), over the \(Quantity.formatBytes(limit)) limit per run (files.maxTotal)"
        case .entryNotInFiles(let entry):
            return "entry '\(entry)' is not among the submitted files"
        case .noEntry(let candidates):
            if candidates.isEmpty { return "no runnable file found; name the entry file with --entry" }
            return "several files could be the entry (\(candidates.prefix(5).joined(separator: ", "))); name one with --entry"
        case .fileAndFolder(let file, let inside):
            return "'\(file)' is a file, but '\(inside)' needs a folder of that name; rename one of them"
        case .symlinkOutside(let path, let target, let root):
            return
                "refusing \(path): it is a symlink to \(target), outside \(root); copy the file in, or pass --follow-symlinks if you trust the tree"
        case .brokenSymlink(let path):
            return "refusing \(path): it is a symlink to nothing; fix or remove it"
        case .symlinkLoop(let path):
            return "refusing \(path): it is a symlink to a folder that contains it (a loop); remove it"
        case .specialFile(let path, let kind):
            return "refusing \(path): it is a \(kind), not a regular file; only files, folders and symlinks to them can be submitted"
        }
    }
}

/// The files of one run and which one is the entry point. Built from local paths (CLI) or from a message (server);
/// either way every name is validated here before anything reaches a container.
public struct Submission: Sendable, Equatable {
    public var files: [SubmittedFile]
    public var entry: String

    public init(files: [SubmittedFile], entry: String, limits: SubmissionLimits) throws(SubmissionError) {
        guard !files.isEmpty else { throw .empty }
        guard files.count <= limits.maxFileCount else { throw .tooManyFiles(count: files.count, limit: limits.maxFileCount) }
        var seen: Set<String> = []
        var total: UInt64 = 0
        for file in files {
            try Self.validate(path: file.path)
            guard seen.insert(file.path).inserted else { throw .duplicatePath(file.path) }
            let size = UInt64(file.contents.count)
            guard size <= limits.maxFileBytes else { throw .fileTooLarge(file.path, size: size, limit: limits.maxFileBytes) }
            total += size
        }
        guard total <= limits.maxTotalBytes else { throw .tooLarge(total: total, limit: limits.maxTotalBytes) }
        for file in files {
            var folder = Substring(file.path)
            while let slash = folder.lastIndex(of: "/") {
                folder = folder[..<slash]
                if seen.contains(String(folder)) { throw .fileAndFolder(file: String(folder), inside: file.path) }
            }
        }
        let normalizedEntry = entry.hasPrefix("./") ? String(entry.dropFirst(2)) : entry
        guard seen.contains(normalizedEntry) else { throw .entryNotInFiles(entry) }
        self.files = files
        self.entry = normalizedEntry
    }

    /// A path is acceptable when it is relative, has no `.`/`..`/empty components, no NUL or control characters, and is not too long.
    public static func validate(path: String) throws(SubmissionError) {
        if path.isEmpty { throw .badPath(path, reason: "the name is empty") }
        if path.utf8.contains(0) { throw .badPath(path, reason: "it contains a NUL byte") }
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw .badPath(path, reason: "it contains control characters")
        }
        if path.hasPrefix("/") { throw .badPath(path, reason: "it is an absolute path") }
        if path.utf8.count > SubmissionLimits.maxPathBytes {
            throw .badPath(path, reason: "it is longer than \(SubmissionLimits.maxPathBytes) bytes")
        }
        if path.contains("\\") { throw .badPath(path, reason: "it contains a backslash") }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component == ".." { throw .badPath(path, reason: "it climbs out of the work dir with '..'") }
            if component.isEmpty || component == "." { throw .badPath(path, reason: "it has an empty or '.' component") }
            if component.utf8.count > SubmissionLimits.maxComponentBytes {
                throw .badPath(path, reason: "a component is longer than \(SubmissionLimits.maxComponentBytes) bytes")
            }
        }
    }

    static func commonFolder(_ folders: [String]) -> String {
        guard var common = folders.first else { return "/" }
        for folder in folders.dropFirst() {
            while common != "/" && !(folder == common || folder.hasPrefix(common + "/")) {
                common = FilePath.directory(of: common)
            }
        }
        return common
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
