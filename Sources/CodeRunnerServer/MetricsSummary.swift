import CodeRunnerCore

/// The metrics as the operator view shows them: counts by status, run rates over the last minute, latency percentiles
/// estimated from the histograms' buckets (the upper bound of the bucket the percentile falls in).
extension ServerMetrics {
    /// The window of `RunSummary.runsLastMinute`.
    static let rateWindow: Duration = .seconds(60)
    static let maxRecentFinishes = 100_000

    struct Latency: Encodable, Sendable {
        var count: UInt64
        var meanSeconds: Double?
        /// Upper bounds of the buckets the median and the 95th percentile fall in; nil past the last bucket or with no runs.
        var p50Seconds: Double?
        var p95Seconds: Double?
        /// Runs at or under each bound (`le` seconds), cumulative like Prometheus' buckets.
        var buckets: [Bucket]

        struct Bucket: Encodable, Sendable {
            var le: Double
            var count: UInt64
        }
    }

    struct RunSummary: Encodable, Sendable {
        var total: UInt64
        var byStatus: [String: UInt64]
        var byLanguage: [String: [String: UInt64]]
        var runsLastMinute: Int
        var runsPerSecond: Double
        var latency: [String: Latency]
        var firstRunLatency: [String: Latency]
        var sessionsTotal: UInt64
        var busyRejections: UInt64
        var protocolErrors: UInt64
        var cleanupErrors: UInt64
    }

    static func latency(_ histogram: Histogram) -> Latency {
        func percentile(_ q: Double) -> Double? {
            guard histogram.count > 0 else { return nil }
            let wanted = UInt64((q * Double(histogram.count)).rounded(.up))
            for (index, bound) in buckets.enumerated() where histogram.counts[index] >= wanted { return bound }
            return nil
        }
        return Latency(
            count: histogram.count, meanSeconds: histogram.count > 0 ? histogram.sum / Double(histogram.count) : nil,
            p50Seconds: percentile(0.5), p95Seconds: percentile(0.95),
            buckets: zip(buckets, histogram.counts).map { Latency.Bucket(le: $0, count: $1) })
    }

    func runSummary() -> RunSummary {
        let now = ContinuousClock.now
        let snapshot = state.withLock { $0 }
        var byStatus: [String: UInt64] = [:]
        var byLanguage: [String: [String: UInt64]] = [:]
        for (key, count) in snapshot.runs {
            let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 else { continue }
            byStatus[parts[1], default: 0] += count
            byLanguage[parts[0], default: [:]][parts[1], default: 0] += count
        }
        let lastMinute = snapshot.recentFinishes.filter { now - $0 <= Self.rateWindow }.count
        return RunSummary(
            total: byStatus.values.reduce(0, +), byStatus: byStatus, byLanguage: byLanguage, runsLastMinute: lastMinute,
            runsPerSecond: Double(lastMinute) / 60, latency: snapshot.latency.mapValues(Self.latency),
            firstRunLatency: snapshot.firstRunLatency.mapValues(Self.latency), sessionsTotal: snapshot.sessionsTotal,
            busyRejections: snapshot.busyRejections, protocolErrors: snapshot.protocolErrors, cleanupErrors: snapshot.cleanupErrors)
    }
}
