import Foundation
import Testing

@testable import DockerEngine

@Suite struct TarArchiveTests {
    /// Extracts with the host's tar and returns the extraction directory.
    static func extract(_ archive: [UInt8]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tar-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tarFile = dir.appendingPathComponent("archive.tar")
        try Data(archive).write(to: tarFile)
        let out = dir.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/tar")
        process.arguments = ["-x", "--no-same-owner", "-f", tarFile.path, "-C", out.path]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        process.waitUntilExit()
        let errorText = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "tar failed: \(errorText)")
        #expect(errorText.isEmpty, "tar warned: \(errorText)")
        return out
    }

    @Test func extractsWithSystemTar() throws {
        let longDir = (0..<12).map { "directory\($0)" }.joined(separator: "/")  // 130+ bytes: needs the ustar prefix
        let veryLong = String(repeating: "x", count: 120) + "/" + String(repeating: "y", count: 150) + ".txt"  // needs PAX
        let binary = (0..<5000).map { UInt8($0 % 256) }
        let entries: [TarEntry] = [
            .directory("src"),
            .file("src/main.py", Array("print('hi')\n".utf8)),
            .file("run.sh", Array("#!/bin/sh\necho ok\n".utf8), mode: 0o755),
            .file("empty.txt", []),
            .file("blob.bin", binary),
            .file("\(longDir)/file-with-a-long-name.txt", Array("deep".utf8)),
            .file(veryLong, Array("pax".utf8)),
            .file("ünïcødé.txt", Array("utf8".utf8)),
        ]
        let archive = try TarArchive.make(entries)
        #expect(archive.count % 512 == 0)
        let out = try Self.extract(archive)
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        for entry in entries where !entry.isDirectory {
            let data = try Data(contentsOf: out.appendingPathComponent(entry.path))
            #expect(Array(data) == entry.contents, "\(entry.path)")
        }
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("src").path, isDirectory: &isDir) && isDir.boolValue)
        let attributes = try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent("run.sh").path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o755)
    }

    @Test func listsOwnersAndModes() throws {
        let archive = try TarArchive.make([.file("a.txt", [1], mode: 0o600, uid: 1000, gid: 1000)])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tar-list-\(UUID().uuidString).tar")
        try Data(archive).write(to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/tar")
        process.arguments = ["-tvf", dir.path, "--numeric-owner"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(listing.hasPrefix("-rw------- 1000/1000"), "\(listing)")
    }

    @Test func rejectsBadPaths() {
        #expect(throws: DockerError.self) { try TarArchive.make([.file("/etc/passwd", [])]) }
        #expect(throws: DockerError.self) { try TarArchive.make([.file("", [])]) }
        #expect(throws: DockerError.self) { try TarArchive.make([.file("dir/", [1])]) }
    }
}
