import ArgumentParser
import CodeRunnerCore
import FoundationEssentials

/// Renders the man page and the shell completion scripts from the command definitions themselves, so the
/// committed files in man/ and completions/ cannot drift from `--help` (GeneratedFilesTests compares them).
/// Hidden: it is a tool for maintainers and packagers (`.ci/generate-docs`), not for users.
struct GenerateDocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-docs",
        abstract: "Render the man page and the shell completion scripts.",
        discussion: """
            With --output-dir the files are written to DIR/man/coderunner.1 and DIR/completions/{coderunner.bash,\
            _coderunner,coderunner.fish}; otherwise the requested document is printed on stdout.

            Examples:
              coderunner generate-docs --man
              coderunner generate-docs --completions zsh
              coderunner generate-docs --output-dir .
            """,
        shouldDisplay: false)

    @Flag(help: "Print the man page (roff, man(7) macros).") var man = false
    @Option(
        help: ArgumentHelp("Print the completion script for a shell (bash, zsh, fish).", valueName: "shell"),
        completion: .list(["bash", "zsh", "fish"]))
    var completions: String?
    @Option(
        help: ArgumentHelp("Write every generated file below this folder (the repository root).", valueName: "dir"),
        completion: .directory)
    var outputDir: String?
    @Option(help: ArgumentHelp("Date printed in the man page; pinned so regenerating an unchanged page changes nothing.", valueName: "yyyy-mm-dd"))
    var date: String = ManualPage.pinnedDate

    func validate() throws {
        if !man && completions == nil && outputDir == nil {
            throw ValidationError("give --man, --completions <shell> or --output-dir <dir>")
        }
        if let completions, CompletionShell(rawValue: completions) == nil {
            throw ValidationError("--completions takes bash, zsh or fish")
        }
    }

    func run() throws {
        if man { Terminal.out(try ManualPage.render(date: date)) }
        if let completions, let shell = CompletionShell(rawValue: completions) { Terminal.out(RootCommand.completionScript(for: shell) + "\n") }
        guard let outputDir else { return }
        var files = [("man/coderunner.1", try ManualPage.render(date: date))]
        for (shell, name) in GeneratedFiles.completionFiles {
            files.append(("completions/" + name, RootCommand.completionScript(for: shell) + "\n"))
        }
        for (path, text) in files {
            let full = outputDir + "/" + path
            guard LocalFile.write(text, to: full) else {
                Terminal.err("coderunner: cannot write \(full); check that the folder exists and is writable\n")
                throw ExitCode(ExitStatus.internalFailure)
            }
            Terminal.err("wrote \(full)\n")
        }
    }
}

enum GeneratedFiles {
    /// Completion script file names, as bash-completion, zsh's fpath and fish look them up.
    static let completionFiles: [(CompletionShell, String)] = [(.bash, "coderunner.bash"), (.zsh, "_coderunner"), (.fish, "coderunner.fish")]
}

enum LocalFile {
    /// Writes `text` to `path` (created or truncated). Returns false on any failure.
    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The subset of ArgumentParser's `--experimental-dump-help` JSON (ToolInfoV0) the man page needs.
/// The ArgumentParserToolInfo module is not a product of swift-argument-parser, so its shape is mirrored here.
struct ToolInfo: Decodable {
    var command: CommandInfo

    struct CommandInfo: Decodable {
        var commandName: String
        var shouldDisplay: Bool?
        var abstract: String?
        var discussion: String?
        var subcommands: [CommandInfo]?
        var arguments: [ArgumentInfo]?
    }

    struct ArgumentInfo: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }
        var kind: String  // positional, option, flag
        var shouldDisplay: Bool
        var isOptional: Bool
        var isRepeating: Bool
        var names: [Name]?
        var valueName: String?
        var defaultValue: String?
        var abstract: String?
        var discussion: String?
    }
}

/// Builds man/coderunner.1 as plain man(7) roff: `groff -man` and mandoc both render it without warnings.
enum ManualPage {
    /// Bump when the page's content changes meaningfully; regeneration with the same inputs must be byte-identical.
    static let pinnedDate = "2026-11-26"

