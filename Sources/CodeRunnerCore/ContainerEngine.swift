/// What the engine needs from a container engine. Docker's adapter lives in `CodeRunnerDocker`;
/// keeping NIO and Docker's JSON out of this module keeps the engine testable and replaceable (Podman speaks the same API).
public protocol ContainerEngine: Sendable {
    func info() async throws(EngineError) -> EngineInfo
    /// The CPUs and memory of the engine's host: limits above them cannot be met.
    func hostCapacity() async throws(EngineError) -> HostCapacity
    func image(_ name: String) async throws(EngineError) -> ImageInfo?
    func buildImage(_ request: ImageBuildRequest, progress: @escaping @Sendable (String) -> Void) async throws(EngineError)
    func removeImage(_ name: String) async throws(EngineError)

    func createNetwork(_ spec: NetworkSpec) async throws(EngineError) -> String
    func networks(labeled labels: [String]) async throws(EngineError) -> [NetworkInfo]
    func network(_ idOrName: String) async throws(EngineError) -> NetworkInfo?
    func removeNetwork(_ idOrName: String) async throws(EngineError)

    func createContainer(_ spec: ContainerSpec) async throws(EngineError) -> String
    func startContainer(_ id: String) async throws(EngineError)
    func containers(labeled labels: [String]) async throws(EngineError) -> [ContainerInfo]
    func removeContainer(_ id: String) async throws(EngineError)
    /// Renames a container; of concurrent renames of one container to one name, exactly one succeeds (claims use this).
    func renameContainer(_ id: String, to name: String) async throws(EngineError)

    /// Starts `argv` in the container with stdin, stdout and stderr attached.
    func exec(_ containerID: String, argv: [String]) async throws(EngineError) -> any ExecConnection
    /// Attaches to the stdin, stdout and stderr of the container's main process (made with `ContainerSpec.opensStdin`).
    /// Before the start, nothing the process writes is missed.
    func attach(_ containerID: String) async throws(EngineError) -> any ExecConnection
    /// Whether the container exists and runs (false when it is stopped, being removed or gone).
    func isRunning(_ containerID: String) async throws(EngineError) -> Bool
}

/// A running exec: the agent's stdout (its protocol) comes in, our messages go out on its stdin.
public protocol ExecConnection: Sendable {
    /// Chunks of the process's stdout; its stderr goes to `diagnostics`. Finishes when the process ends.
    var stdout: AsyncThrowingStream<[UInt8], any Error> { get }
    /// What the process wrote on stderr so far (agent diagnostics), for error messages.
    func diagnostics() async -> String
    func write(_ bytes: [UInt8]) async throws(EngineError)
    func closeWrite() async
    func close() async
}

public struct EngineInfo: Sendable, Equatable {
    public var version: String
    public var apiVersion: String
    public var os: String
    public var kernel: String
    public init(version: String, apiVersion: String, os: String, kernel: String) {
        self.version = version
        self.apiVersion = apiVersion
        self.os = os
        self.kernel = kernel
    }
}

public struct HostCapacity: Sendable, Equatable {
    public var cpus: Int
    public var memoryBytes: UInt64
    public init(cpus: Int, memoryBytes: UInt64) {
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }
}

public struct ImageInfo: Sendable, Equatable {
    public var id: String
    public var labels: [String: String]
    public var created: String
    public init(id: String, labels: [String: String], created: String) {
        self.id = id
        self.labels = labels
        self.created = created
    }
}

public struct ImageBuildRequest: Sendable {
    /// The build context; the adapter packs it as a tar stream.
    public var contextFiles: [SubmittedFile]
    public var tag: String
    public var buildArgs: [String: String]
    public var labels: [String: String]
    public init(contextFiles: [SubmittedFile], tag: String, buildArgs: [String: String], labels: [String: String]) {
        self.contextFiles = contextFiles
        self.tag = tag
        self.buildArgs = buildArgs
        self.labels = labels
    }
}

public struct NetworkSpec: Sendable, Equatable {
    public var name: String
    public var subnet: IPv4Network
    public var driver: String
    public var isInternal: Bool
    public var labels: [String: String]
    public init(name: String, subnet: IPv4Network, driver: String, isInternal: Bool, labels: [String: String]) {
        self.name = name
        self.subnet = subnet
        self.driver = driver
        self.isInternal = isInternal
        self.labels = labels
    }
}

public struct NetworkInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var subnets: [String]
    public var labels: [String: String]
    public var isInternal: Bool
    /// Seconds since 1970, parsed from Docker's `Created` when available.
    public var createdAt: Double?
    public var containerCount: Int?
    public init(id: String, name: String, subnets: [String], labels: [String: String], isInternal: Bool, createdAt: Double?, containerCount: Int?) {
        self.id = id
        self.name = name
        self.subnets = subnets
        self.labels = labels
        self.isInternal = isInternal
        self.createdAt = createdAt
        self.containerCount = containerCount
    }
}

