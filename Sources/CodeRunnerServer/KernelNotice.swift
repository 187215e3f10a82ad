import CodeRunnerCore
import Synchronization

/// Which kernel an event concerns: its id, and for Socket.IO clients the notebook it serves.
struct KernelRef: Sendable, Equatable {
    var id: String
    var notebook: String?

    /// The native protocol's single kernel per connection (`kernel.start` replaces it).
    static let native = KernelRef(id: "default", notebook: nil)
}

/// Kernel happenings a protocol may report (kept apart from the engine's types so protocols stay simple).
/// `cellRef` is the client's own name for a cell (`cellId`), echoed back; `cell` is the kernel's cell number.
enum KernelNotice: Sendable {
    case starting(KernelRef)
    case started(KernelRef, language: String)
    case executing(KernelRef, cellRef: String?, count: Int)
    case output(KernelRef, cell: UInt32, cellRef: String?, stream: ProgramStream, text: String)
    /// `data` is text for `text/*` and JSON types, base64 otherwise.
    case display(KernelRef, cell: UInt32, cellRef: String?, mime: String, data: String)
    case result(KernelRef, cell: UInt32, cellRef: String?, status: CellResult.Status, milliseconds: Double)
    case interrupted(KernelRef)
    case restarted(KernelRef)
    /// The kernel process died (memory limit, crash); the next cell starts a new one.
    case exited(KernelRef, reason: String)
    case shutdown(KernelRef)
    /// Names the kernel offers for the end of a line (`kernel.complete`), with the client's request id.
    case completions(KernelRef, requestID: String?, matches: [String])
    /// A kernel request failed; the ids are those it concerns, as far as they are known.
    case failed(kernelID: String?, notebook: String?, cellRef: String?, error: ProtocolError)
}

/// One kernel of a connection and what goes on around it. The session actor owns the table of them.
struct KernelSlot {
    let ref: KernelRef
    /// Tells this slot from a later one with the same id (a native `kernel.start` replaces the kernel).
    let generation: Int
    var kernel: KernelSession?
    var starting = true
    var busy = false
    var task: Task<Void, Never>?
    /// Cells run so far (the original client shows it as the cell's execution count).
    var executionCount = 0
    let output = KernelOutputRouter()
}

/// Batches each cell's output like a run's (`OutputBatcher`), one batcher per cell, and remembers the client's name
/// for the running cell (a kernel runs one cell at a time, so output belongs to the cell sent last).
final class KernelOutputRouter: Sendable {
    let batchers = Mutex<[UInt32: OutputBatcher]>([:])
    let runningCellRef = Mutex<String?>(nil)

    func batcher(cell: UInt32, make: () -> OutputBatcher) -> OutputBatcher {
        batchers.withLock { table in
            if let existing = table[cell] { return existing }
            let created = make()
            table[cell] = created
            return created
        }
    }

    func finish(cell: UInt32) {
        let batcher = batchers.withLock { $0.removeValue(forKey: cell) }
        batcher?.finish()
    }

    func finishAll() {
        let all = batchers.withLock { table -> [OutputBatcher] in
            defer { table = [:] }
            return Array(table.values)
        }
        for batcher in all { batcher.finish() }
    }
}
