import ArgumentParser
import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// Exit codes of coderunner itself (the program's own pass through `run`).
enum ExitStatus {
    static let usage: Int32 = 64
    static let internalFailure: Int32 = 125
}

/// A failure that ends the command with one clear line and a given exit code.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32
    var description: String { message }

    static func usage(_ message: String) -> CommandFailure { CommandFailure(message: message, exitCode: ExitStatus.usage) }
    static func internalFailure(_ message: String) -> CommandFailure { CommandFailure(message: message, exitCode: ExitStatus.internalFailure) }
}

/// Runs a command body and turns failures into one line on stderr and the right exit code.
func withFailureHandling(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as CommandFailure {
        Terminal.status("coderunner: \(failure.message)")
        if JSONOutput.requested { Terminal.out(JSONOutput.error(message: failure.message, exitCode: failure.exitCode) + "\n") }
        throw ExitCode(failure.exitCode)
    }
}
