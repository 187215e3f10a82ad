/// `coderunner run main.cpp` sends main.cpp only: when the build or the program then fails on a header or module that
/// sits next to the entry on the user's disk, the compiler's message ("util.h: No such file or directory") does not say
/// why. This reads the error for the missing name and, when a file of that name is in the entry's folder and was not
/// sent, says so and how to send it. Only names are compared; no file the program's output names is read.
public enum MissingFileHint {
    /// The files the error says are missing, as names to look for next to the entry.
    static func missingNames(in stderr: String, language: String) -> [String] {
        var names: [String] = []
        for line in stderr.split(separator: "\n").map(String.init) {
            switch language {
            case "cpp":
                // main.cpp:1:10: fatal error: util.h: No such file or directory
                if let range = line.firstRange(of: "fatal error: "), line.hasSuffix("No such file or directory") {
                    let rest = line[range.upperBound...]
                    if let colon = rest.firstIndex(of: ":") { names.append(String(rest[..<colon])) }
                }
            case "python":
                // ModuleNotFoundError: No module named 'util'
                if let name = quoted(after: "No module named '", in: line) {
                    let top = name.split(separator: ".").first.map(String.init) ?? name
                    names += [top + ".py", top]
                }
            case "javascript":
                // Error: Cannot find module './util'
                if let name = quoted(after: "Cannot find module '", in: line), name.hasPrefix("./") || name.hasPrefix("../") {
                    let base = String(name.split(separator: "/").last ?? "")
                    names += base.contains(".") ? [base] : [base + ".js", base]
                }
            case "java":
                // Main.java:3: error: cannot find symbol ... symbol:   class Util
                let trimmed = String(line.drop { $0 == " " || $0 == "\t" })
                if trimmed.hasPrefix("symbol:"), let className = trimmed.split(separator: " ").last, trimmed.contains("class ") {
                    names.append(className + ".java")
                }
            default:
                break
            }
        }
        // The names come from the program's own output: only source files of the language are ever suggested, never a
        // dotfile or a file of another kind (a program printing "fatal error: .env: No such file" must not get it sent).
        let sourceExtensions = Self.sourceExtensions[language] ?? []
        var seen = Set<String>()
        return names.filter { name in
            guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), seen.insert(name).inserted else { return false }
            guard let dot = name.lastIndex(of: ".") else { return language == "python" || language == "javascript" }  // a package folder
            return sourceExtensions.contains(String(name[name.index(after: dot)...]).lowercased())
        }
    }

    static let sourceExtensions: [String: Set<String>] = [
        "cpp": ["h", "hh", "hpp", "hxx", "inc", "ipp", "tpp", "c", "cc", "cpp", "cxx"],
        "python": ["py"],
        "javascript": ["js", "mjs", "cjs", "json"],
        "java": ["java"],
    ]

    static func quoted(after marker: String, in line: String) -> String? {
        guard let start = line.firstRange(of: marker) else { return nil }
        let rest = line[start.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }

    /// The hint, or nil: `stderr` is what the build or program wrote, `sent` the submitted paths, `folderEntries` the
    /// names in the entry's folder on the user's disk, `folder` that folder as the user would type it.
    public static func hint(stderr: String, language: String, entry: String, sent: [String], folderEntries: Set<String>, folder: String) -> String? {
        let sentNames = Set(sent.map { String($0.split(separator: "/").last ?? "") })
        let present = missingNames(in: stderr, language: language).filter { folderEntries.contains($0) && !sentNames.contains($0) }
        guard let first = present.first else { return nil }
        let sentList = sent.joined(separator: ", ")
        return "only \(sentList) \(sent.count == 1 ? "was" : "were") sent; \(first) is next to \(entry) but was not: "
            + "run the folder (coderunner run \(folder)) or name every file (coderunner run \(sent.joined(separator: " ")) \(present.joined(separator: " ")))"
    }
}
