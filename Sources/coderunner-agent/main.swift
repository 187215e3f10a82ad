import AgentProtocol
import Glibc

/// Version of the agent binary (the wire protocol version is `AgentWire.version`).
let agentVersion = "0.1.0"

func agentMain(_ arguments: [String]) -> Int32 {
    let usage = """
        usage: coderunner-agent idle --ttl SECONDS [--unused-ttl SECONDS] [--stdio [--once]] [--service PROGRAM [ARGS...]]
               coderunner-agent run [--beside-kernel]   (driven by the engine over stdin/stdout)
               coderunner-agent kernel   (hosts a kernel driver; driven by the engine over stdin/stdout)
               coderunner-agent status
               coderunner-agent files put PATH | get PATH | list   (the work dir, for the session shell)
               coderunner-agent --version

        """
    guard arguments.count >= 2 else {
        Posix.writeAll(2, usage)
        return 64
    }
    switch arguments[1] {
    case "idle":
        return IdleCommand.main(arguments[2...])
    case "run":
        return RunCommand(besideKernel: arguments.dropFirst(2).contains("--beside-kernel")).main()
    case "kernel":
        return KernelCommand().main()
    case "status":
        return StatusCommand.main()
    case "files":
        return FilesCommand.main(arguments[2...])
    case "--version", "version":
        Posix.writeAll(1, "coderunner-agent \(agentVersion) (protocol \(AgentWire.version))\n")
        return 0
    case "--help", "-h", "help":
        Posix.writeAll(1, usage)
        return 0
    default:
        Posix.writeAll(2, "coderunner-agent: unknown command \(arguments[1])\n" + usage)
        return 64
    }
}

exit(agentMain(CommandLine.arguments))
