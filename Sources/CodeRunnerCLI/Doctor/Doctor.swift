import CodeRunnerCore
import CodeRunnerDocker
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The result of one check.
struct DoctorCheck: Encodable, Equatable {
    enum Status: String, Encodable { case ok, warn, fail }
    var check: String
    var status: Status
    var message: String
    var hint: String?
}

struct DoctorReport: Encodable {
    var checks: [DoctorCheck] = []
    var hasFailure: Bool { checks.contains { $0.status == .fail } }

    mutating func ok(_ check: String, _ message: String) { checks.append(.init(check: check, status: .ok, message: message)) }
    mutating func warn(_ check: String, _ message: String, hint: String?) {
        checks.append(.init(check: check, status: .warn, message: message, hint: hint))
    }
    mutating func fail(_ check: String, _ message: String, hint: String?) {
        checks.append(.init(check: check, status: .fail, message: message, hint: hint))
    }

    /// Fixed columns: status, check name, message, then the hint after `->`.
    func text(colored: Bool) -> String {
        let width = checks.map(\.check.count).max() ?? 0
        var output = ""
        for check in checks {
            let status = check.status.rawValue
            let code =
                switch check.status {
                case .ok: "32"
                case .warn: "33"
                case .fail: "31"
                }
            let painted = colored ? "\u{1B}[\(code)m\(status)\u{1B}[0m" : status
            var line = painted + String(repeating: " ", count: 6 - status.count)
            line += check.check + String(repeating: " ", count: width - check.check.count + 2) + check.message
            if let hint = check.hint { line += " -> " + hint }
            output += line + "\n"
        }
        let failures = checks.filter { $0.status == .fail }.count
        let warnings = checks.filter { $0.status == .warn }.count
        output += "\n\(failures) failed, \(warnings) \(warnings == 1 ? "warning" : "warnings"), \(checks.count - failures - warnings) ok\n"
        return output
    }

