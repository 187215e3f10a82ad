#if canImport(Glibc)
import Glibc
#endif

/// Who creates a named session, recorded on its network so that a run from another job does not join it by accident
/// (`CodeRunner.checkCreator`): the uid, plus `CODERUNNER_JOB` when set, which tells apart CI jobs under one uid.
public enum SessionCreator {
    public static func current(environment: [String: String]) -> String {
        let job = environment["CODERUNNER_JOB"].map { String($0.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F }.prefix(64)) } ?? ""
        return "uid=\(getuid())" + (job.isEmpty ? "" : " job=\(job)")
    }
}

/// Session names users type (`--session NAME`) become Docker labels and network names: keep them simple.
public enum SessionName {
    public static func validate(_ name: String) throws(SessionError) {
        guard !name.isEmpty, name.count <= 48,
            name.unicodeScalars.allSatisfy({
                ($0.properties.isASCIIHexDigit || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-"
                    || $0 == "_")
            }),
            name.first != "-"
        else {
            throw .badName(name)
        }
        if let prefix = reservedPrefix(of: name) { throw .reservedName(name, prefix: prefix) }
    }

    /// Prefixes of the names coderunner generates itself: one-shot runs (`run-`), shells without `--session`
    /// (`shell-`), notebooks (`nb-`) and standbys (`sb-`). `pool` lists them, so another job could otherwise join one
    /// by its name; a user's `--session` may not start with them.
    public static let reservedPrefixes = ["run-", "shell-", "nb-", standbyPrefix]

    public static func reservedPrefix(of name: String) -> String? {
        reservedPrefixes.first { name.lowercased().hasPrefix($0) }
    }

    /// A fresh random name for a one-shot run.
    public static func ephemeral() -> String { "run-" + randomHex(10) }

    /// `count` random lowercase hex digits: the random part of every generated session and kernel name.
    public static func randomHex(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdef")
        return String((0..<count).map { _ in alphabet[Int(generator.next() % 16)] })
    }

    /// Sessions of standby containers (`Standby.swift`) are named `sb-…`.
    public static let standbyPrefix = "sb-"
    public static func standby() -> String { standbyPrefix + ephemeral().dropFirst(4) }
    public static func isStandby(_ name: String) -> Bool { name.hasPrefix(standbyPrefix) }
}

public enum SessionError: Error, Equatable, CustomStringConvertible {
    case badName(String)
    case reservedName(String, prefix: String)
    case tooManyContainers(session: String, limit: Int)
    /// The named session exists and was made by another creator (`SessionCreator`); joining it needs `--join`.
    case otherCreator(session: String, creator: String, ours: String)

    public var description: String {
        switch self {
        case .badName(let name):
            return "session name '\(name)' is not allowed: use 1-48 letters, digits, '-' or '_', not starting with '-'"
        case .reservedName(let name, let prefix):
            return
                "session name '\(name)' starts with '\(prefix)', which coderunner keeps for the sessions it names itself (\(SessionName.reservedPrefixes.joined(separator: ", "))); pick another name, e.g. ci-$JOB_ID"
        case .tooManyContainers(let session, let limit):
            return "session \(session) already has \(limit) busy containers (session.maxContainers); wait for a run to end or raise the limit"
        case .otherCreator(let session, let creator, let ours):
            return
                "session \(session) was created by \(creator), not by this job (\(ours)); to run in it anyway pass --join (its programs then share a network with yours), or pick another session name"
        }
    }
}
