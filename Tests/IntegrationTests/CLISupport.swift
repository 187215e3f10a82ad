import CodeRunnerCore
import CodeRunnerDocker
import Foundation
import Testing

@testable import DockerEngine

#if canImport(Glibc)
import Glibc
#endif

/// A `coderunner` process under test whose output is read as it arrives, with timestamps, so tests can check
/// streaming (a line shows up before the program ends), interrupt it mid-run, and never hang: every wait has a deadline.
///
/// `Live.cli` reads stdout to the end before stderr, which is fine for small output; this reads both pipes on their own
/// threads, so a chatty stderr can never block the child.
final class CLIProcess: @unchecked Sendable {
    struct Chunk {
        var at: ContinuousClock.Instant
        var bytes: Data
    }

    let process = Process()
    let started: ContinuousClock.Instant
    private let lock = NSLock()
    private var stdoutChunks: [Chunk] = []
    private var stderrData = Data()
    private var openPipes = 2
    private var exitedAt: ContinuousClock.Instant?
    private let stdinHandle: FileHandle

    var pid: Int32 { process.processIdentifier }

    /// Starts the built CLI (or another program: `executable`) with the same clean environment `Live.cli` uses (no
    /// stray CODERUNNER_* from the caller, the checkout's runtimes, no config file), plus `environment`.
    init(_ arguments: [String], environment extra: [String: String] = [:], cwd: String? = nil, executable: String = Live.cliPath) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // Standby keepers would outlive the test (StandbyTests turns them on).
        process.environment = Live.cliEnvironment(["CODERUNNER_RUN_STANDBY": "0"].merging(extra) { _, given in given })
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let outPipe = Pipe()
        let errPipe = Pipe()
        let inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        stdinHandle = inPipe.fileHandleForWriting
        started = .now
        process.terminationHandler = { [weak self] _ in self?.markExited() }
        try process.run()
        OwnedProcesses.shared.insert(process.processIdentifier)
        startReader(outPipe.fileHandleForReading, isStdout: true)
        startReader(errPipe.fileHandleForReading, isStdout: false)
    }

    private func markExited() {
        lock.withLock { exitedAt = .now }
    }

    private func startReader(_ handle: FileHandle, isStdout: Bool) {
        let thread = Thread { [self] in
            while true {
                let data = handle.availableData  // blocks until bytes or EOF (empty)
                let now = ContinuousClock.now
                lock.withLock {
                    if data.isEmpty {
                        openPipes -= 1
                    } else if isStdout {
                        stdoutChunks.append(Chunk(at: now, bytes: data))
                    } else {
                        stderrData.append(data)
                    }
                }
                if data.isEmpty { return }
            }
        }
        thread.start()
    }

    func writeStdin(_ text: String) {
        stdinHandle.write(Data(text.utf8))
    }

    func closeStdin() {
        try? stdinHandle.close()
    }

    /// Signals the CLI while it runs; once it has been reaped its pid may belong to someone else, so then nothing is sent.
    func send(_ signal: Int32) {
        lock.withLock {
            if exitedAt == nil { kill(process.processIdentifier, signal) }
        }
    }

    var stdout: Data { lock.withLock { stdoutChunks.reduce(into: Data()) { $0.append($1.bytes) } } }
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { lock.withLock { String(decoding: stderrData, as: UTF8.self) } }
    var exitTime: ContinuousClock.Instant? { lock.withLock { exitedAt } }

    /// When the stdout seen so far first contained `text`.
    func arrival(of text: String) -> ContinuousClock.Instant? {
        lock.withLock {
            var seen = Data()
            for chunk in stdoutChunks {
                seen.append(chunk.bytes)
                if String(decoding: seen, as: UTF8.self).contains(text) { return chunk.at }
            }
            return nil
        }
    }

    /// Waits until stdout contains `text`; false after `timeout` or when the process ended without printing it.
    func waitForStdout(_ text: String, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if arrival(of: text) != nil { return true }
            if isFinished { return arrival(of: text) != nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    private var isFinished: Bool { lock.withLock { exitedAt != nil && openPipes == 0 } }

    /// The exit status once the process ended and both pipes reached EOF; nil after `timeout` (the process is then
    /// killed, so a hung CLI fails the test instead of hanging the suite).
    func finish(timeout: Duration = .seconds(120)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isFinished { return process.terminationStatus }
            try? await Task.sleep(for: .milliseconds(20))
        }
        send(SIGKILL)
        return nil
    }
}

/// Result of one CLI run with both streams captured separately.
struct CLIOutcome: CustomStringConvertible {
    var status: Int32?
    var stdout: Data
    var stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// Non-empty stderr lines.
    var stderrLines: [String] { stderr.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty } }
    var description: String {
        "exit \(status.map(String.init) ?? "none (killed after timeout)")\nstdout: \(stdoutText.prefix(2000))\nstderr: \(stderr.prefix(2000))"
    }
}

enum CLI {
    /// Runs `coderunner ARGS` to completion (stdin closed after `stdin` is written).
    static func run(
        _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], cwd: String? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> CLIOutcome {
        let process = try CLIProcess(arguments, environment: environment, cwd: cwd)
        if let stdin { process.writeStdin(stdin) }
        process.closeStdin()
        let status = await process.finish(timeout: timeout)
        return CLIOutcome(status: status, stdout: process.stdout, stderr: process.stderrText)
    }

    /// Writes `files` into a fresh temporary folder and returns its path.
    static func folder(_ files: [(String, String)]) throws -> String {
        try Live.temporaryDirectory(files)
    }
}

enum DockerProbe {
    /// Docker's full `GET /containers/{id}/json`, including HostConfig (the public `ContainerInspect` model keeps only
    /// the parts the product needs, so the security settings are read from the raw answer).
    static func rawContainerInspect(_ id: String) async throws -> [String: Any] {
        let client = try Live.engine().client
        let response = try await client.call("GET", "/containers/\(id)/json")
        #expect(response.status == 200, "inspect of \(id) answered \(response.status)")
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
    }

    /// Removes a named session's containers, then its network (what `session end` will do); used for test clean-up.
    static func removeSession(_ name: String) async {
        guard let engine = try? Live.engine() else { return }
        let label = "\(ResourceLabel.session)=\(name)"
        for container in (try? await engine.containers(labeled: [label])) ?? [] {
            try? await engine.removeContainer(container.id)
        }
        for lease in (try? await engine.containers(labeled: ["\(ResourceLabel.leaseSession)=\(name)"])) ?? [] {
            try? await engine.removeContainer(lease.id)
        }
    }

    static func randomSuffix() -> String {
        String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(10))
    }
}

/// Process ids of the CLIs the tests started, so leak checks can tell our resources (labelled with the owner's pid)
/// from those of other test processes sharing the engine.
final class OwnedProcesses: @unchecked Sendable {
    static let shared = OwnedProcesses()
    private let lock = NSLock()
    private var set: Set<Int32> = []
    func insert(_ pid: Int32) { lock.withLock { _ = set.insert(pid) } }
    var pids: Set<Int32> { lock.withLock { set } }
}
