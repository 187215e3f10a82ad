import Testing

@testable import CodeRunnerCore

/// A session's first container of a language has a name known in advance (a warm run claims it without waiting for
/// the list); every further one gets a name of its own.
struct SessionContainerNameTests {
    static func container(_ name: String) -> ContainerInfo {
        ContainerInfo(id: name + "-id", name: name, image: "coderunner/python:latest", labels: [:], state: "running", createdAt: nil)
    }

    @Test func theFirstContainerTakesThePreferredName() {
        #expect(CodeRunner.newContainerName(session: "ci-42", language: "python", existing: []) == "coderunner-ci-42-python")
        // Another language's container does not hold this language's name.
        let other = [Self.container("coderunner-ci-42-javascript")]
        #expect(CodeRunner.newContainerName(session: "ci-42", language: "python", existing: other) == "coderunner-ci-42-python")
    }

    @Test(arguments: ["coderunner-ci-42-python", "coderunner-ci-42-python-inuse"])
    func aHeldNameIsNeverReused(held: String) {
        let name = CodeRunner.newContainerName(session: "ci-42", language: "python", existing: [Self.container(held)])
        #expect(name.hasPrefix("coderunner-ci-42-python-") && name != "coderunner-ci-42-python-inuse", "\(name)")
        #expect(!name.hasSuffix(CodeRunner.inUseSuffix))
        let again = CodeRunner.newContainerName(session: "ci-42", language: "python", existing: [Self.container(held)])
        #expect(again != name, "further containers get names of their own")
    }
}
