import FoundationEssentials

/// One language runtime, as described by `runtimes/<folder>/runtime.json`.
/// The manifest is the single source of truth for extensions, commands and default limits,
/// so adding a language is a folder with a Dockerfile and this file, and no Swift change.
public struct RuntimeManifest: Codable, Sendable, Equatable {
    public struct Limits: Codable, Sendable, Equatable {
        public var memory: String
        public var cpus: Double
        public var timeout: String
        public var compileTimeout: String?
        public var pids: Int
    }

    public var language: String
    public var displayName: String
    public var aliases: [String]
    public var extensions: [String]
    public var image: String
    public var compile: String?
    public var run: String
    public var service: [String]?
    /// The kernel driver for `coderunner session` (a persistent interpreter hosted by the agent); nil if the language has none.
    public var kernel: [String]?
    public var limits: Limits
    public var example: String
    public var exampleOutput: String
}

/// A manifest plus where it was loaded from (the folder is the image's build context).
public struct Runtime: Sendable, Equatable {
    public var manifest: RuntimeManifest
    /// The folder that holds the manifest and the Dockerfile.
    public var directory: String
    /// Image to use, after configuration overrides (`runtime.<lang>.image`).
    public var image: String

    public var language: String { manifest.language }
}

public enum RuntimeError: Error, Equatable, CustomStringConvertible {
    case noRuntimesDirectory(searched: [String])
    case badManifest(path: String, reason: String)
    case unknownLanguage(String, known: [String])
    case unknownExtension(file: String, known: [String])

    public var description: String {
        switch self {
        case .noRuntimesDirectory(let searched):
            return "cannot find the runtimes folder (looked in \(searched.joined(separator: ", "))); set CODERUNNER_RUNTIMES_DIR or run ./setup.sh"
        case .badManifest(let path, let reason):
            return "runtime manifest \(path) is invalid: \(reason)"
        case .unknownLanguage(let name, let known):
            return "unknown language '\(name)'; available: \(known.joined(separator: ", ")) (see `coderunner runtimes`)"
        case .unknownExtension(let file, let known):
            return "cannot tell the language of '\(file)' from its extension; pass --lang (extensions known: \(known.joined(separator: " ")))"
        }
    }
}

/// All runtimes known to this installation, looked up by name, alias or file extension.
public struct RuntimeCatalog: Sendable {
    public private(set) var runtimes: [Runtime]

    public init(runtimes: [Runtime]) {
        self.runtimes = runtimes.sorted { $0.language < $1.language }
    }

    /// An image for containers that are never started (network creation markers): Python's, as the one most likely
    /// built, else the first runtime's.
    public var markerImage: String? { (runtimes.first { $0.language == "python" } ?? runtimes.first)?.image }

    /// Loads every `*/runtime.json` under `directory`.
    public static func load(from directory: String, imageOverrides: [String: String] = [:]) throws(RuntimeError) -> RuntimeCatalog {
        let folders = FileSystem.listDirectory(directory).sorted()
        var runtimes: [Runtime] = []
        for folder in folders {
            let folderPath = directory + "/" + folder
            let manifestPath = folderPath + "/runtime.json"
            guard let data = FileSystem.readFile(manifestPath) else { continue }
            do {
                let manifest = try JSONDecoder().decode(RuntimeManifest.self, from: Data(data))
                let image = imageOverrides[manifest.language] ?? manifest.image
                runtimes.append(Runtime(manifest: manifest, directory: folderPath, image: image))
            } catch {
                throw .badManifest(path: manifestPath, reason: "\(error)")
            }
        }
        return RuntimeCatalog(runtimes: runtimes)
    }

    public var languageNames: [String] { runtimes.map(\.language) }

    public func runtime(named name: String) throws(RuntimeError) -> Runtime {
        let key = name.lowercased()
        if let match = runtimes.first(where: { $0.language == key || $0.manifest.aliases.contains(key) }) {
            return match
        }
        throw .unknownLanguage(name, known: languageNames)
    }

    /// The runtime for a file name, by its extension (`.cc` -> cpp).
    public func runtime(forFile path: String) throws(RuntimeError) -> Runtime {
        let ext = FilePath.extensionWithDot(path).lowercased()
        if !ext.isEmpty, let match = runtimes.first(where: { $0.manifest.extensions.contains(ext) }) {
            return match
        }
        throw .unknownExtension(file: path, known: runtimes.flatMap(\.manifest.extensions))
    }

    /// Where the runtimes folder is: explicit setting, then next to the installed binary, then the source checkout.
    public static func locateDirectory(explicit: String?, executablePath: String?) throws(RuntimeError) -> String {
        var candidates: [String] = []
        if let explicit, !explicit.isEmpty { candidates.append(explicit) }
        if let executablePath {
            let binDir = FilePath.directory(of: executablePath)
            candidates.append(binDir + "/../share/coderunner/runtimes")
            candidates.append(binDir + "/../../../runtimes")  // .build/<config>/coderunner in a checkout
        }
        candidates.append(sourceCheckoutRuntimes)
        for candidate in candidates where FileSystem.isDirectory(candidate + "/python") || FileSystem.hasManifests(candidate) {
            return FilePath.normalize(candidate)
        }
        throw .noRuntimesDirectory(searched: candidates)
    }

    /// The checkout this binary was built from (useful for `swift run` and tests).
    static let sourceCheckoutRuntimes: String = {
        let file = #filePath  // .../Sources/CodeRunnerCore/Runtime.swift
        let sources = FilePath.directory(of: FilePath.directory(of: FilePath.directory(of: file)))
        return sources + "/runtimes"
    }()
}
