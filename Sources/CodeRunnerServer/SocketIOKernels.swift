import CodeRunnerCore

/// The original web client's notebook events (`kernel:*`), exactly as it sends and expects them: one kernel per
/// notebook, named by a `kernelId` that only the connection that started it may use.
extension SocketIOEncoder {
    struct Started: Encodable {
        var notebookId: String?
        var kernelId: String
    }
    struct ExecutionStarted: Encodable {
        var kernelId: String
        var cellId: String?
        var executionCount: Int
    }
    struct Output: Encodable {
        var kernelId: String
        var cellId: String?
        /// `stdout`, `stderr`, `error` (a traceback or why the cell stopped, as text), `image` (base64 PNG), `html`.
        var type: String
        var content: String
    }
    struct Status: Encodable {
        var kernelId: String
        /// `starting`, `idle`, `busy` or `dead`; the client marks the running cell finished at `idle`.
        var status: String
    }
    struct CellComplete: Encodable {
        var kernelId: String
        var cellId: String?
    }
    struct Kernel: Encodable {
        var kernelId: String
    }
    struct Failure: Encodable {
        var kernelId: String?
        var notebookId: String?
        var cellId: String?
        var error: String
    }

    static func event(_ name: String, _ payload: some Encodable) -> String {
        event(name, JSON.encode(payload))
    }

    static func status(_ kernel: KernelRef, _ status: String) -> String {
        event("kernel:status", Status(kernelId: kernel.id, status: status))
    }

    func kernel(_ notice: KernelNotice) -> [String] {
        switch notice {
        case .starting(let kernel):
            return [Self.status(kernel, "starting")]
        case .started(let kernel, _):
            return [Self.event("kernel:started", Started(notebookId: kernel.notebook, kernelId: kernel.id)), Self.status(kernel, "idle")]
        case .executing(let kernel, let cellRef, let count):
            return [
                Self.event("kernel:execution_started", ExecutionStarted(kernelId: kernel.id, cellId: cellRef, executionCount: count)),
                Self.status(kernel, "busy"),
            ]
        case .output(let kernel, _, let cellRef, let stream, let text):
            let type = stream == .stdout ? "stdout" : "stderr"
            return [Self.event("kernel:output", Output(kernelId: kernel.id, cellId: cellRef, type: type, content: text))]
        case .display(let kernel, _, let cellRef, let mime, let data):
            guard let (type, content) = Self.output(mime: mime, data: data) else { return [] }
            return [Self.event("kernel:output", Output(kernelId: kernel.id, cellId: cellRef, type: type, content: content))]
        case .result(let kernel, _, let cellRef, let status, _):
            var messages: [String] = []
            if let why = Self.explanation(status) {
                messages.append(Self.event("kernel:output", Output(kernelId: kernel.id, cellId: cellRef, type: "error", content: why)))
            }
            messages.append(Self.event("kernel:cell_complete", CellComplete(kernelId: kernel.id, cellId: cellRef)))
            messages.append(Self.status(kernel, "idle"))
            return messages
        case .interrupted(let kernel):
            return [Self.event("kernel:interrupted", Kernel(kernelId: kernel.id))]
        case .restarted(let kernel):
            return [Self.event("kernel:restarted", Kernel(kernelId: kernel.id)), Self.status(kernel, "idle")]
        case .exited(let kernel, let reason):
            return [
                Self.status(kernel, "dead"),
                Self.event("kernel:error", Failure(kernelId: kernel.id, notebookId: kernel.notebook, error: "the kernel died: \(reason)")),
            ]
        case .shutdown(let kernel):
            return [Self.event("kernel:shutdown_complete", Kernel(kernelId: kernel.id))]
        case .completions:
            return []  // the original client has no completion event
        case .failed(let kernelID, let notebook, let cellRef, let error):
            return [Self.event("kernel:error", Failure(kernelId: kernelID, notebookId: notebook, cellId: cellRef, error: error.message))]
        }
    }

    /// The client's output type for rich output; nil for types it cannot show (they reach native clients only).
    static func output(mime: String, data: String) -> (type: String, content: String)? {
        switch mime {
        case "image/png": return ("image", data)
        case "text/html": return ("html", data)
        case "text/plain": return ("stdout", data)
        case KernelDisplay.tracebackMIME: return ("error", data)
        case "image/jpeg", "image/gif", "image/webp": return ("html", "<img src=\"data:\(mime);base64,\(data)\">")
        case "image/svg+xml": return ("html", data)
        default: return nil
        }
    }

    /// Why a cell ended other than by finishing or raising (a raised error's traceback is already in its output).
    static func explanation(_ status: CellResult.Status) -> String? {
        switch status {
        case .ok, .error: return nil
        case .interrupted: return "KeyboardInterrupt: the cell was interrupted"
        case .timeout: return "the cell ran past its time limit and was stopped; the kernel keeps its state"
        case .outputLimit: return "the cell's output passed the server's output limit; it was stopped"
        case .kernelDied: return "the kernel died while the cell ran (memory limit or crash); the next cell starts a new one"
        }
    }
}

extension SocketIOConnection {
    static let notYourKernel = ProtocolError(code: "unauthorized", message: "Unauthorized: kernel does not belong to this session")

    /// `kernel:start {notebookId, language}`, then `kernel:execute {kernelId, cellId, code}`, `kernel:interrupt`,
    /// `kernel:restart`, `kernel:shutdown {kernelId}`. A kernelId of another connection is refused as not its own.
    static func handleKernelEvent(_ name: String, _ argument: JSONValue, session: ClientSession) async throws(ProtocolError) {
        if name == "kernel:start" {
            guard let notebook = argument["notebookId"]?.text, !notebook.isEmpty, notebook.utf8.count <= 256,
                let language = argument["language"]?.text
            else {
                throw ProtocolError(code: "bad-message", message: "kernel:start takes {notebookId, language}")
            }
            var files: [SubmittedFile] = []
            for file in argument["files"]?.array ?? [] {
                if let path = file["path"]?.text ?? file["name"]?.text, let content = file["content"]?.text {
                    files.append(SubmittedFile(path: path, contents: Array(content.utf8)))
                }
            }
            try await session.kernelStart(language: language, files: files, notebook: notebook)
            return
        }
        guard let kernelID = argument["kernelId"]?.text else {
            throw ProtocolError(code: "bad-message", message: "\(name) takes {kernelId\(name == "kernel:execute" ? ", cellId, code" : "")}")
        }
        guard await session.ownsKernel(kernelID) else { throw notYourKernel }
        switch name {
        case "kernel:execute":
            guard let code = argument["code"]?.text else {
                throw ProtocolError(code: "bad-message", message: "kernel:execute takes {kernelId, cellId, code}")
            }
            try await session.kernelExecute(kernelID: kernelID, code: code, ref: argument["cellId"]?.text)
        case "kernel:interrupt": try await session.kernelInterrupt(kernelID: kernelID)
        case "kernel:restart": try await session.kernelRestart(kernelID: kernelID)
        case "kernel:shutdown": await session.kernelShutdown(kernelID: kernelID)
        default:
            throw ProtocolError(
                code: "unknown-type",
                message: "unknown event '\(name)'; kernel events: kernel:start, kernel:execute, kernel:interrupt, kernel:restart, kernel:shutdown")
        }
    }
}
