// Responses are decoded leniently (missing fields get defaults) so Podman's and older engines' answers still parse.

/// `GET /version`.
public struct DockerVersion: Codable, Sendable, Equatable {
    public var version: String
    public var apiVersion: String
    public var minAPIVersion: String?
    public var os: String
    public var arch: String
    public var kernelVersion: String

    enum CodingKeys: String, CodingKey {
        case version = "Version"
        case apiVersion = "ApiVersion"
        case minAPIVersion = "MinAPIVersion"
        case os = "Os"
        case arch = "Arch"
        case kernelVersion = "KernelVersion"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(String.self, forKey: .version) ?? ""
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion) ?? ""
        minAPIVersion = try c.decodeIfPresent(String.self, forKey: .minAPIVersion)
        os = try c.decodeIfPresent(String.self, forKey: .os) ?? ""
        arch = try c.decodeIfPresent(String.self, forKey: .arch) ?? ""
        kernelVersion = try c.decodeIfPresent(String.self, forKey: .kernelVersion) ?? ""
    }
}

/// `GET /info`, the two fields the CLI checks limits against: the host's CPU count and memory.
public struct DockerSystemInfo: Codable, Sendable, Equatable {
    public var cpuCount: Int
    public var memoryTotal: Int64

    enum CodingKeys: String, CodingKey {
        case cpuCount = "NCPU"
        case memoryTotal = "MemTotal"
    }
}

/// `GET /images/{name}/json`.
public struct DockerImage: Codable, Sendable, Equatable {
    public var id: String
    public var repoTags: [String]
    /// RFC 3339 timestamp.
    public var created: String
    public var config: Config?

    /// The image's labels (empty when it has none).
    public var labels: [String: String] { config?.labels ?? [:] }

    public struct Config: Codable, Sendable, Equatable {
        public var labels: [String: String]?
        public var env: [String]?
        public var user: String?
        public var workingDir: String?
        enum CodingKeys: String, CodingKey {
            case labels = "Labels"
            case env = "Env"
            case user = "User"
            case workingDir = "WorkingDir"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case repoTags = "RepoTags"
        case created = "Created"
        case config = "Config"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        repoTags = try c.decodeIfPresent([String].self, forKey: .repoTags) ?? []
        created = try c.decodeIfPresent(String.self, forKey: .created) ?? ""
        config = try c.decodeIfPresent(Config.self, forKey: .config)
    }
}

/// `GET /containers/{id}/json` (the parts coderunner uses).
public struct ContainerInspect: Codable, Sendable, Equatable {
    public var id: String
    /// Docker prefixes names with "/".
    public var name: String
    /// RFC 3339 timestamp.
    public var created: String
    public var state: State
    public var config: Config
    public var networkSettings: NetworkSettings?

    public var labels: [String: String] { config.labels ?? [:] }

    public struct State: Codable, Sendable, Equatable {
        /// created, running, paused, restarting, removing, exited, dead
        public var status: String
        public var running: Bool
        public var exitCode: Int
        public var oomKilled: Bool
        public var pid: Int
        public var startedAt: String
        public var finishedAt: String?
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case status = "Status"
            case running = "Running"
            case exitCode = "ExitCode"
            case oomKilled = "OOMKilled"
            case pid = "Pid"
            case startedAt = "StartedAt"
            case finishedAt = "FinishedAt"
            case error = "Error"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            status = try c.decodeIfPresent(String.self, forKey: .status) ?? ""
            running = try c.decodeIfPresent(Bool.self, forKey: .running) ?? false
            exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode) ?? 0
            oomKilled = try c.decodeIfPresent(Bool.self, forKey: .oomKilled) ?? false
            pid = try c.decodeIfPresent(Int.self, forKey: .pid) ?? 0
            startedAt = try c.decodeIfPresent(String.self, forKey: .startedAt) ?? ""
            finishedAt = try c.decodeIfPresent(String.self, forKey: .finishedAt)
            error = try c.decodeIfPresent(String.self, forKey: .error)
        }
    }

    public struct Config: Codable, Sendable, Equatable {
        public var image: String?
        public var labels: [String: String]?
        enum CodingKeys: String, CodingKey {
            case image = "Image"
            case labels = "Labels"
        }
    }

    public struct NetworkSettings: Codable, Sendable, Equatable {
        public var networks: [String: Endpoint]?
        enum CodingKeys: String, CodingKey { case networks = "Networks" }

        public struct Endpoint: Codable, Sendable, Equatable {
            public var networkID: String?
            public var ipAddress: String?
            public var gateway: String?
            enum CodingKeys: String, CodingKey {
                case networkID = "NetworkID"
                case ipAddress = "IPAddress"
                case gateway = "Gateway"
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case name = "Name"
        case created = "Created"
        case state = "State"
        case config = "Config"
        case networkSettings = "NetworkSettings"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        created = try c.decodeIfPresent(String.self, forKey: .created) ?? ""
        state = try c.decode(State.self, forKey: .state)
        config = try c.decodeIfPresent(Config.self, forKey: .config) ?? Config(image: nil, labels: nil)
        networkSettings = try c.decodeIfPresent(NetworkSettings.self, forKey: .networkSettings)
    }
}

/// One entry of `GET /containers/json`.
public struct ContainerSummary: Codable, Sendable, Equatable {
    public var id: String
    /// Docker prefixes names with "/".
    public var names: [String]
    public var image: String
    public var labels: [String: String]
    /// created, running, exited, ...
    public var state: String
    /// Human-readable status ("Up 2 minutes").
    public var status: String
    /// Unix time (seconds).
    public var created: Int64

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case names = "Names"
        case image = "Image"
        case labels = "Labels"
        case state = "State"
        case status = "Status"
        case created = "Created"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        names = try c.decodeIfPresent([String].self, forKey: .names) ?? []
        image = try c.decodeIfPresent(String.self, forKey: .image) ?? ""
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        state = try c.decodeIfPresent(String.self, forKey: .state) ?? ""
        status = try c.decodeIfPresent(String.self, forKey: .status) ?? ""
        created = try c.decodeIfPresent(Int64.self, forKey: .created) ?? 0
    }
}

