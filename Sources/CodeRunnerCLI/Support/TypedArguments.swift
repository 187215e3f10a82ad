import ArgumentParser
import CodeRunnerCore

// Typed values for options that take a quantity or a language, read by the parsers CodeRunnerCore already has, so the
// command line, the config file and the server accept the same words. Options declare
// `transform: SomeArgument.init(parsing:)`: a bad value is then refused while parsing, with the parser's own
// explanation after ArgumentParser's "The value 'x' is invalid for '--option <name>'" (`init?(argument:)`, the
// ExpressibleByArgument way, could only say that it is invalid, not why).

/// A duration such as `500ms`, `2s`, `1.5m` (`Quantity.duration`; a bare number is seconds).
struct DurationArgument: ExpressibleByArgument, Equatable, Sendable {
    /// As typed, for messages that quote the user's words.
    var text: String
    var value: Duration

    init(parsing text: String) throws(QuantityParseError) {
        value = try Quantity.duration(text)
        self.text = text
    }

    init?(argument: String) {
        guard let parsed = try? Self(parsing: argument) else { return nil }
        self = parsed
    }

    var defaultValueDescription: String { text }
}

/// A byte count such as `64k`, `256m`, `1g` (`Quantity.byteSize`).
struct ByteSizeArgument: ExpressibleByArgument, Equatable, Sendable {
    var text: String
    var value: UInt64

    init(parsing text: String) throws(QuantityParseError) {
        value = try Quantity.byteSize(text)
        self.text = text
    }

    init?(argument: String) {
        guard let parsed = try? Self(parsing: argument) else { return nil }
        self = parsed
    }

    var defaultValueDescription: String { text }
}

/// A container memory limit (`--memory 128m`): a size Docker accepts (`LimitOptions.memory`). Whether the engine's
/// host has that much is only known once the engine answers, so `checked(against:)` asks again with its capacity.
struct MemoryLimitArgument: ExpressibleByArgument, Equatable, Sendable {
    var text: String
    var value: UInt64

    init(parsing text: String) throws(LimitOptionError) {
        value = try LimitOptions.memory(text, host: nil)
        self.text = text
    }

    init?(argument: String) {
        guard let parsed = try? Self(parsing: argument) else { return nil }
        self = parsed
    }

    var defaultValueDescription: String { text }

    /// The limit, refused when it is more than `host` has (nil: the host's size is unknown, nothing more to check).
    func checked(against host: HostCapacity?) throws(LimitOptionError) -> UInt64 {
        try LimitOptions.memory(text, host: host)
    }
}

/// A CPU quota in CPUs (`--cpus 0.5`): at least 0.01 (`LimitOptions.cpus`); `checked(against:)` compares it with the
/// engine host's CPU count once that is known.
struct CPUCountArgument: ExpressibleByArgument, Equatable, Sendable {
    var text: String
    var value: Double

    init(parsing text: String) throws(LimitOptionError) {
        value = try LimitOptions.cpus(text, host: nil)
        self.text = text
    }

    init?(argument: String) {
        guard let parsed = try? Self(parsing: argument) else { return nil }
        self = parsed
    }

    var defaultValueDescription: String { text }

    func checked(against host: HostCapacity?) throws(LimitOptionError) -> Double {
        try LimitOptions.cpus(text, host: host)
    }
}

/// A language name or alias (`python`, `py`, `js`). Runtimes are data (runtimes/*/runtime.json, `runtimes.dir`), so
/// the name is looked up when the command has loaded them (`runtime(in:)`), and an unknown one is refused with the
/// list of known languages. Completion offers the languages that ship with coderunner.
struct LanguageArgument: ExpressibleByArgument, Equatable, Sendable {
    var name: String

    init(_ name: String) { self.name = name }

    init?(argument: String) { name = argument }

    var defaultValueDescription: String { name }

    static var defaultCompletionKind: CompletionKind { .list(["python", "javascript", "java", "cpp", "sql"]) }

    func runtime(in catalog: RuntimeCatalog) throws(RuntimeError) -> Runtime {
        try catalog.runtime(named: name)
    }
}
