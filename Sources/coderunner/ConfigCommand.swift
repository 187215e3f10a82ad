import ArgumentParser
import CodeRunnerCore

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the effective settings and where each came from.",
        discussion: """
            Precedence, lowest first: built-in defaults (and runtime manifests for runtime.<language>.*), the config \
            file, CODERUNNER_* environment variables (a key's variable is CODERUNNER_ plus the key in upper case with \
            dots and camel humps as underscores: network.pools -> CODERUNNER_NETWORK_POOLS, runtime.python.memory -> \
            CODERUNNER_RUNTIME_PYTHON_MEMORY; DOCKER_HOST sets docker.host), then command-line flags.

            Examples:
              coderunner config
              coderunner config --keys
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "List every setting with its description and environment variable instead of the values.") var keys = false

    func run() async throws {
        try await withFailureHandling {
            let context = try AppContext.load(options: global)
            if keys {
                var rows = [["KEY", "DEFAULT", "ENVIRONMENT", "DESCRIPTION"]]
                for key in Configuration.keys {
                    rows.append([key.name, key.defaultValue.isEmpty ? "\"\"" : key.defaultValue, key.environmentName, key.help])
                }
                for (suffix, help) in Configuration.runtimeKeySuffixes {
                    rows.append(["runtime.<language>.\(suffix)", "(manifest)", "CODERUNNER_RUNTIME_<LANGUAGE>_\(suffix.uppercased())", help])
                }
                Terminal.out(TextTable.render(rows))
                return
            }
            let configuration = context.configuration
            Terminal.out("# config file: \(configuration.configFilePath ?? "none")\n# runtimes: \(context.runtimesDirectory)\n")
            var rows = [["KEY", "VALUE", "SOURCE"]]
            for (key, entry) in configuration.sortedEntries {
                let source = entry.origin.map { "\(entry.source) (\($0))" } ?? entry.source.description
                rows.append([key, entry.value.isEmpty ? "\"\"" : entry.value, source])
            }
            Terminal.out(TextTable.render(rows))
            // A value `run` or `serve` would refuse is an error here too, in the same words.
            try context.validateEveryValue()
        }
    }
}
