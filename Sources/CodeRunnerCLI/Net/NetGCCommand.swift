import ArgumentParser
import CodeRunnerCore
import FoundationEssentials

struct NetGCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove orphaned session networks and containers.",
        discussion: """
            Removes coderunner containers that are no longer running or whose coderunner process is gone; gives back the \
            networks of sessions that are over (their leases); removes the ready session networks beyond network.ready \
            (8 by default, kept for the next sessions). Networks and containers without coderunner's labels are never \
            touched. Removals run several at a time; on a terminal each is reported as it happens, and the total time at \
            the end.

            Examples:
              coderunner net gc --dry-run
              coderunner net gc
              coderunner net gc --all --yes
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "List what would be removed without removing it.") var dryRun = false
    @Flag(help: "Remove every coderunner network and container, in use or not.") var all = false
    @Flag(name: [.short, .long], help: "Do not ask for confirmation with --all.") var yes = false
    @Flag(help: "Print JSON for scripts.") var json = false

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            let collector = GarbageCollector(
                engine: try context.containerEngine(), settings: try context.settings(), claimImages: context.catalog.runtimes.map(\.image))
            if all && !dryRun {
                guard
                    try Confirmation.ask(
                        "Remove EVERY coderunner network and container, including running sessions? [y/N] ", yes: yes,
                        refusal: "--all removes every coderunner session, including running ones; add --yes to confirm")
                else { return }
            }
            let removals: [GarbageCollector.Removal]
            let started = ContinuousClock.now
            let verb = dryRun ? "would remove" : "removed"
            // Progress as it happens (a full pool takes minutes); the list itself follows on stdout.
            let progress = json || !Terminal.isTerminal(2) ? nil : Self.reportProgress(verb: verb)
            do { removals = try await collector.collect(all: all, dryRun: dryRun, progress: progress) } catch {
                throw CommandFailure.internalFailure("\(error)")
            }
            let seconds = Double((ContinuousClock.now - started).microseconds) / 1e6
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                Terminal.out(String(decoding: try encoder.encode(removals), as: UTF8.self) + "\n")
                return
            }
            let done = removals.filter { $0.failed == nil }
            let failed = removals.filter { $0.failed != nil }
            for removal in done { Terminal.out("\(verb) \(removal.kind) \(removal.name) (\(removal.reason))\n") }
            for removal in failed { Terminal.err("could not remove \(removal.kind) \(removal.name): \(removal.failed ?? "")\n") }
            func count(_ kind: String) -> Int { done.filter { $0.kind == kind }.count }
            Terminal.out(
                "\(verb) \(count("container")) container(s), \(count("lease")) lease(s) and \(count("network")) network(s) in \(Format.fixed(seconds, digits: 1)) s\n"
            )
            if !failed.isEmpty {
                // dockerd can keep endpoints (or a container entry) of containers it has removed; a restart of the
                // daemon clears them.
                throw CommandFailure.internalFailure(
                    "\(failed.count) could not be removed (listed above); run `coderunner net gc` again, and if Docker still says "
                        + "\"active endpoints\" with no container attached, restart dockerd and run it once more")
            }
        }
    }

    static func reportProgress(verb: String) -> @Sendable (GarbageCollector.Removal) -> Void {
        { removal in if removal.failed == nil { Terminal.err("\(verb) \(removal.kind) \(removal.name)\n") } }
    }
}
