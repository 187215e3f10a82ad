import Testing

@testable import CodeRunnerCore

@Suite struct ConfigurationTests {
    static let manifest = RuntimeManifest(
        language: "python", displayName: "Python", aliases: ["py"], extensions: [".py"], image: "coderunner/python:latest",
        compile: nil, run: "python3 \"$ENTRY\"", service: nil, kernel: nil,
        limits: .init(memory: "128m", cpus: 1, timeout: "10s", compileTimeout: nil, pids: 128),
        example: "examples/hello.py", exampleOutput: "Hello, world!\n")

    @Test func precedenceDefaultsManifestFileEnvironmentFlags() throws {
        var configuration = Configuration()
        configuration.addRuntimeDefaults([Self.manifest])
        #expect(configuration.entry("runtime.python.memory")?.source == .runtimeManifest)
        try configuration.apply(
            file: "test.toml",
            text: """
                # comment
                [container]
                ttl = "90s"
                [runtime.python]
                memory = "256m"
                [server]
                port = 9000
                """)
        #expect(configuration.string("container.ttl") == "90s")
        #expect(configuration.entry("runtime.python.memory")?.source == .configFile)
        try configuration.apply(
            environment: ["CODERUNNER_SERVER_PORT": "9100", "CODERUNNER_RUNTIME_PYTHON_MEMORY": "64m", "HOME": "/root"], runtimeLanguages: ["python"])
        #expect(configuration.string("server.port") == "9100")
        #expect(configuration.entry("server.port")?.source == .environment)
        #expect(configuration.string("runtime.python.memory") == "64m")
        try configuration.set("server.port", "9200", source: .flag)
        #expect(configuration.string("server.port") == "9200")
        // A lower source never overrides a higher one.
        try configuration.set("server.port", "1", source: .configFile)
        #expect(configuration.string("server.port") == "9200")
        // Manifest defaults added later do not override the file or environment.
        configuration.addRuntimeDefaults([Self.manifest])
        #expect(configuration.string("runtime.python.memory") == "64m")
        #expect(configuration.string("container.ttl") == "90s")
    }

    @Test func environmentNames() {
        #expect(SettingKey.environmentName(for: "network.pools") == "CODERUNNER_NETWORK_POOLS")
        #expect(SettingKey.environmentName(for: "server.logLevel") == "CODERUNNER_SERVER_LOG_LEVEL")
        #expect(Configuration.runtimeKey(forEnvironmentName: "CODERUNNER_RUNTIME_JAVA_TIMEOUT") == "runtime.java.timeout")
    }

    @Test func unknownKeysAreErrorsWithSuggestions() {
        var configuration = Configuration()
        do {
            try configuration.apply(file: "c.toml", text: "[container]\nttll = \"5s\"\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("container.ttl"))
        }
        #expect(throws: ConfigurationError.self) {
            try configuration.apply(environment: ["CODERUNNER_NOPE": "1"], runtimeLanguages: [])
        }
    }

    @Test func fileSyntaxErrorsNameTheLine() {
        var configuration = Configuration()
        for bad in ["[server\nport = 1", "port", "server.port = unquoted text", "x = \"open", "[a]\nk = [\"a\" \"b\"]"] {
            #expect(throws: ConfigurationError.self) { try configuration.apply(file: "bad.toml", text: bad) }
        }
        do {
            try configuration.apply(file: "bad.toml", text: "\n\nport")
        } catch {
            #expect(error.description.hasPrefix("bad.toml:3:"))
        }
    }

    @Test func arraysAndStrings() throws {
        let pairs = try ConfigFileParser.parse("[network]\npools = [\"10.64.0.0/12\", \"10.10.0.0/16\"] # two\nprefix = \"cr-#x\"", file: "f")
        #expect(pairs.map(\.0) == ["network.pools", "network.prefix"])
        #expect(pairs[0].1 == "10.64.0.0/12,10.10.0.0/16")
        #expect(pairs[1].1 == "cr-#x")
    }

    @Test func typedValuesReportTheirSource() throws {
        var configuration = Configuration()
        try configuration.set("container.ttl", "soon", source: .environment, origin: "CODERUNNER_CONTAINER_TTL")
        do {
            _ = try EngineSettings(configuration)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("container.ttl"))
            #expect(error.description.contains("environment"))
        }
    }

    @Test func defaultsBuildValidSettings() throws {
        let settings = try EngineSettings(Configuration())
        #expect(settings.pools == ["10.64.0.0/12", "10.10.0.0/16"])
        #expect(settings.containerTTL == .seconds(60))
        #expect(settings.maxContainersPerSession == 10)
        #expect(settings.outputLimit == 1 << 20)
        #expect(!settings.allowEgress)
    }

    /// Issue 17 (1): the agent and Docker read a zero limit as "no limit", so a zero limit setting is refused by name,
    /// and the engine's own check (`RunLimits.zeroLimit`) catches one that any face lets through.
    @Test(arguments: [
        ("run.outputLimit", "0"), ("container.maxFileSize", "0k"), ("run.compileTimeout", "0s"),
        ("runtime.python.timeout", "0"), ("runtime.python.memory", "0m"),
    ])
    func aZeroLimitSettingIsRefused(_ key: String, _ value: String) throws {
        var configuration = Configuration()
        configuration.addRuntimeDefaults([Self.manifest])
        try configuration.set(key, value, source: .configFile, origin: "test.toml")
        do {
            let settings = try EngineSettings(configuration)
            _ = try settings.limits(for: Runtime(manifest: Self.manifest, directory: "/nonexistent", image: "img"), configuration: configuration)
            Issue.record("\(key) = \(value) was accepted")
        } catch {
            #expect(error.description.contains(key) && error.description.contains("above 0"), "\(error)")
        }
    }

    @Test func theEngineNamesAZeroLimit() {
        let limits = RunLimits(timeout: .seconds(2), compileTimeout: .seconds(30), memoryBytes: 64 << 20, cpus: 1, pids: 64, outputLimitBytes: 1024)
        #expect(limits.zeroLimit == nil)
        var zero = limits
        zero.timeout = .microseconds(400)  // rounds to 0 ms for the agent
        #expect(zero.zeroLimit?.contains("timeout") == true)
        zero = limits
        zero.outputLimitBytes = 0
        #expect(zero.zeroLimit?.contains("output") == true)
        zero = limits
        zero.cpus = 1e-12  // 0 NanoCPUs: no quota at all for Docker
        #expect(zero.zeroLimit?.contains("cpus") == true)
    }

    /// The example config shipped in the repo must parse and use only known keys.
    @Test func shippedExampleConfigIsValid() throws {
        let path = FilePath.directory(of: RuntimeCatalog.sourceCheckoutRuntimes) + "/man/config.example.toml"
        let bytes = try #require(FileSystem.readFile(path))
        var configuration = Configuration()
        try configuration.apply(file: path, text: String(decoding: bytes, as: UTF8.self))
        _ = try EngineSettings(configuration)
    }
}
