@testable import DockerEngine

/// Docker Engine API calls only the tests make (to set up, inspect and tear down what they check): kept out of
/// `DockerClient`, whose public API is what coderunner itself uses.
extension DockerClient {
    /// `GET /_ping`: cheap reachability check.
    public func ping() async throws {
        let response = try await call("GET", "/_ping")
        try check(response, path: "/_ping")
    }

    /// `POST /images/create?fromSrc=-`: creates an image from a root filesystem tarball (like `docker import`).
    public func imageImport(tar: [UInt8], repository: String, tag: String, progress: (@Sendable (String) -> Void)? = nil)
        async throws
    {
        let request = DockerHTTPRequest(
            method: "POST", path: "/images/create", query: [("fromSrc", "-"), ("repo", repository), ("tag", tag)],
            headers: [("Content-Type", "application/x-tar")], body: tar)
        let response = try await transport.send(request, timeout: nil, onLine: Self.progressLine(progress ?? { _ in }))
        try check(response, path: "/images/create")
        if let error = response.streamError {
            throw DockerError.api(status: response.status, message: error, path: "/images/create")
        }
    }

    /// `POST /containers/{id}/kill`. Killing a container that is not running throws `.api(status: 409, ...)`.
    public func containerKill(_ id: String, signal: String = "KILL") async throws {
        let path = "/containers/\(pathSegment(id))/kill"
        try check(try await call("POST", path, query: [("signal", signal)]), path: path)
    }

    /// `POST /containers/{id}/wait`: waits (without timeout) until the condition holds and returns the exit code.
    /// Conditions: "not-running" (default), "next-exit", "removed".
    public func containerWait(_ id: String, condition: String = "not-running") async throws -> Int {
        let path = "/containers/\(pathSegment(id))/wait"
        let request = DockerHTTPRequest(method: "POST", path: path, query: [("condition", condition)])
        let response = try await transport.send(request, timeout: nil)
        let wait = try decode(WaitResponse.self, from: response, path: path)
        if let message = wait.error?.message, !message.isEmpty {
            throw DockerError.api(status: response.status, message: message, path: path)
        }
        return wait.statusCode
    }

    /// `PUT /containers/{id}/archive?path=`: extracts a tar archive into the container at `path` (which must exist).
    /// Note that Docker writes into the container's own filesystem: a tmpfs mounted over `path` hides the files.
    public func putArchive(_ id: String, path: String, tar: [UInt8]) async throws {
        let apiPath = "/containers/\(pathSegment(id))/archive"
        let request = DockerHTTPRequest(
            method: "PUT", path: apiPath, query: [("path", path)], headers: [("Content-Type", "application/x-tar")], body: tar)
        try check(try await transport.send(request, timeout: requestTimeout), path: apiPath)
    }

    /// `GET /exec/{id}/json`.
    public func execInspect(_ execID: String) async throws -> ExecInspect {
        let path = "/exec/\(pathSegment(execID))/json"
        return try await decode(ExecInspect.self, from: call("GET", path), path: path)
    }
}