public struct ContainerSpec: Sendable, Equatable {
    public var name: String?
    public var image: String
    public var command: [String]
    public var environment: [String]
    public var labels: [String: String]
    public var network: String?
    public var user: String
    public var workingDirectory: String
    public var memoryBytes: UInt64
    public var nanoCPUs: Int64
    public var pidsLimit: Int
    public var tmpfs: [String: String]
    public var readOnlyRoot: Bool
    public var maxOpenFiles: Int
    public var autoRemove: Bool
    /// The only capabilities the container's main process keeps (every other one is dropped). The agent runs as root
    /// with just these so that it can start programs under the program uid and signal them, while the programs, which
    /// hold no capability and another uid, can neither signal nor trace it.
    public var capabilities: [String]
    /// Size of /dev/shm (POSIX shared memory); it counts against the memory limit.
    public var sharedMemoryBytes: UInt64
    /// The main process's stdin stays open for attachments (`ContainerEngine.attach`), across them; its output is not
    /// logged.
    public var opensStdin: Bool
    /// The container serves one run: its stdin closes when the first attachment ends (Docker's StdinOnce), so the agent
    /// sees end-of-file, as over an exec, when the engine is gone, and stops the program.
    public var stdinOnce: Bool
    public init(
        name: String?, image: String, command: [String], environment: [String], labels: [String: String], network: String?,
        user: String, workingDirectory: String, memoryBytes: UInt64, nanoCPUs: Int64, pidsLimit: Int, tmpfs: [String: String],
        readOnlyRoot: Bool, maxOpenFiles: Int, autoRemove: Bool, capabilities: [String] = [], sharedMemoryBytes: UInt64 = 64 << 20,
        opensStdin: Bool = false, stdinOnce: Bool = false
    ) {
        self.name = name
        self.image = image
        self.command = command
        self.environment = environment
        self.labels = labels
        self.network = network
        self.user = user
        self.workingDirectory = workingDirectory
        self.memoryBytes = memoryBytes
        self.nanoCPUs = nanoCPUs
        self.pidsLimit = pidsLimit
        self.tmpfs = tmpfs
        self.readOnlyRoot = readOnlyRoot
        self.maxOpenFiles = maxOpenFiles
        self.autoRemove = autoRemove
        self.capabilities = capabilities
        self.sharedMemoryBytes = sharedMemoryBytes
        self.opensStdin = opensStdin
        self.stdinOnce = stdinOnce
    }
}

public struct ContainerInfo: Sendable, Equatable {
    public var id: String
    public var name: String
    public var image: String
    public var labels: [String: String]
    public var state: String  // created, running, exited, ...
    public var createdAt: Double?
    public init(id: String, name: String, image: String, labels: [String: String], state: String, createdAt: Double?) {
        self.id = id
        self.name = name
        self.image = image
        self.labels = labels
        self.state = state
        self.createdAt = createdAt
    }
}

/// Failures of the container engine, phrased for the user with the next step to take.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case unreachable(host: String, reason: String)
    case imageMissing(String)
    case subnetTaken(String)
    case notFound(String)
    case conflict(String)
    case buildFailed(String)
    case timeout(String)
    case api(String)
    case streamLost(String)

    public var description: String {
        switch self {
        case .unreachable(let host, let reason):
            return
                "cannot reach the Docker engine at \(host): \(reason); start it (`sudo ./setup.sh`, `sudo systemctl start docker` or `sudo dockerd &`) or point DOCKER_HOST at a running engine"
        case .imageMissing(let image):
            return "runtime image \(image) is missing; build it with `coderunner images build` (or ./setup.sh)"
        case .subnetTaken(let message):
            return "the subnet is already in use: \(message)"
        case .notFound(let message):
            return "not found: \(message)"
        case .conflict(let message):
            return "conflict: \(message)"
        case .buildFailed(let message):
            return "image build failed: \(message)"
        case .timeout(let what):
            return "the Docker engine did not answer in time (\(what)); check that dockerd is healthy or raise engine.timeout"
        case .api(let message):
            return "Docker engine error: \(message)"
        case .streamLost(let message):
            return "lost the connection to the running program: \(message)"
        }
    }
}

/// Labels every coderunner resource carries, so `pool`, `net gc` and crash recovery can find them
/// and never touch anything else.
public enum ResourceLabel {
    public static let managed = "dev.coderunner.managed"
    public static let session = "dev.coderunner.session"
    public static let language = "dev.coderunner.language"
    public static let subnet = "dev.coderunner.subnet"
    public static let ephemeral = "dev.coderunner.ephemeral"
    public static let ownerPID = "dev.coderunner.owner-pid"
    public static let ownerHost = "dev.coderunner.owner-host"
    public static let created = "dev.coderunner.created"
    /// On a session network: who created the session (`SessionCreator`).
    public static let creator = "dev.coderunner.creator"
    public static let ttl = "dev.coderunner.ttl-seconds"
    public static let inputsHash = "dev.coderunner.inputs-hash"
    /// A one-shot container started ahead of need (see `Standby.swift`); the value is its container settings' fingerprint.
    public static let standby = "dev.coderunner.standby"
    /// On a container `serve` made ahead of need as a connection's whole session (`SessionStandbys`).
    public static let serveStandby = "dev.coderunner.serve-standby"
    /// On a container whose agent (PID 1) takes runs on its own stdin (`idle --stdio`): runs attach instead of exec.
    public static let stdio = "dev.coderunner.stdio"
    /// On a standby container: the id of the network made for it (so a claiming run needs no lookup).
    public static let standbyNetwork = "dev.coderunner.standby-network"
    /// On a network of the shared pool, which sessions lease one at a time (`SessionNetworks`); the value says which
    /// kind it is (`driver/internal` or `driver/egress`), so a session only leases the kind its settings make.
    public static let pool = "dev.coderunner.pool"
    /// On a lease (a container that is created but never started, named after the network it holds): that network's id.
    public static let lease = "dev.coderunner.lease"
    /// On a lease: the name of the network it holds.
    public static let leasedNetworkName = "dev.coderunner.network-name"
    /// On a lease: the session holding it (not `session`, so a session's containers are listed without its lease).
    public static let leaseSession = "dev.coderunner.lease-session"
    /// On a creation marker (a container created, never started, while a process makes a pool network, so that `pool`
    /// in another process can count networks being made): the subnet of that network.
    public static let networkCreating = "dev.coderunner.network-creating"
    /// The `server.instance` that made it, when nodes share an engine: a node's sweeps leave other instances' resources
    /// alone unless their process is provably gone.
    public static let instance = "dev.coderunner.instance"
}
