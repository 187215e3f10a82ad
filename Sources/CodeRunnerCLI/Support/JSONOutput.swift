import CodeRunnerCore
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// `--json` on the command line (before a `run`'s `--`): every answer, errors included, is one JSON object on stdout
/// (docs/json.md), so a script never has to parse a message meant for people. The message still goes to stderr too.
enum JSONOutput {
    nonisolated(unsafe) static var requested = false

    /// `{"error": {"message": "...", "exitCode": N}}`.
    static func error(message: String, exitCode: Int32) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        struct Body: Encodable {
            var message: String
            var exitCode: Int32
        }
        struct Wrapper: Encodable { var error: Body }
        guard let data = try? encoder.encode(Wrapper(error: Body(message: message, exitCode: exitCode))) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
