import Foundation
import Testing

@testable import CodeRunnerCore

/// How many standbys the keepers keep: the one-shot runs of the last window, between the floor and the ceiling.
struct StandbyDemandTests {
    static func freshDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "standby-demand-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func wantedIsTheRecentRunsBetweenFloorAndCeiling() {
        #expect(StandbyDemand.wanted(recentRuns: 0, floor: 1, ceiling: 4) == 1)
        #expect(StandbyDemand.wanted(recentRuns: 3, floor: 1, ceiling: 4) == 3)
        #expect(StandbyDemand.wanted(recentRuns: 30, floor: 1, ceiling: 4) == 4)
        #expect(StandbyDemand.wanted(recentRuns: 0, floor: 0, ceiling: 4) == 0)
    }

    @Test func onlyRunsWithinTheWindowCount() throws {
        let demand = StandbyDemand(language: "python", directory: try Self.freshDirectory())
        #expect(demand.wantedStandbys(floor: 1, ceiling: 4, window: .seconds(20), now: 1000) == 1, "no file: the floor")
        for at in [900.0, 985, 990, 995, 999] { demand.recordRun(at: at) }
        #expect(demand.wantedStandbys(floor: 1, ceiling: 8, window: .seconds(20), now: 1000) == 4)
        #expect(demand.wantedStandbys(floor: 1, ceiling: 3, window: .seconds(20), now: 1000) == 3)
        #expect(demand.wantedStandbys(floor: 1, ceiling: 8, window: .seconds(20), now: 2000) == 1, "a quiet spell: the floor")
    }

    @Test func garbageLinesAreSkippedAndALongFileIsCompacted() throws {
        let directory = try Self.freshDirectory()
        let demand = StandbyDemand(language: "java", directory: directory)
        let old = (0..<3000).map { "\(($0 + 1) * 1000)\n" }.joined()  // 3000 runs long ago
        try (old + "not a number\n\n" + "5000000\n").write(toFile: demand.path, atomically: true, encoding: .utf8)
        #expect(demand.wantedStandbys(floor: 0, ceiling: 16, window: .seconds(10), now: 5001) == 1)
        #expect(demand.recordedRuns() == [5000], "compacted to the recent entries")
    }

    @Test func concurrentRecordersLoseNothing() async throws {
        let demand = StandbyDemand(language: "cpp", directory: try Self.freshDirectory())
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<200 { group.addTask { demand.recordRun(at: 1000 + Double(index) / 1000) } }
        }
        #expect(demand.recordedRuns().count == 200)
    }

    /// The files live in a folder others may write (/tmp): a FIFO under our name must not hang a run or a keeper, and a
    /// file someone else owns is not ours to read or write.
    @Test func aFIFOOrAForeignFileUnderOurNameIsIgnored() throws {
        let directory = try Self.freshDirectory()
        let demand = StandbyDemand(language: "python", directory: directory)
        #expect(mkfifo(demand.path, 0o666) == 0)
        let started = ContinuousClock.now
        demand.recordRun(at: 1000)
        #expect(demand.wantedStandbys(floor: 1, ceiling: 4, window: .seconds(20), now: 1000) == 1)
        #expect(ContinuousClock.now - started < .seconds(30), "a FIFO must not block")
        unlink(demand.path)
        if getuid() == 0 {
            try "999000\n999100\n999200\n".write(toFile: demand.path, atomically: false, encoding: .utf8)
            #expect(chown(demand.path, 65534, 65534) == 0)
            #expect(demand.recordedRuns().isEmpty, "a file another user owns is not read")
        }
    }
}
