/// Decides when typed lines form a complete cell, the way each language's own REPL does, so the interactive shell
/// and piped input split cells identically.
public struct CellSplitter: Sendable {
    public let language: String

    public init(language: String) { self.language = language }

    /// Whether `lines` (the cell so far) needs more input before it can run.
    public func needsMore(_ lines: [String]) -> Bool {
        guard let last = lines.last else { return false }
        let text = lines.joined(separator: "\n")
        let scan = Self.scan(text, language: language)
        if scan.unclosedString { return true }
        switch language {
        case "python":
            if scan.depth > 0 { return true }
            if last.hasSuffix("\\") { return true }
            // A compound statement continues until an empty line, as in the Python REPL.
            let first = lines.first ?? ""
            let opensBlock =
                lines.count == 1
                ? last.trimmingTrailingWhitespace().hasSuffix(":")
                : isCompound(first) || lines.contains { $0.trimmingTrailingWhitespace().hasSuffix(":") }
            if opensBlock { return !last.trimmingWhitespace().isEmpty }
            return false
        case "sql":
            let trimmed = text.trimmingWhitespace()
            if trimmed.isEmpty { return false }
            return !trimmed.hasSuffix(";") && !trimmed.hasPrefix(":")
        default:
            return scan.depth > 0 || last.hasSuffix("\\")
        }
    }

    func isCompound(_ line: String) -> Bool {
        let keywords = ["def ", "class ", "if ", "for ", "while ", "with ", "try:", "async ", "@", "match "]
        let trimmed = line.trimmingWhitespace()
        return keywords.contains { trimmed.hasPrefix($0) }
    }

    struct Scan {
        var depth: Int
        var unclosedString: Bool
    }

    /// Bracket depth and open strings, skipping comments and string contents.
    static func scan(_ text: String, language: String) -> Scan {
        var depth = 0
        var quote: [Character]? = nil
        var chars = Array(text)
        var index = 0
        let hashComments = language == "python"
        let slashComments = ["javascript", "java", "cpp"].contains(language)
        let dashComments = language == "sql"
        chars.append("\n")
        while index < chars.count - 1 {
            let c = chars[index]
            if let q = quote {
                if c == "\\" && language != "sql" {
                    index += 2
                    continue
                }
                if Array(chars[index..<min(chars.count, index + q.count)]) == q {
                    index += q.count
                    quote = nil
                    continue
                }
                // An unterminated single-line string: let the language report it.
                if q.count == 1 && c == "\n" && language != "javascript" && !(language == "sql") { quote = nil }
                index += 1
                continue
            }
            if hashComments && c == "#" {
                while index < chars.count && chars[index] != "\n" { index += 1 }
                continue
            }
            if slashComments && c == "/" && chars[index + 1] == "/" {
                while index < chars.count && chars[index] != "\n" { index += 1 }
                continue
            }
            if slashComments && c == "/" && chars[index + 1] == "*" {
                index += 2
                while index < chars.count - 1 && !(chars[index] == "*" && chars[index + 1] == "/") { index += 1 }
                if index >= chars.count - 1 { return Scan(depth: depth, unclosedString: true) }
                index += 2
                continue
            }
            if dashComments && c == "-" && chars[index + 1] == "-" {
                while index < chars.count && chars[index] != "\n" { index += 1 }
                continue
            }
            if c == "\"" || c == "'" || (c == "`" && (language == "javascript" || language == "sql")) {
                if language == "python", index + 2 < chars.count, chars[index + 1] == c, chars[index + 2] == c {
                    quote = [c, c, c]
                    index += 3
                    continue
                }
                if language == "java", c == "\"", index + 2 < chars.count, chars[index + 1] == "\"", chars[index + 2] == "\"" {
                    quote = ["\"", "\"", "\""]
                    index += 3
                    continue
                }
                quote = [c]
                index += 1
                continue
            }
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) { depth -= 1 }
            index += 1
        }
        let multiLineOpen = quote.map { $0.count == 3 || $0 == ["`"] || language == "sql" } ?? false
        return Scan(depth: max(depth, 0), unclosedString: multiLineOpen)
    }

    /// Splits a whole script (piped input) into cells exactly as typing it line by line would.
    public func split(_ text: String) -> [String] {
        var cells: [String] = []
        var current: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if current.isEmpty && line.trimmingWhitespace().isEmpty { continue }
            current.append(line)
            if !needsMore(current) {
                let cell = current.joined(separator: "\n")
                if !cell.trimmingWhitespace().isEmpty { cells.append(Self.trimBlankTail(current)) }
                current = []
            }
        }
        if !current.isEmpty, !current.joined().trimmingWhitespace().isEmpty { cells.append(Self.trimBlankTail(current)) }
        return cells
    }

    /// What piped input holds next: a cell, or (with meta commands on) a `:` line of its own.
    public enum PipedUnit: Equatable, Sendable {
        case cell(String)
        case meta(String)
    }

    /// Takes the next cell (or meta command line) off the front of piped input, cut exactly as `split` cuts, and
    /// leaves the bytes after it in `input`: the shell gives those to the cell as its stdin and goes on after what
    /// the cell read. nil at the end of the input.
    public func next(in input: inout ArraySlice<UInt8>, metaCommands: Bool) -> PipedUnit? {
        var current: [String] = []
        while !input.isEmpty {
            let newline = input.firstIndex(of: UInt8(ascii: "\n"))
            let line = String(decoding: input[..<(newline ?? input.endIndex)], as: UTF8.self)
            input = input[(newline.map { $0 + 1 } ?? input.endIndex)...]
            if current.isEmpty && line.trimmingWhitespace().isEmpty { continue }
            if current.isEmpty && metaCommands && line.hasPrefix(":") { return .meta(line) }
            current.append(line)
            if !needsMore(current) {
                if current.joined(separator: "\n").trimmingWhitespace().isEmpty {
                    current = []
                    continue
                }
                return .cell(Self.trimBlankTail(current))
            }
        }
        guard !current.isEmpty, !current.joined().trimmingWhitespace().isEmpty else { return nil }
        return .cell(Self.trimBlankTail(current))
    }

    static func trimBlankTail(_ lines: [String]) -> String {
        var lines = lines
        while let last = lines.last, last.trimmingWhitespace().isEmpty { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var slice = Substring(self)
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
