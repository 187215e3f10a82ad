/// Body of `POST /containers/create`. Property names are Swift-style; the coding keys are Docker's.
public struct ContainerCreateRequest: Codable, Sendable, Equatable {
    public var image: String
    public var cmd: [String]?
    public var entrypoint: [String]?
    public var env: [String]?
    public var user: String?
    public var workingDir: String?
    public var labels: [String: String]?
    public var attachStdin: Bool?
    public var attachStdout: Bool?
    public var attachStderr: Bool?
    public var openStdin: Bool?
    public var stdinOnce: Bool?
    public var tty: Bool?
    public var networkDisabled: Bool?
    public var stopSignal: String?
    public var hostname: String?
    public var hostConfig: HostConfig?
    public var networkingConfig: NetworkingConfig?

    enum CodingKeys: String, CodingKey {
        case image = "Image"
        case cmd = "Cmd"
        case entrypoint = "Entrypoint"
        case env = "Env"
        case user = "User"
        case workingDir = "WorkingDir"
        case labels = "Labels"
        case attachStdin = "AttachStdin"
        case attachStdout = "AttachStdout"
        case attachStderr = "AttachStderr"
        case openStdin = "OpenStdin"
        case stdinOnce = "StdinOnce"
        case tty = "Tty"
        case networkDisabled = "NetworkDisabled"
        case stopSignal = "StopSignal"
        case hostname = "Hostname"
        case hostConfig = "HostConfig"
        case networkingConfig = "NetworkingConfig"
    }

    public init(
        image: String, cmd: [String]? = nil, entrypoint: [String]? = nil, env: [String]? = nil, user: String? = nil,
        workingDir: String? = nil, labels: [String: String]? = nil, attachStdin: Bool? = nil, attachStdout: Bool? = nil,
        attachStderr: Bool? = nil, openStdin: Bool? = nil, stdinOnce: Bool? = nil, tty: Bool? = nil,
        networkDisabled: Bool? = nil, stopSignal: String? = nil, hostname: String? = nil, hostConfig: HostConfig? = nil,
        networkingConfig: NetworkingConfig? = nil
    ) {
        self.image = image
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.env = env
        self.user = user
        self.workingDir = workingDir
        self.labels = labels
        self.attachStdin = attachStdin
        self.attachStdout = attachStdout
        self.attachStderr = attachStderr
        self.openStdin = openStdin
        self.stdinOnce = stdinOnce
        self.tty = tty
        self.networkDisabled = networkDisabled
        self.stopSignal = stopSignal
        self.hostname = hostname
        self.hostConfig = hostConfig
        self.networkingConfig = networkingConfig
    }
}

/// A container's log driver.
public struct LogConfig: Codable, Sendable, Equatable {
    public var type: String
    public init(type: String) { self.type = type }
    enum CodingKeys: String, CodingKey { case type = "Type" }
}

/// Resource limits and isolation settings of a container.
public struct HostConfig: Codable, Sendable, Equatable {
    public var networkMode: String?
    public var autoRemove: Bool?
    public var readonlyRootfs: Bool?
    /// Mount point -> mount options, e.g. `"/tmp": "rw,exec,size=64m"`.
    public var tmpfs: [String: String]?
    public var capDrop: [String]?
    public var capAdd: [String]?
    public var securityOpt: [String]?
    public var memory: Int64?
    public var memorySwap: Int64?
    public var nanoCpus: Int64?
    public var cpuQuota: Int64?
    public var cpuPeriod: Int64?
    public var pidsLimit: Int64?
    public var ulimits: [Ulimit]?
    public var `init`: Bool?
    public var binds: [String]?
    /// Paths Docker hides from the container (a file is covered by /dev/null, a folder by an empty read-only tmpfs).
    /// Setting it replaces Docker's default list, so callers include the defaults.
    public var maskedPaths: [String]?
    /// Size of /dev/shm in bytes (Docker's default is 64 MiB).
    public var shmSize: Int64?
    /// Where the main process's output is logged; `none` keeps it off the disk (attach still sees it).
    public var logConfig: LogConfig?

    enum CodingKeys: String, CodingKey {
        case networkMode = "NetworkMode"
        case autoRemove = "AutoRemove"
        case readonlyRootfs = "ReadonlyRootfs"
        case tmpfs = "Tmpfs"
        case capDrop = "CapDrop"
        case capAdd = "CapAdd"
        case securityOpt = "SecurityOpt"
        case memory = "Memory"
        case memorySwap = "MemorySwap"
        case nanoCpus = "NanoCpus"
        case cpuQuota = "CpuQuota"
        case cpuPeriod = "CpuPeriod"
        case pidsLimit = "PidsLimit"
        case ulimits = "Ulimits"
        case `init` = "Init"
        case binds = "Binds"
        case maskedPaths = "MaskedPaths"
        case shmSize = "ShmSize"
        case logConfig = "LogConfig"
    }

