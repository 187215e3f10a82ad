import Testing

@testable import DockerEngine

@Suite struct DockerHostTests {
    @Test func defaultsToTheStandardSocket() throws {
        #expect(try DockerHost.fromEnvironment([:]) == .unixSocket("/var/run/docker.sock"))
        #expect(try DockerHost.fromEnvironment(["DOCKER_HOST": ""]) == .unixSocket("/var/run/docker.sock"))
    }

    @Test func parsesUnixAndTcp() throws {
        #expect(try DockerHost.fromEnvironment(["DOCKER_HOST": "unix:///run/podman/podman.sock"]) == .unixSocket("/run/podman/podman.sock"))
        #expect(try DockerHost.fromEnvironment(["DOCKER_HOST": "tcp://127.0.0.1:2375"]) == .tcp(host: "127.0.0.1", port: 2375))
        #expect(try DockerHost.fromEnvironment(["DOCKER_HOST": "tcp://localhost"]) == .tcp(host: "localhost", port: 2375))
        #expect(try DockerHost.fromEnvironment(["DOCKER_HOST": "tcp://[::1]:2376/"]) == .tcp(host: "::1", port: 2376))
        #expect(DockerHost.tcp(host: "::1", port: 2376).description == "tcp://[::1]:2376")
        #expect(DockerHost.unixSocket("/x.sock").description == "unix:///x.sock")
    }

    @Test func rejectsUnsupportedForms() {
        for raw in [
            "ssh://me@host", "npipe:////./pipe/docker_engine", "fd://", "unix://relative.sock", "tcp://host:99999",
            "tcp://host:2375/path", "tcp://", "http://localhost:2375",
        ] {
            #expect(throws: DockerError.self, "\(raw)") { try DockerHost.fromEnvironment(["DOCKER_HOST": raw]) }
        }
        let long = "unix:///" + String(repeating: "a", count: 120)
        #expect(throws: DockerError.self) { try DockerHost.fromEnvironment(["DOCKER_HOST": long]) }
        #expect(throws: DockerError.self) {
            try DockerHost.fromEnvironment(["DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1"])
        }
    }

    @Test func errorMessagesSayWhatIsSupported() {
        do {
            _ = try DockerHost.parse("ssh://me@host")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("unix:///"))
            #expect(error.description.contains("tcp://host:port"))
        }
        let unreachable = DockerError.unreachable(host: "unix:///var/run/docker.sock", reason: "No such file or directory")
        #expect(unreachable.description.contains("sudo systemctl start docker"))
        #expect(unreachable.description.contains("DOCKER_HOST"))
        #expect(DockerError.imageNotFound("coderunner/python:1").description.contains("coderunner images build"))
    }
}
