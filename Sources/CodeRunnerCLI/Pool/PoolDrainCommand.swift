import ArgumentParser
import CodeRunnerCore

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

    /// One session, or everyone's containers (--all), or the pool's ready networks (--networks): never a mix.
    func validate() throws {
        guard session == nil || !all else { throw ValidationError("give either --session NAME or --all, not both") }
        guard session == nil || !networks else { throw ValidationError("--networks drains the pool, not a session: leave out --session") }
        guard session != nil || all || networks else {
            throw ValidationError(
                "pool drain without --session removes every user's idle containers: add --all to do that, or --session NAME for one session")
        }
    }

    func run() async throws {
        try await withFailureHandling {
            if networks && !all {
                let context = try AppContext.load(options: global)
                let settings = try context.settings()
                try await Self.drainReadyNetworks(
                    engine: try context.containerEngine(), settings: settings, keep: settings.readyNetworks,
                    claimImages: context.catalog.runtimes.map(\.image))
                return
            }
            if session == nil {
                // --all (validate() refused neither --session nor --all).
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
            if networks {
                try await Self.drainReadyNetworks(
                    engine: engine, settings: try context.settings(), keep: 0, claimImages: context.catalog.runtimes.map(\.image))
            }
        }
    }

    static func drainReadyNetworks(
        engine: any ContainerEngine, settings: EngineSettings, keep: Int, claimImages: [String]
    ) async throws(CommandFailure) {
        let started = ContinuousClock.now
        let removed: [GarbageCollector.Removal]
        do {
            removed = try await GarbageCollector(engine: engine, settings: settings, claimImages: claimImages).removeReadyNetworks(keep: keep) {
                removal in
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
