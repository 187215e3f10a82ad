import FoundationEssentials

public enum NotebookError: Error, CustomStringConvertible {
    case unreadable(String)
    case invalid(String)
    case unsupportedLanguage(String)

    public var description: String {
        switch self {
        case .unreadable(let path): return "cannot read notebook \(path)"
        case .invalid(let reason): return "not a valid Jupyter notebook (nbformat 4): \(reason)"
        case .unsupportedLanguage(let language): return "the notebook's kernel language is \(language); coderunner runs Python notebooks"
        }
    }
}

/// Runs a Jupyter notebook's code cells in order in one Python kernel and fills in their outputs (nbformat 4).
public struct NotebookRunner: Sendable {
    public struct CellReport: Sendable {
        public var index: Int
        public var status: CellResult.Status
        public var images: [(name: String, data: [UInt8])]
        /// What the cell wrote on each stream (`run --json` reports it per cell).
        public var stdout: [UInt8] = []
        public var stderr: [UInt8] = []
    }

    /// Streams each cell's output to `onOutput`, returns the notebook with outputs and the per-cell results.
    /// Every cell runs even after an error, like the session shell; the caller decides the exit code.
    public static func run(
        notebook data: [UInt8], runner: CodeRunner, runtime: Runtime, limits: RunLimits, imageBaseName: String,
        onOutput: @escaping @Sendable (ProgramStream, [UInt8]) async -> Void,
        onImage: @escaping @Sendable (String, [UInt8]) async -> Void
    ) async throws -> (notebook: [UInt8], cells: [CellReport]) {
        var root: [String: JSONValue]
        do {
            guard case .object(let object) = try JSONGuard.decode(JSONValue.self, from: data) else {
                throw NotebookError.invalid("the top level is not an object")
            }
            root = object
        } catch let error as NotebookError {
            throw error
        } catch {
            throw NotebookError.invalid("\(error)")
        }
        guard case .array(var cells)? = root["cells"] else { throw NotebookError.invalid("no cells") }
        if let language = root["metadata"]?["kernelspec"]?["language"]?.stringValue ?? root["metadata"]?["language_info"]?["name"]?.stringValue,
            language.lowercased() != "python"
        {
            throw NotebookError.unsupportedLanguage(language)
        }
        let collector = CellCollector()
        let kernel = try await KernelSession.start(
            runner: runner, session: "nb-" + String(SessionName.ephemeral().dropFirst(4)), runtime: runtime, limits: limits, processOwned: true
        ) { event in
            switch event {
            case .output(_, let stream, let bytes):
                await collector.add(stream: stream, bytes: bytes)
                await onOutput(stream, bytes)
            case .display(_, KernelDisplay.tracebackMIME, let data):
                await collector.add(stream: .stderr, bytes: data)
                await onOutput(.stderr, data)
            case .display(_, let mime, let data):
                await collector.add(mime: mime, data: data)
            case .exited(let reason):
                await collector.add(stream: .stderr, bytes: Array("coderunner: \(reason)\n".utf8))
            }
        }
        var reports: [CellReport] = []
        var executionCount = 0
        func cleanUp() async {
            await kernel.shutdown()
            try? await runner.endSession(kernel.session)
        }
        for index in cells.indices {
            guard case .object(var cell) = cells[index], cell["cell_type"]?.stringValue == "code" else { continue }
            let source = cell["source"]?.joinedText ?? ""
            executionCount += 1
            await collector.reset()
            let result: CellResult
            if source.trimmingWhitespace().isEmpty {
                result = CellResult(cell: 0, status: .ok, wallMilliseconds: 0)
            } else {
                do {
                    result = try await kernel.execute(source, timeout: limits.timeout)
                } catch {
                    await cleanUp()
                    throw error
                }
            }
            let (outputs, images) = await collector.outputs(
                failed: !result.succeeded, status: result.status, imageBaseName: imageBaseName + "_cell\(index + 1)")
            for image in images { await onImage(image.name, image.data) }
            cell["outputs"] = .array(outputs)
            cell["execution_count"] = .number(Double(executionCount))
            cells[index] = .object(cell)
            let (stdout, stderr) = await collector.streams()
            reports.append(CellReport(index: index, status: result.status, images: images, stdout: stdout, stderr: stderr))
        }
        await cleanUp()
        root["cells"] = .array(cells)
        if root["nbformat"] == nil { root["nbformat"] = .number(4) }
        if root["nbformat_minor"] == nil { root["nbformat_minor"] = .number(5) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let encoded = try encoder.encode(JSONValue.object(root))
        return (Array(encoded) + [10], reports)
    }
}

/// Gathers one cell's stream and rich outputs in arrival order, merging adjacent text of the same stream.
actor CellCollector {
    enum Item {
        case stream(ProgramStream, [UInt8])
        case display(String, [UInt8])
    }
    private var items: [Item] = []

    func reset() { items = [] }

    func add(stream: ProgramStream, bytes: [UInt8]) {
        if case .stream(let last, let existing)? = items.last, last == stream {
            items[items.count - 1] = .stream(stream, existing + bytes)
        } else {
            items.append(.stream(stream, bytes))
        }
    }

    func add(mime: String, data: [UInt8]) { items.append(.display(mime, data)) }

    /// Everything the cell wrote on stdout and on stderr.
    func streams() -> (stdout: [UInt8], stderr: [UInt8]) {
        var out: [UInt8] = []
        var err: [UInt8] = []
        for case .stream(let stream, let bytes) in items {
            if stream == .stdout { out += bytes } else { err += bytes }
        }
        return (out, err)
    }

    func outputs(failed: Bool, status: CellResult.Status, imageBaseName: String) -> ([JSONValue], [(name: String, data: [UInt8])]) {
        var outputs: [JSONValue] = []
        var images: [(name: String, data: [UInt8])] = []
        var errorText = ""
        for item in items {
            switch item {
            case .stream(let stream, let bytes):
                let text = String(decoding: bytes, as: UTF8.self)
                if failed && stream == .stderr {
                    errorText += text
                    continue
                }
                outputs.append(.object(["output_type": .string("stream"), "name": .string(stream.rawValue), "text": JSONValue.lines(text)]))
            case .display(let mime, let data):
                var bundle = ["text/plain": JSONValue.string(mime.hasPrefix("image/") ? "<Figure>" : "<\(mime)>")]
                bundle[mime] = Self.mimeBundleValue(mime: mime, data: data)  // replaces the placeholder for text/plain
                outputs.append(.object(["output_type": .string("display_data"), "metadata": .object([:]), "data": .object(bundle)]))
                if mime == "image/png" { images.append((imageBaseName + "_\(images.count + 1).png", data)) }
            }
        }
        if failed {
            let lines = errorText.split(separator: "\n").map(String.init)
            let last = lines.last { !$0.trimmingWhitespace().isEmpty } ?? status.rawValue
            let parts = last.split(separator: ":", maxSplits: 1)
            let name = parts.count == 2 && !parts[0].contains(" ") ? String(parts[0]) : (status == .ok ? "Error" : status.rawValue)
            let value = parts.count == 2 && !parts[0].contains(" ") ? parts[1].trimmingWhitespace() : last
            outputs.append(
                .object([
                    "output_type": .string("error"), "ename": .string(name), "evalue": .string(value),
                    "traceback": .array(lines.map { .string($0) }),
                ]))
        }
        return (outputs, images)
    }

    /// A display's data as nbformat 4 stores it: JSON types as JSON, binary types base64, everything else as text.
    /// The type and bytes come from user code (`KernelDisplay`), so none of them is assumed to be well-formed.
    static func mimeBundleValue(mime: String, data: [UInt8]) -> JSONValue {
        let type = mime.lowercased()
        if type.hasPrefix("application/") && (type.hasSuffix("/json") || type.hasSuffix("+json")) {
            if let value = try? JSONGuard.decode(JSONValue.self, from: data) { return value }
            return .string(String(decoding: data, as: UTF8.self))  // still valid nbformat ("any type")
        }
        let binary =
            (type.hasPrefix("image/") && type != "image/svg+xml") || type.hasPrefix("audio/") || type.hasPrefix("video/")
            || type == "application/pdf" || type == "application/octet-stream"
        return binary ? .string(Data(data).base64EncodedString()) : JSONValue.lines(String(decoding: data, as: UTF8.self))
    }
}
