import ArgumentParser
import CodeRunnerCore

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
    @Argument(help: ArgumentHelp("Language to warm.", valueName: "language"))
    var language: LanguageArgument?
    @Option(help: ArgumentHelp("Session to warm (as used with `run --session`).", valueName: "name")) var session: String?
    @Option(help: "How many containers.") var count = 1
    @Option(help: ArgumentHelp("Make this many session networks ready ahead of need (new sessions lease them at once).", valueName: "n"))
    var networks: Int?
    @Flag(help: "Warm a named session that another user or job (CODERUNNER_JOB) created.") var join = false

    /// Either containers (a language and --session, --count of them) or networks (--networks alone).
    func validate() throws {
        if let networks {
            guard language == nil, session == nil else { throw ValidationError("--networks makes networks, not containers: give it alone") }
            guard (1...4352).contains(networks) else { throw ValidationError("--networks must be between 1 and 4352") }
            return
        }
        guard language != nil, session != nil else {
            throw ValidationError("give a language and --session NAME (containers), or --networks N (networks)")
        }
        guard (1...100).contains(count) else { throw ValidationError("--count must be between 1 and 100") }
    }

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            if let networks {
                let runner = try context.codeRunner()
                let started = ContinuousClock.now
                do {
                    let made = try await runner.networks.fill(count: networks, markerImage: context.catalog.markerImage)
                    let seconds = Double((ContinuousClock.now - started).microseconds) / 1e6
                    Terminal.out("made \(made) session network(s) ready in \(Format.fixed(seconds, digits: 1)) s\n")
                } catch { throw CommandFailure.internalFailure("\(error)") }
                return
            }
            // validate() made sure both are given when --networks is not.
            guard let language, let session else { return }
            let runtime: Runtime
            do {
                try SessionName.validate(session)
                runtime = try language.runtime(in: context.catalog)
            } catch { throw CommandFailure.usage("\(error)") }
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
