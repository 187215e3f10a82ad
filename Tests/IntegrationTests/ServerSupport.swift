import CodeRunnerCore
import CodeRunnerServer
import Foundation
import ServerTestSupport
import Testing

extension TestServer {
    /// A server on the real engine with the repository's runtimes. `overrides` are server settings by key.
    static func start(_ overrides: [String: String] = [:]) async throws -> TestServer {
        try await start(runner: try Live.runner(), catalog: try Live.catalog(), configuration: try Live.configuration(), overrides: overrides)
    }
}

extension Live {
    /// Runs one of the test scripts (python) and returns its exit status and output.
    static func script(_ name: String, _ arguments: [String], timeout: TimeInterval = 300) async throws -> CLIResult {
        let path = repositoryRoot + "/Tests/IntegrationTests/Scripts/" + name
        let result: Result<CLIResult, any Error> = await offPool {
            do {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3", path] + arguments
                let outPipe = Pipe()
                let errPipe = Pipe()
                process.standardOutput = outPipe
                process.standardError = errPipe
                try process.run()
                // Read stderr on its own thread so a chatty stderr can never block the child.
                let done = DispatchSemaphore(value: 0)
                let box = DataBox()
                Thread {
                    box.data = errPipe.fileHandleForReading.readDataToEndOfFile()
                    done.signal()
                }.start()
                let outData = outPipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                done.wait()
                let err = box.data
                return .success(
                    CLIResult(
                        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                        stderr: String(decoding: err, as: UTF8.self)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

final class DataBox: @unchecked Sendable { var data = Data() }
