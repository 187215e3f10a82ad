/// At most `width` holders at once; the others wait, in the order they came. For work dockerd would queue past its
/// API timeout when sent all at once (network creations, session removals after a mass disconnect).
public final class AsyncSlots: Sendable {
    private let state: Locked<(free: Int, waiting: [CheckedContinuation<Void, Never>])>

    public init(width: Int) {
        state = Locked((max(1, width), []))
    }

    /// Returns once a slot is this caller's; give it back with `release()`.
    public func acquire() async {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Hands the slot to the longest waiter, or frees it.
    public func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
