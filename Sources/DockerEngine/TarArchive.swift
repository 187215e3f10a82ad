import FoundationEssentials

/// One file or directory of a tar archive.
public struct TarEntry: Sendable, Equatable {
    /// Relative path inside the archive ("src/main.py"); directories may end in "/".
    public var path: String
    public var contents: [UInt8]
    /// Permission bits, e.g. 0o644 (files) or 0o755 (directories, executables).
    public var mode: Int
    public var isDirectory: Bool
    /// Owner of the extracted file: Docker applies these when it extracts an archive into a container, so uploads
    /// for a non-root user must carry that user's ids.
    public var uid: Int
    public var gid: Int
    /// Modification time (Unix seconds).
    public var modificationTime: Int

    public init(
        path: String, contents: [UInt8] = [], mode: Int? = nil, isDirectory: Bool = false, uid: Int = 0, gid: Int = 0,
        modificationTime: Int? = nil
    ) {
        self.path = path
        self.contents = contents
        self.mode = mode ?? (isDirectory ? 0o755 : 0o644)
        self.isDirectory = isDirectory
        self.uid = uid
        self.gid = gid
        self.modificationTime = modificationTime ?? Int(Date().timeIntervalSince1970)
    }

    public static func file(_ path: String, _ contents: [UInt8], mode: Int = 0o644, uid: Int = 0, gid: Int = 0) -> TarEntry {
        TarEntry(path: path, contents: contents, mode: mode, uid: uid, gid: gid)
    }

    public static func directory(_ path: String, mode: Int = 0o755, uid: Int = 0, gid: Int = 0) -> TarEntry {
        TarEntry(path: path, mode: mode, isDirectory: true, uid: uid, gid: gid)
    }
}

/// Writes ustar archives (what `PUT /containers/{id}/archive` and `POST /build` take). Names that do not fit ustar's
/// 100-byte name + 155-byte prefix fields get a PAX extended header, which Docker and GNU/BSD tar understand.
public enum TarArchive {
    static let blockSize = 512

    public static func make(_ entries: [TarEntry]) throws(DockerError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.reduce(1024) { $0 + 1024 + $1.contents.count })
        for entry in entries {
            try append(entry, to: &out)
        }
        out += [UInt8](repeating: 0, count: blockSize * 2)
        return out
    }

    private static func append(_ entry: TarEntry, to out: inout [UInt8]) throws(DockerError) {
        var path = entry.path
        while path.hasPrefix("./") { path.removeFirst(2) }
        guard !path.isEmpty, !path.hasPrefix("/") else {
            throw .invalidArchive("path '\(entry.path)' must be relative and non-empty")
        }
        guard !path.utf8.contains(0) else { throw .invalidArchive("path '\(entry.path)' contains a NUL byte") }
        if entry.isDirectory {
            if !path.hasSuffix("/") { path += "/" }
            guard entry.contents.isEmpty else { throw .invalidArchive("directory '\(entry.path)' cannot have contents") }
        } else if path.hasSuffix("/") {
            throw .invalidArchive("file path '\(entry.path)' ends with '/'")
        }
        guard entry.contents.count < 0o77777777777 else {
            throw .invalidArchive("'\(entry.path)' is larger than 8 GiB")
        }
        guard (0...0o7777).contains(entry.mode) else { throw .invalidArchive("mode \(entry.mode) of '\(entry.path)' is invalid") }
        guard (0...0o7777777).contains(entry.uid), (0...0o7777777).contains(entry.gid) else {
            throw .invalidArchive("uid/gid of '\(entry.path)' out of range")
        }

        let pathBytes = Array(path.utf8)
        var name = pathBytes
        var prefix: [UInt8] = []
        if pathBytes.count > 100 {
            if let split = ustarSplit(pathBytes) {
                prefix = Array(pathBytes[..<split])
                name = Array(pathBytes[(split + 1)...])
            } else {
                // PAX header carrying the full path; the ustar name field gets a truncated fallback.
                let record = paxRecord(key: "path", value: pathBytes)
                var pax = header(
                    name: Array("PaxHeaders/\(pathBytes.count)".utf8), prefix: [], mode: 0o644, uid: 0, gid: 0,
                    size: record.count, mtime: entry.modificationTime, type: UInt8(ascii: "x"))
                pax += record
                pad(&pax)
                out += pax
                name = Array(pathBytes.suffix(100))
                while let first = name.first, first == UInt8(ascii: "/") { name.removeFirst() }
            }
        }
        out += header(
            name: name, prefix: prefix, mode: entry.mode, uid: entry.uid, gid: entry.gid,
            size: entry.isDirectory ? 0 : entry.contents.count, mtime: entry.modificationTime,
            type: entry.isDirectory ? UInt8(ascii: "5") : UInt8(ascii: "0"))
        if !entry.isDirectory {
            out += entry.contents
            pad(&out)
        }
    }

    /// Index of a "/" that splits the path into prefix (<= 155 bytes) and name (<= 100 bytes, non-empty).
    private static func ustarSplit(_ path: [UInt8]) -> Int? {
        let limit = min(155, path.count - 1)
        guard limit > 0 else { return nil }
        for i in stride(from: limit, through: 1, by: -1) where path[i] == UInt8(ascii: "/") {
            let nameLength = path.count - i - 1
            if nameLength > 0 && nameLength <= 100 { return i }
            if nameLength > 100 { return nil }
        }
        return nil
    }

    /// "<len> key=value\n" where len counts the whole record including its own digits.
    private static func paxRecord(key: String, value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [UInt8(ascii: "\n")]
        var length = body.count + 1
        while String(length).utf8.count + body.count != length { length = String(length).utf8.count + body.count }
        return Array(String(length).utf8) + body
    }

    private static func pad(_ bytes: inout [UInt8]) {
        let remainder = bytes.count % blockSize
        if remainder != 0 { bytes += [UInt8](repeating: 0, count: blockSize - remainder) }
    }

    private static func header(
        name: [UInt8], prefix: [UInt8], mode: Int, uid: Int, gid: Int, size: Int, mtime: Int, type: UInt8
    ) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (i, b) in bytes.prefix(width).enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            // width-1 zero-padded octal digits followed by NUL.
            let digits = String(value, radix: 8)
            let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
            put(Array(padded.utf8), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(uid, at: 108, width: 8)
        octal(gid, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(max(0, mtime), at: 136, width: 12)
        h[156] = type
        put(Array("ustar\u{0}00".utf8), at: 257, width: 8)
        put(prefix, at: 345, width: 155)
        // Checksum: sum of all header bytes with the checksum field itself counted as spaces.
        for i in 148..<156 { h[i] = UInt8(ascii: " ") }
        let sum = h.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8), at: 148, width: 6)
        h[154] = 0
        h[155] = UInt8(ascii: " ")
        return h
    }
}
