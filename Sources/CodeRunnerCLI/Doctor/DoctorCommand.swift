import ArgumentParser
import CodeRunnerCore

#if canImport(Glibc)
import Glibc
#endif

/// `coderunner doctor`: checks what a run depends on and says how to fix each problem, so a broken set-up is
/// diagnosed in one command instead of by reading the first failing run's error.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check Docker, the runtime images, the subnet pools and the resource limits, and say how to fix problems.",
        discussion: """
            Prints one line per check: ok, warn (works, but worth fixing) or fail (runs will not work), with a hint \
            after `->` saying what to do. Checks: the configuration loads; the Docker engine is reachable and its \
            version; every runtime image is present and current; the subnet pools (network.pools) parse, are private \
            (RFC 1918) and overlap neither a host route nor a Docker network that is not coderunner's; the cgroup \
            memory, cpu and pids controllers that enforce the limits are present; the web page's editor (Debian's \
            CodeMirror, libjs-codemirror) is installed for `coderunner serve`. Exits with 0 when no check failed, 1 \
            otherwise.

            Examples:
              coderunner doctor
              coderunner doctor --json
              DOCKER_HOST=tcp://127.0.0.1:2375 coderunner doctor
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON for scripts: {\"ok\": Bool, \"checks\": [{\"check\", \"status\", \"message\", \"hint\"}]}.") var json = false

    func run() async throws {
        let report = await Doctor.examine(options: global)
        if json {
            Terminal.out(report.json() + "\n")
        } else {
            Terminal.out(report.text(colored: Terminal.colorEnabled(fd: 1)))
        }
        if report.hasFailure { throw ExitCode.failure }
    }
}
