import ArgumentParser
import CodeRunnerCore
import FoundationEssentials

struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Show subnet pools, sessions, containers and their TTLs; pre-warm or drain containers.",
        discussion: """
            Docker's own state is the source of truth: every process (CLI runs, `serve`) sees the same picture. \
            A pool gets a warning when it is not a private range, or overlaps a host route or another Docker network.

            Examples:
              coderunner pool
              coderunner pool --json
              coderunner pool warm python --session ci --count 2
              coderunner pool drain --session ci
              coderunner pool drain --all --yes
            """,
        subcommands: [PoolShowCommand.self, PoolWarmCommand.self, PoolDrainCommand.self],
        defaultSubcommand: PoolShowCommand.self)
}

struct PoolShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show pools, sessions and containers (the default).",
        discussion: "Examples:\n  coderunner pool show\n  coderunner pool show --session ci\n  coderunner pool show --json | jq .totals")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON for scripts.") var json = false
    @Option(help: ArgumentHelp("Show only this session.", valueName: "name")) var session: String?

    /// A session the engine has no container or network of (exit 1: nothing went wrong, but nothing was found).
    static func noSuchSession(_ name: String) -> CommandFailure {
        CommandFailure(message: "no session \(name): nothing of it is left (`coderunner pool` lists the sessions)", exitCode: 1)
    }

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            let inventory = Inventory(engine: try context.containerEngine(), settings: try context.settings())
            var report: PoolReport
            do { report = try await inventory.report() } catch { throw CommandFailure.internalFailure("\(error)") }
            if let session {
                report.sessions = report.sessions.filter { $0.name == session }
                guard !report.sessions.isEmpty else { throw Self.noSuchSession(session) }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                Terminal.out(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
                return
            }
            Terminal.out(Self.render(report))
        }
    }

    static func render(_ report: PoolReport) -> String {
        var text = "POOLS\n"
        var rows = [["CIDR", "CAPACITY", "USED", "FREE", "READY", "LEASED", "CREATING", "WARNINGS"]]
        for pool in report.pools {
            rows.append([
                pool.cidr, "\(pool.capacity)", "\(pool.used)", "\(pool.free)", "\(pool.ready)", "\(pool.leased)", "\(pool.creating)",
                pool.warnings.isEmpty ? "-" : pool.warnings.joined(separator: "; "),
            ])
        }
        text += TextTable.render(rows)
        text += "\nSESSIONS\n"
        if report.sessions.isEmpty {
            text += "(none)\n"
        } else {
            var sessionRows = [["SESSION", "NETWORK", "SUBNET", "AGE", "CONTAINER", "LANGUAGE", "STATE", "TTL LEFT"]]
            for session in report.sessions {
                let base = [
                    session.name + (session.ephemeral ? (SessionName.isStandby(session.name) ? " (standby)" : " (one-shot)") : ""),
                    session.network ?? "-", session.subnet ?? "-",
                    session.ageSeconds.map(formatAge) ?? "-",
                ]
                if session.containers.isEmpty {
                    sessionRows.append(base + ["-", "-", "no containers", "-"])
                }
                for (index, container) in session.containers.enumerated() {
                    let state =
                        container.state != "running"
                        ? container.state : (container.busy == true ? "busy" : (container.busy == false ? "idle" : "running"))
                    let ttl = container.busy == true ? "(running)" : container.ttlLeftSeconds.map { "\($0)s" } ?? "-"
                    sessionRows.append((index == 0 ? base : ["", "", "", ""]) + [container.name, container.language, state, ttl])
                }
            }
            text += TextTable.render(sessionRows)
        }
        text +=
            "\nTOTALS: \(report.sessions.count) sessions, \(report.subnetsUsed)/\(report.totalCapacity) subnets used, "
            + "\(report.containerCount) containers (\(report.busyContainers) busy)\n"
        return text
    }

    static func formatAge(_ seconds: Int) -> String {
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        return "\(seconds / 3600)h"
    }
}

