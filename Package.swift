// swift-tools-version: 6.0
import PackageDescription

let strictSwift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "coderunner",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "coderunner", targets: ["coderunner"]),
        .executable(name: "coderunner-agent", targets: ["coderunner-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Wire format between the engine and the in-container supervisor. No Foundation, so the agent stays small and static.
        .target(name: "AgentProtocol", swiftSettings: strictSwift6),
        // The supervisor that runs inside every container (Glibc only, linked statically by setup.sh).
        .executableTarget(name: "coderunner-agent", dependencies: ["AgentProtocol"], swiftSettings: strictSwift6),
        // Docker Engine API client over SwiftNIO (unix socket or tcp).
        .target(
            name: "DockerEngine",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift6
        ),
        // The engine: runtimes, config, subnets, sessions, execution. Talks to containers through the ContainerEngine protocol only.
        .target(name: "CodeRunnerCore", dependencies: ["AgentProtocol"], swiftSettings: strictSwift6),
        // The one adapter from the Docker client to the engine's ContainerEngine protocol.
        .target(name: "CodeRunnerDocker", dependencies: ["CodeRunnerCore", "DockerEngine"], swiftSettings: strictSwift6),
        // `serve`: HTTP + WebSocket (native JSON protocol and Socket.IO v4), the web page, health and metrics.
        .target(
            name: "CodeRunnerServer",
            dependencies: [
                "CodeRunnerCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["PROTOCOL.md"],
            swiftSettings: strictSwift6
        ),
        // Debian's libedit for the interactive shell's line editing and history.
        .systemLibrary(name: "CLibEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        // Every command of the `coderunner` CLI, so command lines can be parsed and checked in tests without a process.
        .target(
            name: "CodeRunnerCLI",
            dependencies: [
                "CodeRunnerCore", "CodeRunnerDocker", "CodeRunnerServer", "CLibEdit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strictSwift6
        ),
        // The binary: only `main.swift`, which hands the process to CodeRunnerCLI.
        .executableTarget(name: "coderunner", dependencies: ["CodeRunnerCLI"], swiftSettings: strictSwift6),
        // SplitMix64 for the fuzz tests of every test target.
        .target(name: "SeededRandom", path: "Tests/SeededRandom", swiftSettings: strictSwift6),
        .testTarget(name: "AgentProtocolTests", dependencies: ["AgentProtocol", "SeededRandom"], swiftSettings: strictSwift6),
        // Docker Engine API calls only tests make (DockerClient's public API is what coderunner uses).
        .target(name: "DockerEngineTesting", dependencies: ["DockerEngine"], path: "Tests/DockerEngineTesting", swiftSettings: strictSwift6),
        .testTarget(
            name: "DockerEngineTests",
            dependencies: [
                "DockerEngine", "DockerEngineTesting", "SeededRandom",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSwift6
        ),
        // An in-memory ContainerEngine whose containers run a fake agent: the engine's logic tested without Docker.
        .target(
            name: "CodeRunnerTesting", dependencies: ["CodeRunnerCore", "AgentProtocol"], path: "Tests/CodeRunnerTesting",
            swiftSettings: strictSwift6),
        .testTarget(
            name: "CodeRunnerCoreTests", dependencies: ["CodeRunnerCore", "CodeRunnerTesting", "SeededRandom"], swiftSettings: strictSwift6),
        // Clients for testing `serve` from outside (raw socket, HTTP, WebSocket) and a server in the test's process.
        .target(
            name: "ServerTestSupport", dependencies: ["CodeRunnerCore", "CodeRunnerServer", "CodeRunnerTesting"], path: "Tests/ServerTestSupport",
            swiftSettings: strictSwift6),
        .testTarget(
            name: "CodeRunnerServerTests",
            dependencies: [
                "CodeRunnerCore", "CodeRunnerServer", "CodeRunnerTesting", "ServerTestSupport", "SeededRandom",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSwift6
        ),
        // The CLI's parsing and validation through the library (no Docker, no process).
        .testTarget(
            name: "CodeRunnerCLITests",
            dependencies: [
                "CodeRunnerCLI", "CodeRunnerCore", "CodeRunnerTesting", "ServerTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift6),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "CodeRunnerCore", "CodeRunnerDocker", "DockerEngine", "DockerEngineTesting", "CodeRunnerServer", "ServerTestSupport",
                "SeededRandom",
            ],
            exclude: ["Scripts"],
            swiftSettings: strictSwift6
        ),
    ]
)
