import FoundationEssentials
import Logging
import NIOCore
import NIOPosix

/// A Docker Engine API client over SwiftNIO. Works with Podman's Docker-compatible API too: paths are unversioned,
/// so each engine answers with its own current API version.
///
/// Every method throws `DockerError` values (or `CancellationError` when the calling task is cancelled).
/// JSON calls time out after `requestTimeout`; streaming calls (build, import, wait, exec output) do not.
public struct DockerClient: Sendable {
    public let host: DockerHost
    public let requestTimeout: Duration
    let transport: DockerTransport
    let logger: Logger

    public init(host: DockerHost = .default, requestTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "docker")) {
        self.host = host
        self.requestTimeout = requestTimeout
        self.logger = logger
        self.transport = DockerTransport(host: host, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    // MARK: system

    /// `GET /version`.
    public func version() async throws -> DockerVersion {
        try await decode(DockerVersion.self, from: call("GET", "/version"), path: "/version")
    }

    /// `GET /info`.
    public func systemInfo() async throws -> DockerSystemInfo {
        try await decode(DockerSystemInfo.self, from: call("GET", "/info"), path: "/info")
    }

    // MARK: images

    /// `GET /images/{name}/json`; nil when the image does not exist locally.
    public func imageInspect(_ name: String) async throws -> DockerImage? {
        let path = "/images/\(pathSegment(name))/json"
        let response = try await call("GET", path)
        if response.status == 404 { return nil }
        return try decode(DockerImage.self, from: response, path: path)
    }

    /// `POST /build` with a tar build context (containing the Dockerfile). Build output lines go to `progress` as they
    /// arrive; an error reported by the build throws `.buildFailed` with the build's own message.
    public func imageBuild(
        context tar: [UInt8], tag: String, buildArgs: [String: String] = [:], labels: [String: String] = [:],
        dockerfile: String = "Dockerfile", pull: Bool = false, progress: @escaping @Sendable (String) -> Void
    ) async throws {
        var query: [(String, String)] = [("t", tag), ("dockerfile", dockerfile), ("rm", "true"), ("forcerm", "true")]
        if !buildArgs.isEmpty { query.append(("buildargs", try jsonString(buildArgs))) }
        if !labels.isEmpty { query.append(("labels", try jsonString(labels))) }
        if pull { query.append(("pull", "true")) }
        let request = DockerHTTPRequest(
            method: "POST", path: "/build", query: query, headers: [("Content-Type", "application/x-tar")], body: tar)
        let response = try await transport.send(request, timeout: nil, onLine: Self.progressLine(progress))
        try check(response, path: "/build")
        if let error = response.streamError { throw DockerError.buildFailed(error) }
    }

    /// `DELETE /images/{name}`. A missing image is not an error (the goal, no image, is reached).
    public func imageRemove(_ name: String, force: Bool = false) async throws {
        let path = "/images/\(pathSegment(name))"
        let response = try await call("DELETE", path, query: [("force", force ? "true" : "false")])
        if response.status == 404 { return }
        try check(response, path: path)
    }

    // MARK: containers

    /// `POST /containers/create`; returns the new container's id. A missing image throws `.imageNotFound`.
    public func containerCreate(name: String? = nil, _ config: ContainerCreateRequest) async throws -> String {
        let path = "/containers/create"
        let response = try await call("POST", path, query: name.map { [("name", $0)] } ?? [], json: config)
        if response.status == 404 {
            let error = Self.apiError(status: response.status, body: response.body, path: path)
            if case .api(_, let message, _) = error, message.lowercased().contains("image") {
                throw DockerError.imageNotFound(config.image)
            }
            throw error
        }
        return try decode(IDResponse.self, from: response, path: path).id
    }

    /// `POST /containers/{id}/start`. Starting a running container is not an error.
    public func containerStart(_ id: String) async throws {
        let path = "/containers/\(pathSegment(id))/start"
        let response = try await call("POST", path)
        if response.status == 304 { return }
        try check(response, path: path)
    }

    /// `POST /containers/{id}/rename?name=`. Docker serializes renames of one container and refuses a rename to the name
    /// it already has, so of several callers renaming the same container to the same new name exactly one succeeds.
    public func containerRename(_ id: String, to name: String) async throws {
        let path = "/containers/\(pathSegment(id))/rename"
        try check(try await call("POST", path, query: [("name", name)]), path: path)
    }

    /// `GET /containers/{id}/json`; nil when the container does not exist.
    public func containerInspect(_ id: String) async throws -> ContainerInspect? {
        let path = "/containers/\(pathSegment(id))/json"
        let response = try await call("GET", path)
        if response.status == 404 { return nil }
        return try decode(ContainerInspect.self, from: response, path: path)
    }

    /// `GET /containers/json`, filtered by labels (`"key=value"` or just `"key"`; all must match).
    public func containerList(all: Bool = true, labelFilters: [String] = []) async throws -> [ContainerSummary] {
        var query: [(String, String)] = [("all", all ? "true" : "false")]
        if !labelFilters.isEmpty { query.append(("filters", try jsonString(["label": labelFilters]))) }
        return try await decode([ContainerSummary].self, from: call("GET", "/containers/json", query: query), path: "/containers/json")
    }

    /// `DELETE /containers/{id}` (with its anonymous volumes). A container that is already gone is not an error; one
    /// whose removal is already in progress (auto-remove: its main process just exited) is waited for, up to
    /// `requestTimeout`, so that it is gone when this returns, as for any other removal.
    public func containerRemove(_ id: String, force: Bool = true) async throws {
        let path = "/containers/\(pathSegment(id))"
        let response = try await call("DELETE", path, query: [("force", force ? "true" : "false"), ("v", "true")])
        if response.status == 404 { return }
        if response.status == 409, case .api(_, let message, _) = Self.apiError(status: 409, body: response.body, path: path),
            message.contains("already in progress")
        {
            let waitPath = path + "/wait"
            let wait = DockerHTTPRequest(method: "POST", path: waitPath, query: [("condition", "removed")])
            _ = try? await transport.send(wait, timeout: requestTimeout)  // 404 when it is gone already
            return
        }
        try check(response, path: path)
    }

    // MARK: exec

    /// `POST /containers/{id}/exec`; returns the exec id.
    public func execCreate(_ containerID: String, _ config: ExecCreateRequest) async throws -> String {
        let path = "/containers/\(pathSegment(containerID))/exec"
        return try await decode(IDResponse.self, from: call("POST", path, json: config), path: path).id
    }

    /// `POST /exec/{id}/start`, hijacked: returns once the engine has switched the connection to the raw stream.
    /// Pass the same `tty` the exec was created with (a TTY exec's output is not multiplexed).
    public func execStart(_ execID: String, tty: Bool = false) async throws -> ExecStream {
        let path = "/exec/\(pathSegment(execID))/start"
        let request = DockerHTTPRequest(
            method: "POST", path: path,
            headers: [("Content-Type", "application/json"), ("Connection", "Upgrade"), ("Upgrade", "tcp")],
            body: try jsonBytes(ExecStartBody(detach: false, tty: tty)))
        let stream = try await hijack(request, path: path, tty: tty)
        logger.debug("docker exec attached", metadata: ["exec": "\(execID)"])
        return stream
    }

    /// `POST /containers/{id}/attach` with stdin, stdout and stderr, hijacked: the container's main process's stdio,
    /// from now on (no logs replayed). Made before `containerStart`, it sees everything the process writes.
    public func containerAttach(_ id: String, tty: Bool = false) async throws -> ExecStream {
        let path = "/containers/\(pathSegment(id))/attach"
        let query = [("stream", "1"), ("stdin", "1"), ("stdout", "1"), ("stderr", "1")]
        let request = DockerHTTPRequest(
            method: "POST", path: path + "?" + query.map { "\($0)=\($1)" }.joined(separator: "&"),
            headers: [("Connection", "Upgrade"), ("Upgrade", "tcp")], body: [])
        return try await hijack(request, path: path, tty: tty)
    }

    /// Sends a request whose answer switches the connection to a raw stream (exec start, attach).
    func hijack(_ request: DockerHTTPRequest, path: String, tty: Bool) async throws -> ExecStream {
        try await transport.hijack(request, path: path, timeout: requestTimeout, tty: tty)
    }

    // MARK: networks

    /// `POST /networks/create`; returns the network id. An overlapping subnet throws `.subnetOverlaps`, so an allocator
    /// can skip to the next subnet.
    public func networkCreate(_ request: NetworkCreateRequest) async throws -> String {
        let path = "/networks/create"
        let response = try await call("POST", path, json: request)
        if !(200..<300).contains(response.status) {
            let error = Self.apiError(status: response.status, body: response.body, path: path)
            if case .api(_, let message, _) = error {
                let lower = message.lowercased()
                if lower.contains("overlap") || lower.contains("already used") { throw DockerError.subnetOverlaps(message) }
            }
            throw error
        }
        return try decode(IDResponse.self, from: response, path: path).id
    }

    /// `GET /networks/{id}`; nil when the network does not exist.
    public func networkInspect(_ idOrName: String) async throws -> DockerNetwork? {
        let path = "/networks/\(pathSegment(idOrName))"
        let response = try await call("GET", path)
        if response.status == 404 { return nil }
        return try decode(DockerNetwork.self, from: response, path: path)
    }

    /// `GET /networks`, filtered by labels (`"key=value"` or `"key"`; all must match).
    public func networkList(labelFilters: [String] = []) async throws -> [DockerNetwork] {
        var query: [(String, String)] = []
        if !labelFilters.isEmpty { query.append(("filters", try jsonString(["label": labelFilters]))) }
        return try await decode([DockerNetwork].self, from: call("GET", "/networks", query: query), path: "/networks")
    }

    /// `DELETE /networks/{id}`. A network that is already gone is not an error.
    public func networkRemove(_ idOrName: String) async throws {
        let path = "/networks/\(pathSegment(idOrName))"
        let response = try await call("DELETE", path)
        if response.status == 404 { return }
        try check(response, path: path)
    }

    // MARK: plumbing

    struct ExecStartBody: Encodable {
        var detach: Bool
        var tty: Bool
        enum CodingKeys: String, CodingKey {
            case detach = "Detach"
            case tty = "Tty"
        }
    }

    func call(_ method: String, _ path: String, query: [(String, String)] = []) async throws -> DockerHTTPResponse {
        try await transport.send(DockerHTTPRequest(method: method, path: path, query: query), timeout: requestTimeout)
    }

    func call(_ method: String, _ path: String, query: [(String, String)] = [], json: some Encodable) async throws
        -> DockerHTTPResponse
    {
        let request = DockerHTTPRequest(
            method: method, path: path, query: query, headers: [("Content-Type", "application/json")],
            body: try jsonBytes(json))
        return try await transport.send(request, timeout: requestTimeout)
    }

    func check(_ response: DockerHTTPResponse, path: String) throws {
        guard response.isSuccess else { throw Self.apiError(status: response.status, body: response.body, path: path) }
    }

    func decode<T: Decodable>(_ type: T.Type, from response: DockerHTTPResponse, path: String) throws -> T {
        try check(response, path: path)
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw DockerError.protocolError("cannot decode the answer to \(path): \(error)")
        }
    }

    /// Builds `.api` from Docker's `{"message": ...}` body (falling back to the raw text).
    static func apiError(status: Int, body: [UInt8], path: String) -> DockerError {
        if let decoded = try? JSONDecoder().decode(DockerErrorBody.self, from: Data(body)) {
            return .api(status: status, message: decoded.message, path: path)
        }
        let text = String(decoding: body.prefix(500), as: UTF8.self).trimmedSpaces
            .trimmingTrailingNewlines
        return .api(status: status, message: text.isEmpty ? "HTTP \(status)" : text, path: path)
    }

    /// Turns progress-stream JSON lines into progress text; returns the error text of an error line.
    static func progressLine(_ progress: @escaping @Sendable (String) -> Void) -> @Sendable ([UInt8]) -> String? {
        { line in
            guard let message = try? JSONDecoder().decode(ProgressMessage.self, from: Data(line)) else {
                progress(String(decoding: line, as: UTF8.self))
                return nil
            }
            if let error = message.errorDetail?.message ?? message.error {
                return error.trimmedSpaces.trimmingTrailingNewlines
            }
            if let stream = message.stream {
                progress(stream)
            } else if let status = message.status {
                progress(message.progress.map { "\(status) \($0)\n" } ?? "\(status)\n")
            }
            return nil
        }
    }

    func jsonBytes(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw DockerError.protocolError("cannot encode request: \(error)")
        }
    }

    func jsonString(_ value: some Encodable) throws -> String {
        String(decoding: try jsonBytes(value), as: UTF8.self)
    }
}

extension StringProtocol {
    /// Trims ASCII spaces and tabs (all HTTP needs; avoids pulling in CharacterSet).
    var trimmedSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
