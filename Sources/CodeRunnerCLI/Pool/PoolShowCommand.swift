import ArgumentParser
import CodeRunnerCore
import FoundationEssentials

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
