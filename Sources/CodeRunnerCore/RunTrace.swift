#if canImport(Glibc)
import Glibc
#endif

/// Where a run's time goes, step by step: with `CODERUNNER_TRACE=1` every step writes `coderunner-trace MS STEP` to
/// stderr, MS counted from the first mark (the CLI marks its start). `.ci/bench --profile` collects these lines; they
/// come from the real code path, not from a replay of it.
public enum RunTrace {
    public static let enabled: Bool = getenv("CODERUNNER_TRACE").map { String(cString: $0) == "1" } ?? false
    private static let origin = ContinuousClock.now

    /// Records that `step` is done now (nothing when tracing is off).
    public static func mark(_ step: @autoclosure () -> String) {
        guard enabled else { return }
        let start = origin  // first: the first mark sets it, and must not come out negative
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let line = "coderunner-trace \((milliseconds * 10).rounded() / 10) \(step())\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