    static func render(date: String) throws -> String {
        let info = try JSONDecoder().decode(ToolInfo.self, from: Data(RootCommand._dumpHelp().utf8))
        var page = Roff()
        page.raw(".\\\" Generated by `coderunner generate-docs --man` from the command definitions; do not edit.")
        page.raw(".\\\" Regenerate with .ci/generate-docs.")
        page.raw(".TH CODERUNNER 1 \(date) \"coderunner \(RootCommand.version)\" \"User Commands\"")
        // Option names, keys and variables must not be hyphenated or stretched across a justified line.
        page.raw(".nh")
        page.raw(".ad l")
        page.raw(".SH NAME")
        page.raw("coderunner \\- " + Roff.escape(lowercasedFirst(info.command.abstract ?? "")).trimmingSuffix("."))

        let commands = flatten(info.command, type: RootCommand.self, path: [])
        page.raw(".SH SYNOPSIS")
        for (index, command) in commands.enumerated() where !command.path.isEmpty {
            if index > 1 { page.raw(".br") }
            page.raw(Roff.code(command.usage))
        }

        page.raw(".SH DESCRIPTION")
        var examples: [(String, [String])] = []
        let rootText = Discussion(info.command.discussion ?? "")
        page.paragraphs(rootText.paragraphs)
        if !rootText.examples.isEmpty { examples.append(("coderunner", rootText.examples)) }
        page.raw(".PP")
        page.text("Every subcommand prints its own help with `coderunner help <subcommand>` or `coderunner <subcommand> --help`.")

        page.raw(".SH COMMANDS")
        for command in commands where !command.path.isEmpty {
            page.raw(".SS " + Roff.quoted(command.fullName))
            page.raw(".PP")
            page.raw(Roff.code(command.usage))
            if let abstract = command.info.abstract {
                page.raw(".PP")
                page.text(abstract)
            }
            let text = Discussion(command.info.discussion ?? "")
            page.paragraphs(text.paragraphs)
            if !text.examples.isEmpty { examples.append((command.fullName, text.examples)) }
            if let subcommands = command.info.subcommands?.filter({ $0.shouldDisplay ?? true }), !subcommands.isEmpty {
                page.raw(".PP")
                page.text("Subcommands: " + subcommands.map { "`\(command.fullName) \($0.commandName)`" }.joined(separator: ", ") + ".")
            }
            let arguments = (command.info.arguments ?? []).filter(\.shouldDisplay)
            if !arguments.isEmpty {
                page.raw(".PP")
                page.raw("Options:")
                for argument in arguments { page.argument(argument) }
            }
            if !text.examples.isEmpty {
                page.raw(".PP")
                page.raw("Examples:")
                page.example(text.examples)
            }
        }

        page.raw(".SH CONFIGURATION")
        page.text(
            """
            Settings come from, lowest precedence first: built-in defaults (and the runtime manifests for \
            `runtime.<language>.*`), the config file, `CODERUNNER_*` environment variables, then command-line flags. \
            The config file is TOML: a key `section.name` is written as `name = value` under `[section]` \
            (runtime keys under `[runtime.<language>]`). A key's environment variable is `CODERUNNER_` plus the key in \
            upper case, with dots and camel humps turned into underscores. Unknown keys and unknown `CODERUNNER_*` \
            variables are errors, so typos do not go unnoticed. `coderunner config` prints the effective values and \
            where each came from; man/config.example.toml in the source tree lists every key at its default.
            """)
        for key in Configuration.keys {
            let shown = key.defaultValue.isEmpty ? "\"\"" : key.defaultValue
            page.raw(".TP")
            page.raw(Roff.code(key.name) + " (" + Roff.code(key.environmentName) + "; default " + Roff.code(shown) + ")")
            page.text(capitalizedFirst(key.help) + ".")
        }
        for (suffix, help) in Configuration.runtimeKeySuffixes {
            page.raw(".TP")
            page.raw(
                Roff.code("runtime.<language>.\(suffix)") + " (" + Roff.code("CODERUNNER_RUNTIME_<LANGUAGE>_\(suffix.uppercased())")
                    + "; default from the runtime manifest)")
            page.text(capitalizedFirst(help) + ".")
        }

        page.raw(".SH ENVIRONMENT")
        for (name, help) in environment {
            page.raw(".TP")
            page.raw(Roff.code(name))
            page.text(help)
        }

        page.raw(".SH EXIT STATUS")
        for (code, help) in exitStatus {
            page.raw(".TP")
            page.raw(Roff.code(code))
            page.text(help)
        }

        page.raw(".SH FILES")
        for (path, help) in files {
            page.raw(".TP")
            page.raw("\\fI" + Roff.escape(path, code: true) + "\\fR")
            page.text(help)
        }

        page.raw(".SH EXAMPLES")
        for (name, lines) in examples {
            page.raw(".PP")
            page.text("`\(name)`:")
            page.example(lines)
        }

        page.raw(".SH SEE ALSO")
        page.raw("\\fBdocker\\fR(1), \\fBdockerd\\fR(8)")
        return page.output
    }