    func json() -> String {
        struct Document: Encodable {
            var ok: Bool
            var checks: [DoctorCheck]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(Document(ok: !hasFailure, checks: checks)) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

enum Doctor {
    /// Docker Engine 20.10 speaks API 1.41, the oldest version coderunner is tested against.
    static let minimumAPIVersion = (1, 41)

    static func examine(options: GlobalOptions) async -> DoctorReport {
        var report = DoctorReport()

        // Configuration and runtimes: everything else depends on them, but a broken config must not hide the other checks.
        var context: AppContext?
        do {
            let loaded = try AppContext.load(options: options)
            context = loaded
            try loaded.validateEveryValue()
            report.ok(
                "config",
                "config file \(loaded.configuration.configFilePath ?? "none (defaults)"); runtimes \(loaded.runtimesDirectory) (\(loaded.catalog.runtimes.map(\.language).joined(separator: ", ")))"
            )
        } catch {
            report.fail("config", error.message, hint: "fix the setting or file named above; `coderunner config --keys` lists every setting")
        }
        let configuration =
            context?.configuration
            ?? (try? Configuration.load(explicitFile: options.config, environment: Terminal.environment(), manifests: []))
            ?? Configuration()

        // Docker.
        let host = configuration.string("docker.host")
        var engine: DockerContainerEngine?
        do {
            let candidate = try DockerContainerEngine(host: host, requestTimeout: (try? configuration.duration("engine.timeout")) ?? .seconds(30))
            let info = try await candidate.info()
            engine = candidate
            report.ok("docker", "Docker Engine \(info.version) (API \(info.apiVersion), \(info.os), kernel \(info.kernel)) at \(host)")
            if let api = parseVersion(info.apiVersion), api < minimumAPIVersion {
                report.warn(
                    "docker",
                    "API \(info.apiVersion) is older than \(minimumAPIVersion.0).\(minimumAPIVersion.1), the oldest version coderunner is tested with",
                    hint: "upgrade to Docker Engine 20.10 or newer")
            }
        } catch let error as EngineError {
            if case .unreachable(_, let reason) = error {
                report.fail(
                    "docker", "cannot reach the Docker engine at \(host) (\(reason))",
                    hint: "start it (`sudo systemctl start docker`, `sudo dockerd &` or `sudo ./setup.sh`) or point DOCKER_HOST at a running engine")
            } else {
                report.fail("docker", error.description, hint: "check that DOCKER_HOST / docker.host points at a Docker Engine API endpoint")
            }
        } catch {
            report.fail(
                "docker", "docker.host '\(host)' is not usable: \(error)",
                hint: "use unix:///var/run/docker.sock or tcp://host:port in docker.host or DOCKER_HOST")
        }

        // Runtime images.
        if let context {
            if let engine {
                await checkImages(context: context, engine: engine, into: &report)
            } else {
                report.warn("images", "not checked: Docker is unreachable", hint: "fix the docker check first")
            }
        } else {
            report.warn("images", "not checked: the configuration or runtimes did not load", hint: "fix the config check first")
        }

        // Subnet pools.
        var foreignNetworks: [NetworkInfo]?
        if let engine {
            do {
                foreignNetworks = try await engine.networks(labeled: []).filter { $0.labels[ResourceLabel.managed] == nil }
            } catch {
                report.warn("subnet-pools", "cannot list Docker networks: \(error)", hint: "fix the docker check first")
            }
        }
        checkPools(configuration.list("network.pools"), routes: HostRoute.read(), dockerNetworks: foreignNetworks, into: &report)

        // Limits.
        checkCgroups(engineIsLocal: host.hasPrefix("unix://") || host.isEmpty, host: host, into: &report)

        // The web page's editor (`serve`).
        checkWebEditor(into: &report)
        return report
    }

    /// Where `serve` finds Debian's CodeMirror for the web page (`/vendor/codemirror/`, VendorFiles).
    static let codemirrorScript = "/usr/share/javascript/codemirror/lib/codemirror.js"

    static func checkWebEditor(path: String = codemirrorScript, into report: inout DoctorReport) {
        if exists(path) {
            report.ok("web-editor", "the web page's editor: Debian's CodeMirror (libjs-codemirror) at \(path)")
        } else {
            report.warn(
                "web-editor", "\(path) is missing, so the web page of `coderunner serve` falls back to a plain editor (no syntax highlighting)",
                hint: "apt-get install libjs-codemirror")
        }
    }

    static func checkImages(context: AppContext, engine: DockerContainerEngine, into report: inout DoctorReport) async {
        let images = RuntimeImages(engine: engine, baseImage: context.baseImage(), agentBinaryPath: context.agentBinaryPath())
        for runtime in context.catalog.runtimes {
            let name = "image \(runtime.language)"
            let build = "run `coderunner images build \(runtime.language)`"
            do {
                switch try await images.state(of: runtime) {
                case .current: report.ok(name, "\(runtime.image) is current")
                case .outdated: report.warn(name, "\(runtime.image) is older than runtimes/\(runtime.language) or the agent", hint: build)
                case .missing:
                    report.fail(name, "\(runtime.image) is missing, so \(runtime.language) programs cannot run", hint: build + " (or ./setup.sh)")
                }
            } catch let error as RuntimeImages.ImageError {
                // Without the agent binary the inputs hash cannot be computed; presence is all we can tell.
                if (try? await engine.image(runtime.image)) != nil {
                    report.warn(
                        name, "\(runtime.image) is present, but whether it is current is unknown: \(error.description)",
                        hint: "build the agent with ./setup.sh or set CODERUNNER_AGENT to its path")
                } else {
                    report.fail(name, "\(runtime.image) is missing, so \(runtime.language) programs cannot run", hint: build + " (or ./setup.sh)")
                }
            } catch {
                report.fail(name, "cannot inspect \(runtime.image): \(error)", hint: "fix the docker check first")
            }
        }
    }

    static func checkPools(_ texts: [String], routes: [HostRoute]?, dockerNetworks: [NetworkInfo]?, into report: inout DoctorReport) {
        let name = "subnet-pools"
        var pools: [IPv4Network] = []
        for text in texts {
            guard let pool = IPv4Network(text), pool.prefixLength <= 24 else {
                report.fail(name, "'\(text)' is not an IPv4 CIDR of /24 or larger", hint: "fix network.pools, e.g. 10.64.0.0/12,10.10.0.0/16")
                return
            }
            pools.append(pool)
        }
        guard !pools.isEmpty else {
            report.fail(
                name, "network.pools is empty, so no session network can be created", hint: "set network.pools, e.g. 10.64.0.0/12,10.10.0.0/16")
            return
        }
        do {
            let allocator = try SubnetAllocator(pools: pools)
            report.ok(name, "\(pools.map(\.description).joined(separator: ", ")): \(allocator.capacity) session subnets (/24)")
        } catch {
            report.fail(name, error.description, hint: "make the pools in network.pools disjoint")
            return
        }
        for pool in pools where !pool.isPrivate {
            report.warn(
                name, "\(pool) is not private address space (RFC 1918); hosts on the internet use it",
                hint: "use ranges inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 in network.pools")
        }
        if let routes {
            // Docker's own bridges (docker0, br-*) are networks, checked against Docker's list below;
            // the default route covers everything and says nothing about overlap.
            let relevant = routes.filter { $0.network.prefixLength > 0 && $0.interface != "docker0" && !$0.interface.hasPrefix("br-") }
            var overlapping = false
            for pool in pools {
                for route in relevant where pool.overlaps(route.network) {
                    overlapping = true
                    report.warn(
                        name, "\(pool) overlaps the host route \(route.network) via \(route.interface)",
                        hint: "session networks there would shadow that route; move network.pools to a range the host does not use")
                }
            }
            if !overlapping { report.ok(name, "no overlap with \(counted(relevant.count, "host route"))") }
        } else {
            report.warn(
                name, "cannot read /proc/net/route, so overlap with host routes is not checked", hint: "run doctor on the Docker host (Linux)")
        }
        if let dockerNetworks {
            var overlapping = false
            for network in dockerNetworks {
                for subnet in network.subnets.compactMap({ IPv4Network($0) }) {
                    for pool in pools where pool.overlaps(subnet) {
                        overlapping = true
                        report.warn(
                            name, "\(pool) overlaps Docker network \(network.name) (\(subnet)), which is not coderunner's",
                            hint:
                                "sessions skip those subnets, but pick network.pools that avoid it (or remove that network) to keep the full capacity"
                        )
                    }
                }
            }
            if !overlapping { report.ok(name, "no overlap with \(counted(dockerNetworks.count, "other Docker network"))") }
        }
    }

    static func checkCgroups(engineIsLocal: Bool, host: String, into report: inout DoctorReport) {
        let name = "limits"
        guard engineIsLocal else {
            report.warn(
                name, "the engine at \(host) is remote, so its cgroup controllers are not checked here",
                hint: "run `coderunner doctor` on the engine's host")
            return
        }
        let required = ["memory", "cpu", "pids"]
        let root = "/sys/fs/cgroup"
        let missing: [String]
        let version: String
        if let controllers = readText(root + "/cgroup.controllers") {
            version = "v2"
            let present = Set(controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
            missing = required.filter { !present.contains($0) }
        } else {
            version = "v1"
            missing = required.filter { !isDirectory(root + "/" + $0) }
        }
        if missing.isEmpty {
            report.ok(name, "cgroup \(version) controllers memory, cpu, pids are present, so memory, CPU and process limits are enforced")
        } else {
            report.fail(
                name,
                "cgroup \(version) controller\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) missing, so those limits are not enforced",
                hint: "enable them in the kernel (boot with cgroup_enable=memory cgroup_memory=1 for memory) and restart Docker")
        }
        // coderunner sets memory+swap = memory; without swap accounting Docker ignores that and a program can use swap.
        if version == "v1" && isDirectory(root + "/memory") && !exists(root + "/memory/memory.memsw.limit_in_bytes") {
            report.warn(
                name, "swap accounting is off, so programs may use swap beyond their memory limit",
                hint: "boot with swapaccount=1 (or disable swap) and restart Docker")
        }
    }

    static func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    static func parseVersion(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: ".")
        guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        return (major, minor)
    }

    static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}

/// One IPv4 route of the host, from /proc/net/route.
struct HostRoute: Equatable {
    var interface: String
    var network: IPv4Network

    /// nil when the table cannot be read (not Linux, or /proc not mounted).
    static func read(path: String = "/proc/net/route") -> [HostRoute]? {
        guard let text = Doctor.readText(path) else { return nil }
        return parse(text)
    }

    /// The kernel prints addresses as host-order hex of the network-order value (`0000400A` is 10.64.0.0 on x86).
    static func parse(_ text: String) -> [HostRoute] {
        var routes: [HostRoute] = []
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 8, let destination = UInt32(fields[1], radix: 16), let mask = UInt32(fields[7], radix: 16) else { continue }
            let prefix = UInt32(bigEndian: mask).nonzeroBitCount
            routes.append(
                HostRoute(interface: String(fields[0]), network: IPv4Network(address: UInt32(bigEndian: destination), prefixLength: prefix)))
        }
        return routes
    }
}
