import FoundationEssentials

/// Where the Docker (or Podman) engine listens. Only transports that need no TLS are supported,
/// because the engine is expected to be local.
public enum DockerHost: Sendable, Equatable, CustomStringConvertible {
    case unixSocket(String)
    case tcp(host: String, port: Int)

    /// The engine's conventional socket.
    public static let defaultSocketPath = "/var/run/docker.sock"
    public static let `default` = DockerHost.unixSocket(defaultSocketPath)

    /// NIO refuses unix socket paths longer than this (sockaddr_un's sun_path minus the NUL).
    static let maxUnixPathBytes = 103

    public var description: String {
        switch self {
        case .unixSocket(let path): return "unix://\(path)"
        case .tcp(let host, let port): return host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        }
    }

    /// The value sent as the HTTP `Host` header. Docker ignores it for unix sockets, but HTTP/1.1 requires one.
    var httpHostHeader: String {
        switch self {
        case .unixSocket: return "docker"
        case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    /// Reads `DOCKER_HOST` the way the docker CLI does (`unix:///path`, `tcp://host:port`); unset or empty means the
    /// default socket. TLS (`DOCKER_TLS_VERIFY`) and other schemes (ssh, npipe, fd) are rejected with a message saying what works.
    public static func fromEnvironment(
        _ env: [String: String] = ProcessInfo.processInfo.environment
    ) throws(DockerError) -> DockerHost {
        guard let raw = env["DOCKER_HOST"]?.trimmedSpaces, !raw.isEmpty else {
            return .default
        }
        if let tls = env["DOCKER_TLS_VERIFY"], !tls.isEmpty, tls != "0", raw.hasPrefix("tcp://") {
            throw .invalidHost(
                "DOCKER_HOST=\(raw) with DOCKER_TLS_VERIFY set needs TLS, which coderunner does not support; "
                    + "use a local unix socket (unix:///var/run/docker.sock) or a plain tcp://host:port")
        }
        return try parse(raw)
    }

    /// Parses one `DOCKER_HOST`-style URL.
    public static func parse(_ raw: String) throws(DockerError) -> DockerHost {
        let supported = "supported forms are unix:///path/to/docker.sock and tcp://host:port (without TLS)"
        if raw.hasPrefix("unix://") {
            let path = String(raw.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw .invalidHost("DOCKER_HOST=\(raw) needs an absolute socket path, e.g. unix:///var/run/docker.sock")
            }
            guard path.utf8.count <= maxUnixPathBytes else {
                throw .invalidHost(
                    "the socket path in DOCKER_HOST=\(raw) is longer than \(maxUnixPathBytes) bytes; use a shorter path or a symlink")
            }
            return .unixSocket(path)
        }
        if raw.hasPrefix("tcp://") {
            var rest = Substring(raw.dropFirst("tcp://".count))
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            guard !rest.isEmpty, !rest.contains("/") else {
                throw .invalidHost("DOCKER_HOST=\(raw) must look like tcp://host:port")
            }
            let host: Substring
            var portText: Substring?
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else {
                    throw .invalidHost("DOCKER_HOST=\(raw) has an unterminated IPv6 address; write tcp://[::1]:2375")
                }
                host = rest[rest.index(after: rest.startIndex)..<close]
                let after = rest[rest.index(after: close)...]
                if after.hasPrefix(":") {
                    portText = after.dropFirst()
                } else if !after.isEmpty {
                    throw .invalidHost("DOCKER_HOST=\(raw) must look like tcp://[ipv6]:port")
                }
            } else if let colon = rest.lastIndex(of: ":") {
                host = rest[..<colon]
                portText = rest[rest.index(after: colon)...]
            } else {
                host = rest
            }
            guard !host.isEmpty else { throw .invalidHost("DOCKER_HOST=\(raw) has no host name") }
            var port = 2375
            if let portText {
                guard let value = Int(portText), (1...65535).contains(value) else {
                    throw .invalidHost("DOCKER_HOST=\(raw) has an invalid port '\(portText)'")
                }
                port = value
            }
            return .tcp(host: String(host), port: port)
        }
        if raw.hasPrefix("/") {
            // Not a URL, but an obvious socket path: accept it rather than make the user guess the syntax.
            return try parse("unix://" + raw)
        }
        let scheme = raw.split(separator: ":", maxSplits: 1).first.map(String.init) ?? raw
        throw .invalidHost("DOCKER_HOST=\(raw) uses '\(scheme)', which coderunner does not support; \(supported)")
    }
}
