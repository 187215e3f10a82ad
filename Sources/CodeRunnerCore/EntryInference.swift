/// Which language and which entry file a set of files means when the user did not say: `coderunner run DIR` and a
/// `serve` run without `entry`. One place, so the CLI and the server choose alike (docs/cli-run.md describes the rules).
public struct EntryChoice: Sendable, Equatable {
    public var runtime: Runtime
    public var entry: String
    /// Set when several files could have been the entry and a rule picked one; shown to the user so the choice is visible.
    public var note: String?
}

public enum EntryInferenceError: Error, Equatable, CustomStringConvertible {
    /// No file has an extension any runtime knows.
    case noSourceFiles(known: [String])
    /// Source files of more than one language; language name → its files.
    case severalLanguages([String: [String]])
    /// The language was given but none of the files is one of its sources.
    case noSourceFilesFor(language: String, extensions: [String])
    /// Several files could be the entry and no rule picks one.
    case severalEntries(candidates: [String])
    case runtime(RuntimeError)

    public var description: String { message(languageOption: "--lang", entryOption: "--entry") }

    /// The message, naming the options (CLI) or message fields (server) that settle the question.
    public func message(languageOption: String, entryOption: String) -> String {
        switch self {
        case .noSourceFiles(let known):
            return "no source file among the files (extensions known: \(known.joined(separator: " "))); "
                + "add one, or name the language with \(languageOption) and the entry file with \(entryOption)"
        case .severalLanguages(let byLanguage):
            let list = byLanguage.keys.sorted().map { language in
                let files = byLanguage[language] ?? []
                let shown = files.prefix(3).joined(separator: ", ") + (files.count > 3 ? ", …" : "")
                return "\(language) (\(shown))"
            }
            return "the files are in several languages: \(list.joined(separator: "; ")); "
                + "choose one with \(languageOption) LANGUAGE or \(entryOption) FILE"
        case .noSourceFilesFor(let language, let extensions):
            return "no \(language) source file (\(extensions.joined(separator: " "))) among the files; check \(languageOption)"
        case .severalEntries(let candidates):
            let shown = candidates.prefix(6).joined(separator: ", ") + (candidates.count > 6 ? ", …" : "")
            return "several files could be the entry (\(shown)); name one with \(entryOption) FILE"
        case .runtime(let error):
            return error.description
        }
    }
}

public enum EntryInference {
    /// Chooses the runtime and entry. `language` and `entry` are what the user gave (either may be nil).
    /// With `firstWhenAmbiguous` (the server, whose files arrive in the client's order) several candidates resolve to
    /// the first one instead of failing, as `entry` defaulted to the first file before.
    public static func choose(
        files: [SubmittedFile], catalog: RuntimeCatalog, language: String?, entry: String?, firstWhenAmbiguous: Bool = false
    ) throws(EntryInferenceError) -> EntryChoice {
        if let entry {
            let normalized = entry.hasPrefix("./") ? String(entry.dropFirst(2)) : entry
            do throws(RuntimeError) {
                let runtime = if let language { try catalog.runtime(named: language) } else { try catalog.runtime(forFile: normalized) }
                return EntryChoice(runtime: runtime, entry: normalized, note: nil)
            } catch { throw .runtime(error) }
        }
        let runtime = try self.runtime(of: files, catalog: catalog, language: language)
        let extensions = runtime.manifest.extensions
        let sources = files.filter { extensions.contains(FilePath.extensionWithDot($0.path).lowercased()) }
        guard !sources.isEmpty else { throw .noSourceFilesFor(language: runtime.language, extensions: extensions) }
        do {
            let (entry, note) = try self.entry(among: sources, language: runtime.language, extensions: extensions)
            return EntryChoice(runtime: runtime, entry: entry, note: note)
        } catch {
            guard firstWhenAmbiguous, case .severalEntries(let candidates) = error, let first = candidates.first else { throw error }
            return EntryChoice(
                runtime: runtime, entry: first,
                note: "several files could be the entry (\(candidates.joined(separator: ", "))); running the first, \(first)")
        }
    }