    static let environment: [(String, String)] = [
        ("CODERUNNER_CONFIG", "Config file to read instead of the default locations (the --config option wins over it)."),
        ("CODERUNNER_SESSION", "Session name for `coderunner run` when --session is not given: its warm container is reused between runs."),
        ("CODERUNNER_RUNTIMES_DIR", "Folder with the runtime definitions (the runtimes.dir setting)."),
        ("CODERUNNER_AGENT", "Path of the static in-container agent that `coderunner images build` copies into runtime images."),
        (
            "CODERUNNER_BASE_IMAGE",
            "Base image the runtime Dockerfiles build on (default coderunner/base:bookworm); empty uses each Dockerfile's own default."
        ),
        (
            "CODERUNNER_TRACE",
            "When 1, `coderunner run` writes a line `coderunner-trace MS STEP` to stderr as each step of the run is done (MS from the command's start): where the time goes."
        ),
        ("CODERUNNER_<KEY>", "Any configuration key, e.g. CODERUNNER_NETWORK_POOLS or CODERUNNER_RUNTIME_PYTHON_MEMORY; see CONFIGURATION."),
        ("DOCKER_HOST", "Docker Engine API endpoint (unix:///path or tcp://host:port); sets docker.host."),
        ("NO_COLOR", "When set (to anything), output has no colours. Colours are also off when the output is not a terminal or TERM is dumb."),
        ("XDG_CONFIG_HOME, HOME", "Where the user's config file is looked up (see FILES)."),
    ]

    static let exitStatus: [(String, String)] = [
        ("0", "Success; for `coderunner run`, the program exited with 0."),
        (
            "1-123",
            "For `coderunner run`, the program's own exit code, or the compiler's when compilation failed. `coderunner doctor` exits with 1 when a check failed."
        ),
        ("64", "Bad usage: an unknown option, an invalid value or setting."),
        ("124", "The program ran longer than its timeout."),
        ("125", "coderunner itself failed (Docker unreachable, image missing, build failed)."),
        ("128+N", "The program was killed by signal N; 137 (SIGKILL) when it exceeded its memory limit."),
        ("130", "The run was stopped with Ctrl-C (SIGINT)."),
    ]

    static let files: [(String, String)] = [
        ("$XDG_CONFIG_HOME/coderunner/config.toml", "User config file, read first when it exists."),
        ("~/.config/coderunner/config.toml", "User config file, when $XDG_CONFIG_HOME has none."),
        ("/etc/coderunner/config.toml", "System-wide config file, when no user config file exists. Only the first file found is read."),
        (
            "/usr/local/share/coderunner/runtimes",
            "Runtime definitions (one folder per language with a Dockerfile and runtime.json) of an installed coderunner, found next to the binary as ../share/coderunner/runtimes."
        ),
        (
            "$TMPDIR/coderunner-standby-UID-LANGUAGE.runs",
            "Start times of this user's recent one-shot runs of a language (/tmp without TMPDIR): keepers keep as many standby containers as run.standbyWindow's runs need."
        ),
        (
            "/usr/local/lib/coderunner/coderunner-agent",
            "The static in-container agent copied into runtime images, found next to the binary as ../lib/coderunner/coderunner-agent."
        ),
    ]

    /// One command of the tree with the ArgumentParser type that defines it (for its usage line).
    struct Command {
        var path: [String]
        var info: ToolInfo.CommandInfo
        var usage: String
        var fullName: String { (["coderunner"] + path).joined(separator: " ") }
    }

    /// Depth-first list of the visible commands, pairing the dump's entries with their types by name.
    static func flatten(_ info: ToolInfo.CommandInfo, type: any ParsableCommand.Type, path: [String]) -> [Command] {
        let usage = path.isEmpty ? RootCommand.usageString() : RootCommand.usageString(for: type)
        var result = [Command(path: path, info: info, usage: usage)]
        let types = type.configuration.subcommands
        for sub in info.subcommands ?? [] where sub.shouldDisplay ?? true {
            guard let subType = types.first(where: { $0._commandName == sub.commandName }) else { continue }
            result += flatten(sub, type: subType, path: path + [sub.commandName])
        }
        return result
    }