struct PoolWarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warm",
        abstract: "Start idle containers for a session ahead of need (they expire after container.ttl), or make session networks ready.",
        discussion: """
            Examples:
              coderunner pool warm python --session ci
              coderunner pool warm java --session class-3 --count 4
              coderunner pool warm --networks 100
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Language to warm.", valueName: "language"), completion: .list(["python", "javascript", "java", "cpp", "sql"]))
    var language: String?
    @Option(help: ArgumentHelp("Session to warm (as used with `run --session`).", valueName: "name")) var session: String?
    @Option(help: "How many containers.") var count = 1
    @Option(help: ArgumentHelp("Make this many session networks ready ahead of need (new sessions lease them at once).", valueName: "n"))
    var networks: Int?
    @Flag(help: "Warm a named session that another user or job (CODERUNNER_JOB) created.") var join = false

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            if let networks {
                guard language == nil, session == nil else { throw CommandFailure.usage("--networks makes networks, not containers: give it alone") }
                guard (1...4352).contains(networks) else { throw CommandFailure.usage("--networks must be between 1 and 4352") }
                let runner = try context.codeRunner()
                let started = ContinuousClock.now
                do {
                    let made = try await runner.networks.fill(count: networks, markerImage: context.catalog.markerImage)
                    let seconds = Double((ContinuousClock.now - started).microseconds) / 1e6
                    Terminal.out("made \(made) session network(s) ready in \(Format.fixed(seconds, digits: 1)) s\n")
                } catch { throw CommandFailure.internalFailure("\(error)") }
                return
            }
            guard let language, let session else {
                throw CommandFailure.usage(
                    "give a language and --session NAME (containers), or --networks N (networks); see `coderunner pool warm --help`")
            }
            let runtime: Runtime
            do {
                try SessionName.validate(session)
                runtime = try context.catalog.runtime(named: language)
            } catch { throw CommandFailure.usage("\(error)") }
            guard (1...100).contains(count) else { throw CommandFailure.usage("--count must be between 1 and 100") }
            let runner = try context.codeRunner(join: join)
            let limits: RunLimits
            do { limits = try runner.settings.limits(for: runtime, configuration: context.configuration) } catch {
                throw CommandFailure.usage("\(error)")
            }
            do {
                let created = try await runner.warm(session: session, runtime: runtime, limits: limits, count: count)
                Terminal.out("warmed \(created.count) \(runtime.language) container(s) in session \(session)\n")
            } catch {
                throw CommandFailure.internalFailure("\(error)")
            }
        }
    }
}

struct PoolDrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain", abstract: "Remove idle containers now (busy ones are left alone); with --session, end that session.",
        discussion: """
            Without --session it removes every user's idle containers on the engine, so it needs --all, and asks on a \
            terminal (--yes answers for scripts). --networks removes the ready session networks beyond network.ready \
            (no session holds them); with --all, every ready one.

            Examples:
              coderunner pool drain --session ci
              coderunner pool drain --networks
              coderunner pool drain --all
              coderunner pool drain --all --yes
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Only this session; its network is removed too.", valueName: "name")) var session: String?
    @Flag(help: "Drain every session's idle containers, every user's (needed without --session).") var all = false
    @Flag(name: [.short, .long], help: "Do not ask for confirmation with --all.") var yes = false
    @Flag(help: "Remove the ready session networks beyond network.ready (with --all: every ready one).") var networks = false

    func run() async throws {
        try await withFailureHandling {
            guard session == nil || !all else { throw CommandFailure.usage("give either --session NAME or --all, not both") }
            guard session == nil || !networks else { throw CommandFailure.usage("--networks drains the pool, not a session: leave out --session") }
            if networks && !all {
                let context = try AppContext.load(options: global)
                let settings = try context.settings()
                try await Self.drainReadyNetworks(engine: try context.containerEngine(), settings: settings, keep: settings.readyNetworks)
                return
            }
            if session == nil {
                guard all else {
                    throw CommandFailure.usage(
                        "pool drain without --session removes every user's idle containers: add --all to do that, or --session NAME for one session")
                }
                guard
                    try Confirmation.ask(
                        "Remove the idle containers of EVERY coderunner session, every user's? [y/N] ", yes: yes,
                        refusal: "--all removes every user's idle containers; add --yes to confirm")
                else { return }
            }
            let context = try AppContext.load(options: global)
            let engine = try context.containerEngine()
            let inventory = Inventory(engine: engine, settings: try context.settings())
            var labels = [ResourceLabel.managed]
            if let session { labels.append("\(ResourceLabel.session)=\(session)") }
            if let session {
                // Nothing to drain is worth saying: the name may be mistyped.
                let known: Bool
                do {
                    let containers = try await engine.containers(labeled: labels)
                    let leases = try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.leaseSession)=\(session)"])
                    let networks = try await engine.networks(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"])
                    known = !containers.isEmpty || !leases.isEmpty || !networks.isEmpty
                } catch { throw CommandFailure.internalFailure("\(error)") }
                guard known else { throw PoolShowCommand.noSuchSession(session) }
            }
            do {
                var removed = 0
                for container in try await engine.containers(labeled: labels) where container.state == "running" {
                    guard let status = await inventory.agentStatus(of: container.id), !status.busy else { continue }
                    try await engine.removeContainer(container.id)
                    removed += 1
                    Terminal.out("removed \(container.name)\n")
                }
                if let session, try await engine.containers(labeled: labels).isEmpty {
                    let runner = try context.codeRunner()
                    try await runner.endSession(session)
                }
                Terminal.out("drained \(removed) idle container(s)\n")
            } catch {
                throw CommandFailure.internalFailure("\(error)")
            }
            if networks { try await Self.drainReadyNetworks(engine: engine, settings: try context.settings(), keep: 0) }
        }
    }

    static func drainReadyNetworks(engine: any ContainerEngine, settings: EngineSettings, keep: Int) async throws(CommandFailure) {
        let started = ContinuousClock.now
        let removed: [GarbageCollector.Removal]
        do {
            removed = try await GarbageCollector(engine: engine, settings: settings).removeReadyNetworks(keep: keep) { removal in
                if let failure = removal.failed {
                    Terminal.err("could not remove network \(removal.name): \(failure)\n")
                } else {
                    Terminal.out("removed network \(removal.name)\n")
                }
            }
        } catch { throw .internalFailure("\(error)") }
        let seconds = Double((ContinuousClock.now - started).microseconds) / 1e6
        let failed = removed.filter { $0.failed != nil }.count
        Terminal.out("drained \(removed.count - failed) ready network(s) in \(Format.fixed(seconds, digits: 1)) s (kept \(keep))\n")
        if failed > 0 {
            throw .internalFailure("\(failed) ready network(s) could not be removed (listed above); run `coderunner pool drain --networks` again")
        }
    }
}

struct NetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net", abstract: "Manage session networks.",
        discussion: "Examples:\n  coderunner net gc --dry-run\n  coderunner net gc",
        subcommands: [NetGCCommand.self])
}

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
            let collector = GarbageCollector(engine: try context.containerEngine(), settings: try context.settings())
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

/// The question before a command removes what may be other users' (`net gc --all`, `pool drain --all`).
enum Confirmation {
    /// True to go ahead: `yes` was given, or the user answered y on the terminal. Off a terminal without `yes` the
    /// command fails with `refusal` (which should name --yes), so a script never removes everything by accident.
    static func ask(_ question: String, yes: Bool, refusal: String) throws(CommandFailure) -> Bool {
        if yes { return true }
        guard Terminal.isTerminal(0) else { throw .usage(refusal) }
        Terminal.err(question)
        guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
            Terminal.err("nothing removed\n")
            return false
        }
        return true
    }
}
