import AgentProtocol

/// Limits and checks for rich output (`KernelEvent.display`), which user code can forge (see `KernelSession.display`).
public enum KernelDisplay {
    /// Displays per cell: a cell that draws this many figures is runaway or forging them.
    public static let maxPerCell = 64

    /// A cell's error (traceback) as the Python and JavaScript kernels report it: text that clients may show as an
    /// error (the original web client's `error` output); everything else treats it as the cell's stderr.
    public static let tracebackMIME = "text/vnd.coderunner.traceback"

    /// `type/subtype` of RFC 6838 characters, at most 127 bytes: the type becomes a JSON key and a file extension.
    public static func isValidMIME(_ mime: String) -> Bool {
        let parts = mime.split(separator: "/", omittingEmptySubsequences: false)
        guard mime.utf8.count <= 127, parts.count == 2 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty
                && part.unicodeScalars.allSatisfy {
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "!#$&^_.+-".unicodeScalars.contains($0))
                }
        }
    }
}

/// What a kernel reports while cells run.
public enum KernelEvent: Sendable, Equatable {
    case output(cell: UInt32, stream: ProgramStream, bytes: [UInt8])
    /// Rich output, e.g. `image/png` bytes of a matplotlib figure.
    case display(cell: UInt32, mime: String, data: [UInt8])
    /// The kernel died (memory limit, crash); the next `execute` restarts it.
    case exited(String)
}

/// How one cell ended.
public struct CellResult: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case ok, error, interrupted, timeout
        case outputLimit = "output-limit"
        case kernelDied = "kernel-died"
    }

    public var cell: UInt32
    public var status: Status
    public var wallMilliseconds: Double
    /// Bytes of the cell's input its code read (the shell's piped mode goes on after them); not part of reports.
    public var inputBytesRead: UInt64 = 0

    public var succeeded: Bool { status == .ok }

    enum CodingKeys: String, CodingKey { case cell, status, wallMilliseconds }

    public init(cell: UInt32, status: Status, wallMilliseconds: Double, inputBytesRead: UInt64 = 0) {
        self.cell = cell
        self.status = status
        self.wallMilliseconds = wallMilliseconds
        self.inputBytesRead = inputBytesRead
    }
}

public enum KernelError: Error, Equatable, CustomStringConvertible {
    case noKernel(language: String, available: [String])
    case startFailed(String)
    case notRunning

    public var description: String {
        switch self {
        case .noKernel(let language, let available):
            return "\(language) has no interactive kernel; languages with one: \(available.joined(separator: ", "))"
        case .startFailed(let reason):
            return "the kernel did not start: \(reason)"
        case .notRunning:
            return "the kernel is not running; use :reset (or kernel.restart) to start it again"
        }
    }
}
