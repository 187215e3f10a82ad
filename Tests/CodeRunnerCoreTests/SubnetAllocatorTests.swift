import Testing

@testable import CodeRunnerCore

@Suite struct SubnetAllocatorTests {
    @Test func parsesAndRejectsCIDRs() {
        #expect(IPv4Network("10.64.0.0/12")?.subnet24Count == 4096)
        #expect(IPv4Network("10.10.0.0/16")?.subnet24Count == 256)
        #expect(IPv4Network("10.64.1.0/12") == nil)  // host bits set
        #expect(IPv4Network("10.64.0.0") == nil)
        #expect(IPv4Network("300.1.1.0/24") == nil)
        #expect(IPv4Network("10.64.0.0/33") == nil)
        #expect(IPv4Network("10.64.0.0/12")!.isPrivate)
        #expect(!IPv4Network("172.80.0.0/12")!.isPrivate)
        #expect(IPv4Network("192.168.4.0/24")!.isPrivate)
    }

    @Test func defaultPoolsHold4352Subnets() async throws {
        let allocator = try SubnetAllocator(poolTexts: ["10.64.0.0/12", "10.10.0.0/16"])
        #expect(allocator.capacity == 4352)
        let original = try SubnetAllocator(poolTexts: ["172.80.0.0/12", "10.10.0.0/16"])
        #expect(original.capacity == 4352)
    }

    @Test func allocatesInOrderAcrossPools() async throws {
        let allocator = try SubnetAllocator(poolTexts: ["10.64.0.0/23", "10.10.0.0/24"])
        #expect(try await allocator.allocate().description == "10.64.0.0/24")
        #expect(try await allocator.allocate().description == "10.64.1.0/24")
        #expect(try await allocator.allocate().description == "10.10.0.0/24")
        await #expect(throws: SubnetError.self) { try await allocator.allocate() }
    }

    @Test func wrapsAroundAfterRelease() async throws {
        let allocator = try SubnetAllocator(poolTexts: ["10.64.0.0/23"])
        let first = try await allocator.allocate()
        let second = try await allocator.allocate()
        await allocator.release(first)
        // The cursor moves on; the released subnet is used again only after wrapping.
        #expect(try await allocator.allocate() == first)
        await allocator.release(second)
        #expect(try await allocator.allocate() == second)
    }

    @Test func cursorDoesNotReuseJustReleasedSubnet() async throws {
        let allocator = try SubnetAllocator(poolTexts: ["10.64.0.0/22"])
        let a = try await allocator.allocate()
        await allocator.release(a)
        let b = try await allocator.allocate()
        #expect(a != b)
    }

    @Test func skipsSubnetsTakenElsewhereAndRecoversFromLabels() async throws {
        let allocator = try SubnetAllocator(poolTexts: ["10.64.0.0/22"])
        await allocator.recover([IPv4Network("10.64.0.0/24")!, IPv4Network("192.168.0.0/24")!])
        #expect(await allocator.usedCount == 1)  // foreign subnets outside the pools are ignored
        let excluded: Set<IPv4Network> = [IPv4Network("10.64.0.0/23")!]  // e.g. a host route covering two /24s
        #expect(try await allocator.allocate(excluding: excluded).description == "10.64.2.0/24")
    }

    @Test func exhaustionNamesThePoolsAndTheWayOut() async throws {
        let allocator = try SubnetAllocator(poolTexts: ["10.64.0.0/24"])
        _ = try await allocator.allocate()
        do {
            _ = try await allocator.allocate()
            Issue.record("expected exhaustion")
        } catch {
            #expect(error.description.contains("10.64.0.0/24"))
            #expect(error.description.contains("net gc"))
        }
    }

    @Test func rejectsBadPools() {
        #expect(throws: SubnetError.self) { try SubnetAllocator(poolTexts: ["10.64.0.0/25"]) }
        #expect(throws: SubnetError.self) { try SubnetAllocator(poolTexts: ["10.64.0.0/12", "10.64.0.0/16"]) }
        #expect(throws: SubnetError.self) { try SubnetAllocator(poolTexts: ["nonsense"]) }
    }

    @Test func allDefaultSubnetsUnderConcurrency() async throws {
        let allocator = try SubnetAllocator(poolTexts: ["10.64.0.0/12", "10.10.0.0/16"])
        let subnets = try await withThrowingTaskGroup(of: IPv4Network.self) { group in
            for _ in 0..<4352 { group.addTask { try await allocator.allocate() } }
            var all: [IPv4Network] = []
            for try await subnet in group { all.append(subnet) }
            return all
        }
        #expect(Set(subnets).count == 4352)
        #expect(subnets.allSatisfy { $0.isPrivate && $0.prefixLength == 24 })
        await #expect(throws: SubnetError.self) { try await allocator.allocate() }
        await allocator.release(subnets[100])
        #expect(try await allocator.allocate() == subnets[100])
    }
}
