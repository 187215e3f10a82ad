import Testing

@testable import CodeRunnerCore

@Suite struct QuantityTests {
    @Test func durations() throws {
        #expect(try Quantity.duration("500ms") == .milliseconds(500))
        #expect(try Quantity.duration("2s") == .seconds(2))
        #expect(try Quantity.duration("1m") == .seconds(60))
        #expect(try Quantity.duration("1.5s") == .milliseconds(1500))
        #expect(try Quantity.duration("3") == .seconds(3))
        #expect(throws: QuantityParseError.self) { try Quantity.duration("fast") }
        #expect(throws: QuantityParseError.self) { try Quantity.duration("-1s") }
        #expect(throws: QuantityParseError.self) { try Quantity.duration("") }
    }

    @Test func byteSizes() throws {
        #expect(try Quantity.byteSize("128m") == 128 << 20)
        #expect(try Quantity.byteSize("1g") == 1 << 30)
        #expect(try Quantity.byteSize("512k") == 512 << 10)
        #expect(try Quantity.byteSize("1MiB") == 1 << 20)
        #expect(try Quantity.byteSize("100") == 100)
        #expect(throws: QuantityParseError.self) { try Quantity.byteSize("lots") }
        #expect(throws: QuantityParseError.self) { try Quantity.byteSize("m") }
    }

    @Test func formatting() {
        #expect(Quantity.formatBytes(128 << 20) == "128m")
        #expect(Quantity.formatBytes(1 << 30) == "1g")
        #expect(Quantity.formatDuration(.milliseconds(500)) == "500ms")
        #expect(Quantity.formatDuration(.seconds(2)) == "2s")
        #expect(Quantity.formatDuration(.seconds(120)) == "2m")
    }
}
