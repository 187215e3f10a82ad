/// Everything the Docker client can fail with. Each description tells the user what to do next,
/// because these messages end up verbatim on the terminal of someone who just wanted to run code.
public enum DockerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The engine could not be reached at all (socket missing, connection refused, ...).
    case unreachable(host: String, reason: String)
    /// The engine answered with an error status; `message` is Docker's own `{"message": ...}` text.
    case api(status: Int, message: String, path: String)
    /// The image a container should be created from does not exist locally (no registry is assumed).
    case imageNotFound(String)
    /// Docker refused a network because its subnet overlaps another network or a host route.
    case subnetOverlaps(String)
    /// An image build reported an error (the message is the build's own error line).
    case buildFailed(String)
    /// A request did not finish within the client's request timeout.
    case timeout(path: String)
    /// The engine (or something pretending to be it) sent bytes we cannot make sense of.
    case protocolError(String)
    /// `DOCKER_HOST` (or an explicit host) uses a form this client does not support.
    case invalidHost(String)
    /// A tar archive could not be built from the given entries (bad path, file too large, ...).
    case invalidArchive(String)

    public var description: String {
        switch self {
        case .unreachable(let host, let reason):
            return "cannot reach the Docker engine at \(host) (\(reason)). "
                + "Start it with `sudo systemctl start docker` or `sudo dockerd &`, or set DOCKER_HOST."
        case .api(let status, let message, let path):
            return "Docker engine error \(status) on \(path): \(message)"
        case .imageNotFound(let name):
            return "image \(name) is not available locally; run `coderunner images build` (or ./setup.sh) to create it."
        case .subnetOverlaps(let message):
            return "Docker refused the network because its subnet overlaps an existing one (\(message)). "
                + "Remove stale networks with `coderunner net gc` or configure a different subnet pool."
        case .buildFailed(let message):
            return "image build failed: \(message). Check the Dockerfile and the build output above."
        case .timeout(let path):
            return "the Docker engine did not answer \(path) in time; check that dockerd is healthy (`docker info`) and not overloaded."
        case .protocolError(let message):
            return "unexpected answer from the Docker engine: \(message). Is DOCKER_HOST pointing at a Docker-compatible API?"
        case .invalidHost(let message):
            return "invalid Docker host: \(message)"
        case .invalidArchive(let message):
            return "cannot build the upload archive: \(message)"
        }
    }
}