    /// The one language among the files' extensions (files no runtime knows are data and do not count).
    public static func runtime(of files: [SubmittedFile], catalog: RuntimeCatalog, language: String?) throws(EntryInferenceError) -> Runtime {
        if let language {
            do { return try catalog.runtime(named: language) } catch { throw .runtime(error) }
        }
        var byLanguage: [String: [String]] = [:]
        var runtimes: [String: Runtime] = [:]
        for file in files {
            guard let runtime = try? catalog.runtime(forFile: file.path) else { continue }
            byLanguage[runtime.language, default: []].append(file.path)
            runtimes[runtime.language] = runtime
        }
        guard byLanguage.count <= 1 else { throw .severalLanguages(byLanguage) }
        guard let only = runtimes.values.first else { throw .noSourceFiles(known: catalog.runtimes.flatMap(\.manifest.extensions)) }
        return only
    }

    /// The entry among one language's source files: the only one; else the only one with a `main`; else the
    /// conventional name (`main.py`, `index.js`, …) at the top; else the only top-level one (with a note).
    static func entry(among sources: [SubmittedFile], language: String, extensions: [String]) throws(EntryInferenceError) -> (String, String?) {
        if sources.count == 1 { return (sources[0].path, nil) }
        let withMain = sources.filter { definesMain($0.contents, language: language) }
        if withMain.count == 1 { return (withMain[0].path, nil) }
        let candidates = (withMain.isEmpty ? sources : withMain).map(\.path)
        for name in conventionalNames(language: language, extensions: extensions) where candidates.contains(name) {
            // Several files with a main is a real ambiguity the convention settles: say so. Plain modules next to
            // main.py are not.
            let note = withMain.count > 1 ? "several files have a main (\(candidates.joined(separator: ", "))); running \(name)" : nil
            return (name, note)
        }
        let topLevel = candidates.filter { !$0.contains("/") }
        if topLevel.count == 1 {
            let what = withMain.count > 1 ? "several files have a main" : "several files could be the entry"
            return (topLevel[0], "\(what) (\(candidates.joined(separator: ", "))); running \(topLevel[0]), the only one at the top")
        }
        throw .severalEntries(candidates: candidates)
    }

    /// Entry file names by convention, most usual first; a runtime without a list here gets `main.<ext>`.
    static func conventionalNames(language: String, extensions: [String]) -> [String] {
        switch language {
        case "python": return ["main.py", "__main__.py", "app.py"]
        case "javascript": return ["index.js", "main.js", "index.mjs", "main.mjs", "index.cjs", "main.cjs", "app.js"]
        case "java": return ["Main.java"]
        case "cpp": return ["main.cpp", "main.cc", "main.cxx", "main.c"]
        default: return extensions.map { "main" + $0 }
        }
    }

    /// Whether a source file declares a program entry point: Java's `static void main(`, C/C++'s `int main(` at the
    /// start of a line, Python's `if __name__ == "__main__"`. A textual check: good enough to pick among a project's files.
    static func definesMain(_ contents: [UInt8], language: String) -> Bool {
        let pattern: String
        switch language {
        case "java": pattern = #"\bstatic\b[^;{}=]*\bvoid\s+main\s*\("#
        case "cpp": pattern = #"(?m)^[ \t]*(?:int|void|auto|signed)\s+main\s*\("#
        case "python": pattern = #"__name__\s*==\s*['"]__main__['"]"#
        default: return false
        }
        let text = String(decoding: contents, as: UTF8.self)
        guard text.contains("main"), let regex = try? Regex(pattern) else { return false }
        return text.contains(regex)
    }
}

extension LocalSubmission {
    /// `coderunner run`'s choice: `--entry` if given; else the first file named on the command line (the first with an
    /// extension a runtime knows, unless `--lang` is given); else, for folders, the inferred entry.
    public func choose(catalog: RuntimeCatalog, language: String?, entry: String?) throws(EntryInferenceError) -> EntryChoice {
        if entry == nil, let first = namedFiles.first(where: { language != nil || (try? catalog.runtime(forFile: $0)) != nil }) ?? namedFiles.first {
            return try EntryInference.choose(files: files, catalog: catalog, language: language, entry: first)
        }
        return try EntryInference.choose(files: files, catalog: catalog, language: language, entry: entry)
    }
}
