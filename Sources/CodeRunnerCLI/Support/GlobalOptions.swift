import ArgumentParser
import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// Options every subcommand that talks to the engine accepts.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Config file to read (default: $XDG_CONFIG_HOME/coderunner/config.toml, ~/.config/coderunner/config.toml, /etc/coderunner/config.toml).",
            valueName: "path"), completion: .file(extensions: ["toml"]))
    var config: String?
}
