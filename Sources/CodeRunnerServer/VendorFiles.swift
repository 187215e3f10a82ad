import FoundationEssentials
import Hummingbird

#if canImport(Glibc)
import Glibc
#endif

/// Read-only access to JavaScript libraries that Debian installs under `/usr/share/javascript` (`libjs-codemirror`), so
/// the web page uses them without a CDN and without copies of them in this repository: `GET /vendor/<package>/<path>`
/// answers the regular file `<path>` inside the package's folder, and 404 for anything else (a name outside the known
/// packages, `..`, hidden names, odd characters, a folder, a symlink that leads out of the folder, a missing file).
/// The page loads them only when present and falls back to its own plain editor otherwise.
enum VendorFiles {
    /// The packages served, by the name used in the route.
    static let packages: [String: String] = [
        "codemirror": "/usr/share/javascript/codemirror"
    ]

    /// Larger files are refused (the biggest CodeMirror file is about 400 KB).
    static let maxFileBytes = 4 << 20

    /// The path's components when it is a plain relative path of safe names, else nil: no empty path, no `.` or `..`
    /// components, no hidden names, only letters, digits, `.`, `-`, `_` and `/` (no `%`, `\`, NUL).
    static func safeComponents(_ path: Substring) -> [Substring]? {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !components.isEmpty, components.count <= 16 else { return nil }
        for component in components {
            guard !component.hasPrefix("."), component.utf8.count <= 128 else { return nil }
            for byte in component.utf8 {
                let allowed =
                    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".")
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                guard allowed else { return nil }
            }
        }
        return components
    }

    /// The real path of `relative` inside `root` when it is a regular file there after every symlink is resolved
    /// (a link inside the folder to another file inside it is fine; one that leads out is not), else nil.
    static func resolve(root: String, relative: Substring) -> String? {
        guard let components = safeComponents(relative), let realRoot = realPath(root) else { return nil }
        guard let real = realPath(realRoot + "/" + components.joined(separator: "/")), real.hasPrefix(realRoot + "/") else {
            return nil
        }
        var info = stat()
        guard stat(real, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return real
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The Content-Type by extension (what a browser needs to run a script or apply a style sheet).
    static func contentType(for path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let ext = name.contains(".") ? String(name.split(separator: ".").last ?? "").lowercased() : ""
        switch ext {
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json", "map": return "application/json"
        case "html", "htm": return "text/html; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "woff2": return "font/woff2"
        case "woff": return "font/woff"
        case "txt", "md": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }

    /// The file's bytes, or nil when it cannot be read or is too large.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > maxFileBytes { return nil }
        }
    }

    /// The answer to `GET /vendor/<package>/<path>` for a request path such as `/vendor/codemirror/lib/codemirror.js`.
    static func response(path: String, packages: [String: String] = packages) -> Response {
        let parts = path.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count == 3, parts[0] == "vendor", let root = packages[String(parts[1])],
            let file = resolve(root: root, relative: parts[2]), let bytes = read(file)
        else {
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "not found\n")))
        }
        var headers = HTTPFields()
        headers[.contentType] = contentType(for: file)
        headers[.cacheControl] = "public, max-age=3600"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// `/favicon.ico`: a small SVG (browsers accept SVG whatever the name), so the browser's own request is answered.
    static let faviconSVG = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2c5bd1"/>\
        <path d="M5 4l6 4-6 4z" fill="#fff"/></svg>
        """

    static func favicon() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "image/svg+xml"
        headers[.cacheControl] = "public, max-age=86400"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: faviconSVG)))
    }
}
