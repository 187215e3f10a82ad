import Synchronization

/// A mutex in a class, for state that escaping closures (tasks, handlers) share.
public final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    public init(_ value: Value) { mutex = Mutex(value) }
    public func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}
