import CLibEdit
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// libedit line editing with history and tab completion. `el_gets` blocks, so reads happen on a dedicated
/// dispatch queue, never on the cooperative thread pool.
final class LineEditor: @unchecked Sendable {
    private let editLine: OpaquePointer
    private let history: OpaquePointer
    private let historyPath: String?
    private let queue = DispatchQueue(label: "coderunner.line-editor")
    /// Read from libedit's prompt callback (a C function pointer cannot capture context).
    nonisolated(unsafe) static var currentPrompt: [CChar] = Array("> ".utf8CString)
    /// The word before the cursor and what could replace it, for the line up to the cursor.
    nonisolated(unsafe) static var completer: (@Sendable (String) -> (word: String, candidates: [String]))?

    init?(programName: String, historyPath: String?) {
        guard let el = el_init(programName, cr_stdin(), cr_stdout(), cr_stderr()), let hist = history_init() else { return nil }
        editLine = el
        history = hist
        self.historyPath = historyPath
        cr_history_set_size(hist, 1000)
        cr_history_set_unique(hist, 1)
        if let historyPath { cr_history_load(hist, historyPath) }
        cr_el_set_editor(el, "emacs")
        cr_el_set_history(el, hist)
        cr_el_set_prompt(el) { _ in
            LineEditor.currentPrompt.withUnsafeMutableBufferPointer { $0.baseAddress! }
        }
        cr_el_add_function(el, "coderunner-complete", "Complete meta commands and file names") { el, _ in
            LineEditor.complete(el)
        }
        cr_el_bind(el, "^I", "coderunner-complete")
    }

    deinit {
        el_end(editLine)
        history_end(history)
    }

    /// Reads one line (without the newline); nil on end of input (Ctrl-D on an empty line).
    func readLine(prompt: String) async -> String? {
        Self.currentPrompt = Array(prompt.utf8CString)
        return await withCheckedContinuation { continuation in
            queue.async {
                var count: Int32 = 0
                guard let line = el_gets(self.editLine, &count), count > 0 else {
                    continuation.resume(returning: nil)
                    return
                }
                var text = String(cString: line)
                if text.hasSuffix("\n") { text.removeLast() }
                continuation.resume(returning: text)
            }
        }
    }

    func remember(_ entry: String) {
        guard !entry.isEmpty else { return }
        cr_history_enter(history, entry)
        if let historyPath { cr_history_save(history, historyPath) }
    }

    /// Tab: complete the word before the cursor from the shell's candidates; list them when ambiguous.
    private static func complete(_ el: OpaquePointer?) -> UInt8 {
        guard let el, let info = el_line(el), let completer else { return UInt8(CC_ERROR) }
        let start = info.pointee.buffer!
        let cursor = info.pointee.cursor!
        let length = cursor - start
        let line = String(
            decoding: UnsafeBufferPointer(start: UnsafeRawPointer(start).assumingMemoryBound(to: UInt8.self), count: length), as: UTF8.self)
        let (word, offered) = completer(line)
        let candidates = offered.filter { $0.hasPrefix(word) }
        guard !candidates.isEmpty else { return UInt8(CC_ERROR) }
        if candidates.count == 1 {
            // A folder, a call or an attribute path goes on; a whole word gets its space.
            let goesOn = candidates[0].hasSuffix("/") || candidates[0].hasSuffix("(") || candidates[0].hasSuffix(".")
            let rest = String(candidates[0].dropFirst(word.count)) + (goesOn ? "" : " ")
            el_insertstr(el, rest)
            return UInt8(CC_REDISPLAY)
        }
        let common = candidates.dropFirst().reduce(candidates[0]) { prefix, candidate in
            String(zip(prefix, candidate).prefix { $0 == $1 }.map(\.0))
        }
        if common.count > word.count {
            el_insertstr(el, String(common.dropFirst(word.count)))
            return UInt8(CC_REDISPLAY)
        }
        Terminal.out("\n" + candidates.joined(separator: "  ") + "\n")
        return UInt8(CC_REDISPLAY)
    }
}