    static func lowercasedFirst(_ text: String) -> String { text.prefix(1).lowercased() + text.dropFirst() }
    static func capitalizedFirst(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }
}

/// A command's discussion split into prose paragraphs and the lines of its `Examples:` block.
struct Discussion {
    var paragraphs: [String] = []
    var examples: [String] = []

    init(_ text: String) {
        for block in text.split(separator: "\n\n") {
            let lines = block.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            guard let first = lines.first else { continue }
            if first.trimmed == "Examples:" {
                examples += lines.dropFirst().map { $0.trimmed }
            } else {
                paragraphs.append(lines.map { $0.trimmed }.joined(separator: " "))
            }
        }
    }
}

/// Minimal roff writer: escapes text so no line starts with a control character, renders `code` spans in bold
/// with real minus signs (copy-pasteable options) and keeps the source free of blank lines and trailing spaces.
struct Roff {
    var output = ""
    private var lastLine = ""

    /// Appends one source line; a paragraph break right after a heading is dropped (it would be a no-op mandoc warns about).
    mutating func raw(_ line: String) {
        if line == ".PP" && (lastLine.hasPrefix(".SH") || lastLine.hasPrefix(".SS") || lastLine == ".PP") { return }
        output += line + "\n"
        lastLine = line
    }

    /// Prose with `code` spans.
    mutating func text(_ text: String) {
        var line = ""
        var inCode = false
        var span = ""
        for character in text {
            if character == "`" {
                if inCode {
                    line += Self.code(span)
                    span = ""
                }
                inCode.toggle()
            } else if inCode {
                span.append(character)
            } else {
                line += Self.escape(String(character))
            }
        }
        if inCode { line += Self.escape("`" + span) }
        for wrapped in Self.wrap(line.trimmed, width: 80) { raw(Self.protectLineStart(wrapped)) }
    }

    /// Source lines of at most `width` bytes where possible (mandoc's style check); roff refills them anyway.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if !current.isEmpty && current.utf8.count + 1 + word.utf8.count > width {
                lines.append(current)
                current = ""
            }
            current += (current.isEmpty ? "" : " ") + word
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    mutating func paragraphs(_ paragraphs: [String]) {
        for paragraph in paragraphs {
            raw(".PP")
            text(paragraph)
        }
    }

    mutating func example(_ lines: [String]) {
        raw(".RS 4")
        raw(".nf")
        for line in lines { raw(Self.protectLineStart(Self.escape(line, code: true))) }
        raw(".fi")
        raw(".RE")
    }

    mutating func argument(_ argument: ToolInfo.ArgumentInfo) {
        raw(".TP")
        var head: String
        let value = argument.valueName.map { "\\fI" + Self.escape($0, code: true) + "\\fR" } ?? ""
        if argument.kind == "positional" {
            head = value.isEmpty ? "\\fIargument\\fR" : value
            if argument.isRepeating { head += " ..." }
        } else {
            let names = (argument.names ?? []).map { name -> String in
                let dashes = name.kind == "long" ? "--" : "-"
                return Self.code(dashes + name.name)
            }
            head = names.joined(separator: ", ")
            if argument.kind == "option" && !value.isEmpty { head += " " + value }
        }
        raw(head)
        var help = argument.abstract ?? ""
        if let discussion = argument.discussion, !discussion.isEmpty { help += " " + discussion }
        if let defaultValue = argument.defaultValue, !defaultValue.isEmpty, argument.kind == "option" {
            help += " (default: `\(defaultValue)`)"
        }
        if argument.kind == "option" && argument.isRepeating && !help.contains("repeatable") { help += " (repeatable)" }
        text(help.isEmpty ? "(no description)" : help)
    }

    /// Bold, with every character escaped for literal display.
    static func code(_ text: String) -> String { "\\fB" + escape(text, code: true) + "\\fR" }

    static func quoted(_ text: String) -> String { "\"" + escape(text, code: true).replacing("\"", with: "\\(dq") + "\"" }

    /// Backslashes become `\e`; in code every `-` becomes `\-` (a minus, which terminals show as ASCII '-').
    static func escape(_ text: String, code: Bool = false) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\e"
            case "-" where code: result += "\\-"
            default: result.append(character)
            }
        }
        return result
    }

    /// A line starting with `.` or `'` would be read as a request: prefix the zero-width `\&`.
    static func protectLineStart(_ line: String) -> String {
        line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : line
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
