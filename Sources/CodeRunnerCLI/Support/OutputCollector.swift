import CodeRunnerCore
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// Collects output for `--json`, which prints a single object at the end.
actor OutputCollector {
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []

    func append(_ stream: ProgramStream, _ bytes: [UInt8]) {
        if stream == .stdout { stdout += bytes } else { stderr += bytes }
    }

    func json(result: RunResult) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let report = RunReport(result: result, stdout: stdout, stderr: stderr)
        guard let data = try? encoder.encode(report) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
