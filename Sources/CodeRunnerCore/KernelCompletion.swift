import AgentProtocol

/// Tab completion from the kernel's live state (variables, functions, modules, attributes), as Python's and Node's
/// own REPLs complete: the shell and `serve` ask with the line before the cursor.
extension KernelSession {
    /// Names that could replace the word before the cursor at the end of `line`. Empty while a cell runs, from a kernel
    /// whose driver cannot complete, or when no answer comes within `timeout` (a driver evaluates `a.b` to list its
    /// attributes, like the REPL, and user code can make that slow). The names come from the kernel process, which runs
    /// user code: any with control characters are dropped, and there are at most `AgentWire.maxCompletions`.
    public func complete(_ line: String, timeout: Duration = .seconds(1)) async -> [String] {
        guard alive, pendingCell == nil, sendingCell == nil, sendingCompletion == nil else { return [] }
        let request = nextCompletion
        nextCompletion &+= 1
        sendingCompletion = request
        earlyCompletion = nil
        let code = Array(line.utf8.suffix(4096))
        do {
            try await connection.write(AgentWire.encode(EngineMessage.complete(request: request, code: code)))
        } catch {
            sendingCompletion = nil
            return []
        }
        sendingCompletion = nil
        if let early = earlyCompletion {
            earlyCompletion = nil
            return early
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.completionTimedOut(request: request)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { completionWaiters[request] = $0 }
    }

    func completionsArrived(request: UInt32, matches: [String]) {
        let names = Self.safeCompletions(matches)
        if let waiter = completionWaiters.removeValue(forKey: request) {
            waiter.resume(returning: names)
        } else if sendingCompletion == request {
            earlyCompletion = names
        }
    }

    func completionTimedOut(request: UInt32) {
        completionWaiters.removeValue(forKey: request)?.resume(returning: [])
    }

    /// Distinct names without control characters (a terminal would act on them), at most the protocol's count.
    static func safeCompletions(_ matches: [String]) -> [String] {
        var seen: Set<String> = []
        return matches.filter { name in
            !name.isEmpty && name.utf8.count <= AgentWire.maxCompletionBytes
                && !name.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
                && seen.insert(name).inserted
        }.prefix(AgentWire.maxCompletions).map { $0 }
    }
}