/// `GET /exec/{id}/json`.
public struct ExecInspect: Codable, Sendable, Equatable {
    public var id: String
    public var running: Bool
    /// nil while the process runs.
    public var exitCode: Int?
    public var pid: Int
    public var containerID: String

    enum CodingKeys: String, CodingKey {
        case id = "ID"
        case running = "Running"
        case exitCode = "ExitCode"
        case pid = "Pid"
        case containerID = "ContainerID"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        running = try c.decodeIfPresent(Bool.self, forKey: .running) ?? false
        exitCode = try c.decodeIfPresent(Int.self, forKey: .exitCode)
        pid = try c.decodeIfPresent(Int.self, forKey: .pid) ?? 0
        containerID = try c.decodeIfPresent(String.self, forKey: .containerID) ?? ""
    }
}

/// `GET /networks/{id}` and entries of `GET /networks`.
public struct DockerNetwork: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var driver: String
    public var `internal`: Bool
    public var labels: [String: String]
    /// RFC 3339 timestamp.
    public var created: String
    public var ipam: IPAM
    /// Attached containers by id (filled by inspect only; empty in lists).
    public var containers: [String: NetworkContainer]

    public struct NetworkContainer: Codable, Sendable, Equatable {
        public var name: String?
        public var ipv4Address: String?
        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case ipv4Address = "IPv4Address"
        }
    }

    /// The subnets of this network (usually one).
    public var subnets: [String] { ipam.config.compactMap(\.subnet) }

    enum CodingKeys: String, CodingKey {
        case id = "Id"
        case name = "Name"
        case driver = "Driver"
        case `internal` = "Internal"
        case labels = "Labels"
        case created = "Created"
        case ipam = "IPAM"
        case containers = "Containers"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id) ?? ""
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        driver = try c.decodeIfPresent(String.self, forKey: .driver) ?? ""
        `internal` = try c.decodeIfPresent(Bool.self, forKey: .internal) ?? false
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        created = try c.decodeIfPresent(String.self, forKey: .created) ?? ""
        ipam = try c.decodeIfPresent(IPAM.self, forKey: .ipam) ?? IPAM(driver: nil, config: [])
        containers = try c.decodeIfPresent([String: NetworkContainer].self, forKey: .containers) ?? [:]
    }
}

/// Docker's error body.
struct DockerErrorBody: Decodable {
    var message: String
}

/// `{"Id": ...}` answers of create calls.
struct IDResponse: Decodable {
    var id: String
    enum CodingKeys: String, CodingKey { case id = "Id" }
}

/// `POST /containers/{id}/wait`.
struct WaitResponse: Decodable {
    var statusCode: Int
    var error: WaitError?
    struct WaitError: Decodable {
        var message: String?
        enum CodingKeys: String, CodingKey { case message = "Message" }
    }
    enum CodingKeys: String, CodingKey {
        case statusCode = "StatusCode"
        case error = "Error"
    }
}

/// One line of a build/import progress stream.
struct ProgressMessage: Decodable {
    var stream: String?
    var status: String?
    var progress: String?
    var error: String?
    var errorDetail: ErrorDetail?
    struct ErrorDetail: Decodable { var message: String? }
}
