import ArgumentParser
import CodeRunnerCore
import FoundationEssentials

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
              coderunner config --json | jq '.settings["run.standby"]'
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "List every setting with its description and environment variable instead of the values.") var keys = false
    @Flag(help: "Print JSON for scripts (docs/json.md).") var json = false

    /// `config --json`: where the settings came from and each effective value with its source (keys always present).
    struct Report: Encodable {
        struct Setting: Encodable {
            var value: String
            var source: String
            /// What set it within its source (an environment variable's name, a config file's path), or null.
            var origin: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(value, forKey: .value)
                try container.encode(source, forKey: .source)
                try container.encode(origin, forKey: .origin)
            }
            enum CodingKeys: String, CodingKey { case value, source, origin }
        }
        var configFile: String?
        var runtimesDirectory: String
        var settings: [String: Setting]

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(configFile, forKey: .configFile)
            try container.encode(runtimesDirectory, forKey: .runtimesDirectory)
            try container.encode(settings, forKey: .settings)
        }
        enum CodingKeys: String, CodingKey { case configFile, runtimesDirectory, settings }
    }

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
            if json {
                // Values are checked first: a script gets the error object, not values `run` would refuse.
                try context.validateEveryValue()
                var settings: [String: Report.Setting] = [:]
                for (key, entry) in configuration.sortedEntries {
                    settings[key] = Report.Setting(value: entry.value, source: entry.source.description, origin: entry.origin)
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                let report = Report(configFile: configuration.configFilePath, runtimesDirectory: context.runtimesDirectory, settings: settings)
                Terminal.out(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
                return
            }
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
