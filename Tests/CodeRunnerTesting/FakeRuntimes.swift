@testable import CodeRunnerCore

/// Runtimes for tests on `InMemoryEngine`: their programs are `FakeProgram` scripts, whatever the language says.
public enum FakeRuntimes {
    /// Python's manifest as the repository has it (no compile stage).
    public static let pythonManifest = RuntimeManifest(
        language: "python", displayName: "Python", aliases: ["py"], extensions: [".py"], image: "coderunner/python:latest",
        compile: nil, run: "python3 \"$ENTRY\"", service: nil, kernel: nil,
        limits: .init(memory: "128m", cpus: 1, timeout: "10s", compileTimeout: nil, pids: 128),
        example: "examples/hello.py", exampleOutput: "Hello, world!\n")

    public static let python = Runtime(manifest: pythonManifest, directory: "/nonexistent", image: "coderunner/python:latest")
}
