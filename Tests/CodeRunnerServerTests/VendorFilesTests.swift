import Foundation
import Hummingbird
import Testing

@testable import CodeRunnerServer

/// `/vendor/<package>/<path>`: only regular files inside the package's folder, whatever the path says (no Docker).
@Suite("vendor files")
struct VendorFilesTests {
    /// A folder `root` with `lib/a.js`, `style.css`, a link inside (`alias.js` → `lib/a.js`), links out of it (to a file
    /// and to a folder beside it), a hidden file and a sub-folder; and `secret.txt` beside `root`.
    static func makeTree() throws -> (base: String, root: String) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vendor-\(UUID().uuidString)").path
        let root = base + "/root"
        let files = FileManager.default
        try files.createDirectory(atPath: root + "/lib", withIntermediateDirectories: true)
        try files.createDirectory(atPath: base + "/outside", withIntermediateDirectories: true)
        try "var a = 1;\n".write(toFile: root + "/lib/a.js", atomically: true, encoding: .utf8)
        try "body{}\n".write(toFile: root + "/style.css", atomically: true, encoding: .utf8)
        try ".\n".write(toFile: root + "/.hidden.js", atomically: true, encoding: .utf8)
        try "secret\n".write(toFile: base + "/secret.txt", atomically: true, encoding: .utf8)
        try "secret\n".write(toFile: base + "/outside/b.js", atomically: true, encoding: .utf8)
        try files.createSymbolicLink(atPath: root + "/alias.js", withDestinationPath: "lib/a.js")
        try files.createSymbolicLink(atPath: root + "/leak.txt", withDestinationPath: "../secret.txt")
        try files.createSymbolicLink(atPath: root + "/abs.txt", withDestinationPath: base + "/secret.txt")
        try files.createSymbolicLink(atPath: root + "/out", withDestinationPath: base + "/outside")
        return (base, root)
    }

    @Test func safeComponentsRefuseTraversalAndOddNames() {
        #expect(VendorFiles.safeComponents("lib/codemirror.js") == ["lib", "codemirror.js"])
        #expect(VendorFiles.safeComponents("mode//clike/clike.js") == ["mode", "clike", "clike.js"])
        #expect(VendorFiles.safeComponents("addon/edit/matchbrackets.js")?.count == 3)
        for bad in [
            "", "/", "..", "../x.js", "lib/../../etc/passwd", "lib/./a.js", ".hidden", "lib/.git/config", "a%2e%2e/b",
            "%2e%2e/secret", "a\\b.js", "a b.js", "a\0b.js", "caf\u{e9}.js", "a?b", "a:b",
        ] {
            #expect(VendorFiles.safeComponents(bad[...]) == nil, "accepted \(bad.debugDescription)")
        }
        #expect(VendorFiles.safeComponents(String(repeating: "a/", count: 20)[...]) == nil)
    }

    @Test func resolveServesRegularFilesInsideOnly() throws {
        let (base, root) = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(VendorFiles.resolve(root: root, relative: "lib/a.js")?.hasSuffix("/root/lib/a.js") == true)
        #expect(VendorFiles.resolve(root: root, relative: "style.css") != nil)
        // A link to a file inside the folder is fine (Debian's codemirror.js → lib/codemirror.js is one).
        #expect(VendorFiles.resolve(root: root, relative: "alias.js")?.hasSuffix("/root/lib/a.js") == true)
        #expect(VendorFiles.resolve(root: root, relative: "leak.txt") == nil)
        #expect(VendorFiles.resolve(root: root, relative: "abs.txt") == nil)
        #expect(VendorFiles.resolve(root: root, relative: "out/b.js") == nil)
        #expect(VendorFiles.resolve(root: root, relative: "lib") == nil)  // a folder
        #expect(VendorFiles.resolve(root: root, relative: "missing.js") == nil)
        #expect(VendorFiles.resolve(root: root, relative: ".hidden.js") == nil)
        #expect(VendorFiles.resolve(root: root, relative: "../secret.txt") == nil)
        #expect(VendorFiles.resolve(root: base + "/none", relative: "a.js") == nil)
    }

    @Test func responsesAndContentTypes() throws {
        let (base, root) = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let packages = ["demo": root]
        let ok = VendorFiles.response(path: "/vendor/demo/lib/a.js", packages: packages)
        #expect(ok.status == .ok)
        #expect(ok.headers[.contentType] == "text/javascript; charset=utf-8")
        #expect(VendorFiles.response(path: "/vendor/demo/style.css", packages: packages).headers[.contentType] == "text/css; charset=utf-8")
        for bad in [
            "/vendor/demo/../secret.txt", "/vendor/demo/leak.txt", "/vendor/demo/out/b.js", "/vendor/other/lib/a.js", "/vendor/demo",
            "/vendor/demo/", "/vendor/demo/lib", "/vendor/demo/%2e%2e/secret.txt",
        ] {
            #expect(VendorFiles.response(path: bad, packages: packages).status == .notFound, "served \(bad)")
        }
        #expect(VendorFiles.contentType(for: "x/y.svg") == "image/svg+xml")
        #expect(VendorFiles.contentType(for: "README") == "application/octet-stream")
        #expect(VendorFiles.favicon().status == .ok)
        #expect(VendorFiles.packages["codemirror"] == "/usr/share/javascript/codemirror")
    }
}

/// The page says whether CodeMirror can be loaded, and carries no reference to anything outside the server.
@Suite("web page")
struct WebPageTests {
    @Test func pageTellsWhetherCodeMirrorIsThere() {
        let with = WebPage.html(codemirror: true)
        let without = WebPage.html(codemirror: false)
        #expect(with.contains("const VENDOR = {\"codemirror\": true};"))
        #expect(without.contains("const VENDOR = {\"codemirror\": false};"))
        #expect(without.contains("plain editor: the server has no CodeMirror"))
        for page in [with, without] {
            #expect(!page.contains("http://") && !page.contains("https://"), "the page must work offline")
            #expect(page.hasPrefix("<!doctype html>") && page.hasSuffix("</html>\n"))
        }
    }
}