    public init(
        networkMode: String? = nil, autoRemove: Bool? = nil, readonlyRootfs: Bool? = nil, tmpfs: [String: String]? = nil,
        capDrop: [String]? = nil, capAdd: [String]? = nil, securityOpt: [String]? = nil, memory: Int64? = nil,
        memorySwap: Int64? = nil, nanoCpus: Int64? = nil, cpuQuota: Int64? = nil, cpuPeriod: Int64? = nil,
        pidsLimit: Int64? = nil, ulimits: [Ulimit]? = nil, `init`: Bool? = nil, binds: [String]? = nil,
        maskedPaths: [String]? = nil, shmSize: Int64? = nil, logConfig: LogConfig? = nil
    ) {
        self.networkMode = networkMode
        self.autoRemove = autoRemove
        self.readonlyRootfs = readonlyRootfs
        self.tmpfs = tmpfs
        self.capDrop = capDrop
        self.capAdd = capAdd
        self.securityOpt = securityOpt
        self.memory = memory
        self.memorySwap = memorySwap
        self.nanoCpus = nanoCpus
        self.cpuQuota = cpuQuota
        self.cpuPeriod = cpuPeriod
        self.pidsLimit = pidsLimit
        self.ulimits = ulimits
        self.`init` = `init`
        self.binds = binds
        self.maskedPaths = maskedPaths
        self.shmSize = shmSize
        self.logConfig = logConfig
    }

    public struct Ulimit: Codable, Sendable, Equatable {
        public var name: String
        public var soft: Int64
        public var hard: Int64
        enum CodingKeys: String, CodingKey {
            case name = "Name"
            case soft = "Soft"
            case hard = "Hard"
        }
        public init(name: String, soft: Int64, hard: Int64) {
            self.name = name
            self.soft = soft
            self.hard = hard
        }
    }
}

/// Which networks a new container joins (and with which address/aliases).
public struct NetworkingConfig: Codable, Sendable, Equatable {
    public var endpointsConfig: [String: EndpointSettings]
    enum CodingKeys: String, CodingKey { case endpointsConfig = "EndpointsConfig" }
    public init(endpointsConfig: [String: EndpointSettings] = [:]) { self.endpointsConfig = endpointsConfig }
}

public struct EndpointSettings: Codable, Sendable, Equatable {
    public var aliases: [String]?
    public var ipamConfig: IPAMConfig?
    enum CodingKeys: String, CodingKey {
        case aliases = "Aliases"
        case ipamConfig = "IPAMConfig"
    }
    public init(aliases: [String]? = nil, ipamConfig: IPAMConfig? = nil) {
        self.aliases = aliases
        self.ipamConfig = ipamConfig
    }

    /// A fixed address for the container on this network.
    public struct IPAMConfig: Codable, Sendable, Equatable {
        public var ipv4Address: String?
        enum CodingKeys: String, CodingKey { case ipv4Address = "IPv4Address" }
        public init(ipv4Address: String? = nil) { self.ipv4Address = ipv4Address }
    }
}

/// Body of `POST /containers/{id}/exec`.
public struct ExecCreateRequest: Codable, Sendable, Equatable {
    public var cmd: [String]
    public var env: [String]?
    public var user: String?
    public var workingDir: String?
    public var attachStdin: Bool
    public var attachStdout: Bool
    public var attachStderr: Bool
    public var tty: Bool

    enum CodingKeys: String, CodingKey {
        case cmd = "Cmd"
        case env = "Env"
        case user = "User"
        case workingDir = "WorkingDir"
        case attachStdin = "AttachStdin"
        case attachStdout = "AttachStdout"
        case attachStderr = "AttachStderr"
        case tty = "Tty"
    }

    public init(
        cmd: [String], env: [String]? = nil, user: String? = nil, workingDir: String? = nil, attachStdin: Bool = false,
        attachStdout: Bool = true, attachStderr: Bool = true, tty: Bool = false
    ) {
        self.cmd = cmd
        self.env = env
        self.user = user
        self.workingDir = workingDir
        self.attachStdin = attachStdin
        self.attachStdout = attachStdout
        self.attachStderr = attachStderr
        self.tty = tty
    }
}

/// Body of `POST /networks/create`.
public struct NetworkCreateRequest: Codable, Sendable, Equatable {
    public var name: String
    public var driver: String
    public var `internal`: Bool
    public var checkDuplicate: Bool
    public var labels: [String: String]
    public var ipam: IPAM
    public var options: [String: String]?

    enum CodingKeys: String, CodingKey {
        case name = "Name"
        case driver = "Driver"
        case `internal` = "Internal"
        case checkDuplicate = "CheckDuplicate"
        case labels = "Labels"
        case ipam = "IPAM"
        case options = "Options"
    }

    public init(
        name: String, driver: String = "bridge", internal: Bool = true, checkDuplicate: Bool = true,
        labels: [String: String] = [:], ipam: IPAM = IPAM(), options: [String: String]? = nil
    ) {
        self.name = name
        self.driver = driver
        self.`internal` = `internal`
        self.checkDuplicate = checkDuplicate
        self.labels = labels
        self.ipam = ipam
        self.options = options
    }
}

/// Address management of a network (request and response share the shape).
public struct IPAM: Codable, Sendable, Equatable {
    public var driver: String?
    public var config: [IPAMPool]

    enum CodingKeys: String, CodingKey {
        case driver = "Driver"
        case config = "Config"
    }

    public init(driver: String? = "default", config: [IPAMPool] = []) {
        self.driver = driver
        self.config = config
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        driver = try c.decodeIfPresent(String.self, forKey: .driver)
        config = try c.decodeIfPresent([IPAMPool].self, forKey: .config) ?? []
    }
}

/// One subnet of a network.
public struct IPAMPool: Codable, Sendable, Equatable {
    public var subnet: String?
    public var gateway: String?
    public var ipRange: String?

    enum CodingKeys: String, CodingKey {
        case subnet = "Subnet"
        case gateway = "Gateway"
        case ipRange = "IPRange"
    }

    public init(subnet: String?, gateway: String? = nil, ipRange: String? = nil) {
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
    }
}
