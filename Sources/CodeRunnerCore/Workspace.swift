/// Files in a session container's work dir, through `coderunner-agent files` (the work dir is a tmpfs, which Docker's
/// archive API cannot write into). Used by the shell's :put, :get and :files.
public struct Workspace: Sendable {
    public let engine: any ContainerEngine
    public let containerID: String

    public init(engine: any ContainerEngine, containerID: String) {
        self.engine = engine
        self.containerID = containerID
    }

    public struct Entry: Sendable, Equatable {
        public var path: String
        public var size: Int
    }

    func call(_ arguments: [String], input: [UInt8]? = nil) async throws(EngineError) -> [UInt8] {
        let connection = try await engine.exec(containerID, argv: [CodeRunner.agentPath, "files"] + arguments)
        if let input, !input.isEmpty { try await connection.write(input) }
        await connection.closeWrite()
        var output: [UInt8] = []
        do {
            for try await chunk in connection.stdout { output += chunk }
        } catch {
            throw .streamLost("\(error)")
        }
        let diagnostics = await connection.diagnostics()
        await connection.close()
        if !diagnostics.isEmpty {
            throw .api(diagnostics.split(separator: "\n").last.map { String($0.replacing("coderunner-agent: ", with: "")) } ?? diagnostics)
        }
        return output
    }

    public func put(_ path: String, contents: [UInt8]) async throws(EngineError) {
        _ = try await call(["put", path], input: contents)
    }

    public func get(_ path: String) async throws(EngineError) -> [UInt8] {
        try await call(["get", path])
    }

    public func list() async throws(EngineError) -> [Entry] {
        let text = String(decoding: try await call(["list"]), as: UTF8.self)
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 1)
            guard parts.count == 2, let size = Int(parts[0]) else { return nil }
            return Entry(path: String(parts[1]), size: size)
        }
    }
}
