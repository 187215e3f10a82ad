import ArgumentParser
import CodeRunnerCore
import Dispatch
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// `coderunner run notebook.ipynb [--output out.ipynb]`.
struct NotebookCommandRunner {
    var path: String
    var output: String?
    var force: Bool
    /// One JSON object at the end (docs/json.md) instead of streamed output.
    var json: Bool
    var context: AppContext
    /// `--memory`, `--timeout`, `--cpus`, `--output-limit`, already checked (`RunCommand.checkedLimits`).
    var requested: RunCommand.RequestedLimits

    func run() async throws(CommandFailure) -> Int32 {
        guard let data = FileSystem.readFile(path, limit: 256 << 20) else { throw .usage("no such file: \(path)") }
        let runner = try context.codeRunner()
        let runtime: Runtime
        var limits: RunLimits
        do {
            runtime = try context.catalog.runtime(named: "python")
            limits = try runner.settings.limits(for: runtime, configuration: context.configuration)
            limits.memoryBytes = max(limits.memoryBytes, 256 << 20)  // pandas + matplotlib
            limits.timeout = .seconds(120)
            if let memory = requested.memory { limits.memoryBytes = memory }
            if let timeout = requested.timeout { limits.timeout = timeout }
            if let cpus = requested.cpus { limits.cpus = cpus }
            if let outputLimit = requested.outputLimit { limits.outputLimitBytes = outputLimit }
        } catch {
            throw .usage("\(error)")
        }
        let outputPath = output
        let imageBase: String = {
            let target = outputPath ?? FilePath.baseName(path)
            let stem = FilePath.extensionWithDot(target).isEmpty ? target : String(target.dropLast(FilePath.extensionWithDot(target).count))
            return stem
        }()
        // Refuse before running rather than after: the output file may not be replaced, or be a symlink, without --force.
        var info = stat()
        if let outputPath, !force, lstat(outputPath, &info) == 0 {
            throw .usage("\(outputPath) already exists (or is a symlink); pass --force to replace it or choose another --output")
        }
        if let outputPath {
            let folder = FilePath.directory(of: outputPath)
            guard FileSystem.isDirectory(folder.isEmpty ? "." : folder) else {
                throw .usage("--output \(outputPath): the folder \(folder) does not exist; create it first or choose another --output")
            }
        }
        signal(SIGPIPE, SIG_IGN)
        let force = self.force
        let unsaved = Locked(0)
        let result: (notebook: [UInt8], cells: [NotebookRunner.CellReport])
        do {
            result = try await NotebookRunner.run(
                notebook: data, runner: runner, runtime: runtime, limits: limits, imageBaseName: imageBase,
                onOutput: { [json] stream, bytes in if !json { Terminal.program(bytes, to: stream == .stdout ? 1 : 2) } },
                onImage: { name, bytes in
                    // Files are written only when asked for (--output): figures go next to the output notebook.
                    guard outputPath != nil else {
                        Terminal.err("[image/png not saved: --output out.ipynb saves figures next to it]\n")
                        return
                    }
                    do {
                        try HostFile.create(name, bytes, replace: force)
                        Terminal.err("[image/png saved to \(name)]\n")
                    } catch {
                        unsaved.withLock { $0 += 1 }
                        Terminal.status("coderunner: figure not saved: \(error)\(force ? "" : " (--force replaces it)")")
                    }
                })
        } catch let error as NotebookError {
            throw .usage(error.description)
        } catch {
            throw .internalFailure("\(error)")
        }
        if let outputPath {
            do { try HostFile.create(outputPath, result.notebook, replace: force) } catch {
                throw .internalFailure("\(error)\(force ? "" : " (--force replaces it)")")
            }
            Terminal.err("wrote \(outputPath)\n")
        }
        let failed = result.cells.filter { !($0.status == .ok) }
        let exitCode: Int32 = !failed.isEmpty || unsaved.withLock({ $0 }) > 0 ? 1 : 0
        if json {
            Terminal.out(
                NotebookReport(
                    notebook: path, output: outputPath, exitCode: exitCode,
                    cells: result.cells.map { cell in
                        NotebookReport.Cell(
                            index: cell.index + 1, status: cell.status.rawValue, stdout: String(decoding: cell.stdout, as: UTF8.self),
                            stderr: String(decoding: cell.stderr, as: UTF8.self), images: outputPath == nil ? [] : cell.images.map(\.name))
                    }
                ).json() + "\n")
            return exitCode
        }
        if !failed.isEmpty {
            Terminal.status(
                "coderunner: \(failed.count) of \(result.cells.count) code cells failed, as their kernel reported (cells \(failed.map { String($0.index + 1) }.joined(separator: ", ")))"
            )
            return 1
        }
        return unsaved.withLock { $0 } > 0 ? 1 : 0
    }
}

/// `run notebook.ipynb --json`: the notebook's cells, each with its status and output (docs/json.md; keys always present).
struct NotebookReport: Encodable {
    struct Cell: Encodable {
        /// The cell's position among all the notebook's cells, from 1.
        var index: Int
        var status: String
        var stdout: String
        var stderr: String
        /// Figure files written (only with --output).
        var images: [String]
    }
    var notebook: String
    var output: String?
    var exitCode: Int32
    var cells: [Cell]

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(notebook, forKey: .notebook)
        try container.encode(output, forKey: .output)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(cells, forKey: .cells)
    }
    enum CodingKeys: String, CodingKey { case notebook, output, exitCode, cells }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
