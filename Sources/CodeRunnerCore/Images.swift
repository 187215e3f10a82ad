/// Builds the runtime images through the engine. An image is rebuilt only when its inputs changed:
/// the hash of the runtime folder and the agent binary is stored as an image label and compared.
public struct RuntimeImages: Sendable {
    public let engine: any ContainerEngine
    /// Base image for the Dockerfiles' `ARG BASE` (a debootstrap import when no registry is reachable).
    public let baseImage: String?
    public let agentBinaryPath: String

    /// Read once: every runtime's context includes it, and it is 10 MB.
    let agentBinary: [UInt8]?

    public init(engine: any ContainerEngine, baseImage: String?, agentBinaryPath: String) {
        self.engine = engine
        self.baseImage = baseImage
        self.agentBinaryPath = agentBinaryPath
        self.agentBinary = FileSystem.readFile(agentBinaryPath, limit: 256 << 20)
    }

    public enum State: String, Sendable, Codable { case current, outdated, missing }

    public enum ImageError: Error, CustomStringConvertible {
        case agentMissing(String)
        case unreadable(String)
        public var description: String {
            switch self {
            case .agentMissing(let path):
                return "the in-container agent binary is missing at \(path); build it with ./setup.sh (or set CODERUNNER_AGENT)"
            case .unreadable(let path):
                return "cannot read \(path)"
            }
        }
    }

    /// The build context: every file of the runtime folder plus the agent binary.
    public func context(for runtime: Runtime) throws(ImageError) -> [SubmittedFile] {
        var paths: [String] = []
        collect(runtime.directory, relative: "", into: &paths)
        var files: [SubmittedFile] = []
        for relative in paths.sorted() {
            let absolute = runtime.directory + "/" + relative
            guard let bytes = FileSystem.readFile(absolute, limit: 256 << 20) else { throw .unreadable(absolute) }
            files.append(SubmittedFile(path: relative, contents: bytes, executable: FileSystem.isExecutable(absolute)))
        }
        guard let agent = agentBinary else { throw .agentMissing(agentBinaryPath) }
        files.append(SubmittedFile(path: "coderunner-agent", contents: agent, executable: true))
        return files
    }

    func collect(_ directory: String, relative: String, into paths: inout [String]) {
        for name in FileSystem.listDirectory(directory + (relative.isEmpty ? "" : "/" + relative)) {
            let child = relative.isEmpty ? name : relative + "/" + name
            switch FileSystem.kind(directory + "/" + child) {
            case .file: paths.append(child)
            case .directory: collect(directory, relative: child, into: &paths)
            default: break
            }
        }
    }

    /// A stable fingerprint of the build inputs (FNV-1a, two seeds: change detection, not security).
    public static func inputsHash(_ files: [SubmittedFile], baseImage: String?) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x8422_2325_cbf2_9ce4
        func mix(_ bytes: [UInt8]) {
            // Eight bytes per step: the agent binary is 10 MB and this runs on every `runtimes`/`images build`.
            bytes.withUnsafeBytes { raw in
                var index = 0
                while index + 8 <= raw.count {
                    let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    a = (a ^ word) &* 0x100_0000_01b3
                    b = (b ^ word.byteSwapped) &* 0x100_0000_01b3 &+ 1
                    index += 8
                }
                while index < raw.count {
                    a = (a ^ UInt64(raw[index])) &* 0x100_0000_01b3
                    b = (b ^ UInt64(raw[index])) &* 0x100_0000_01b3 &+ 1
                    index += 1
                }
            }
            a = (a ^ 0xff) &* 0x100_0000_01b3
        }
        mix(Array((baseImage ?? "").utf8))
        for file in files.sorted(by: { $0.path < $1.path }) {
            mix(Array(file.path.utf8))
            mix(file.contents)
            mix(file.executable ? [1] : [0])
        }
        return hex(a) + hex(b)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public func state(of runtime: Runtime) async throws -> State {
        guard let image = try await engine.image(runtime.image) else { return .missing }
        let expected = Self.inputsHash(try context(for: runtime), baseImage: baseImage)
        return image.labels[ResourceLabel.inputsHash] == expected ? .current : .outdated
    }

    /// Builds the image unless it is current (or `force`). Returns whether a build ran.
    @discardableResult
    public func build(_ runtime: Runtime, force: Bool, progress: @escaping @Sendable (String) -> Void) async throws -> Bool {
        let files = try context(for: runtime)
        let hash = Self.inputsHash(files, baseImage: baseImage)
        if !force, let image = try await engine.image(runtime.image), image.labels[ResourceLabel.inputsHash] == hash {
            return false
        }
        var buildArgs: [String: String] = [:]
        if let baseImage { buildArgs["BASE"] = baseImage }
        try await engine.buildImage(
            ImageBuildRequest(
                contextFiles: files, tag: runtime.image, buildArgs: buildArgs,
                labels: [ResourceLabel.inputsHash: hash, ResourceLabel.language: runtime.language]),
            progress: progress)
        return true
    }
}
