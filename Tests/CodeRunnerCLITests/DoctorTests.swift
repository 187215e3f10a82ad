import Foundation
import Testing

@testable import CodeRunnerCLI

/// `doctor`'s checks that need no Docker, called directly.
@Suite("doctor checks")
struct DoctorTests {
    @Test func theWebEditorIsDebiansCodeMirrorOrAWarningWithTheFix() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("doctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("codemirror.js").path
        try Data("/* CodeMirror */".utf8).write(to: URL(fileURLWithPath: script))

        var present = DoctorReport()
        Doctor.checkWebEditor(path: script, into: &present)
        #expect(present.checks.count == 1 && present.checks[0].status == .ok && present.checks[0].check == "web-editor")
        #expect(present.checks[0].message.contains("Debian's CodeMirror (libjs-codemirror)"), "\(present.checks)")

        var missing = DoctorReport()
        Doctor.checkWebEditor(path: folder.appendingPathComponent("nothing.js").path, into: &missing)
        #expect(missing.checks.count == 1 && missing.checks[0].status == .warn && !missing.hasFailure)
        #expect(
            missing.checks[0].message.contains("plain editor") && missing.checks[0].hint == "apt-get install libjs-codemirror", "\(missing.checks)")
        #expect(Doctor.codemirrorScript == "/usr/share/javascript/codemirror/lib/codemirror.js")
    }
}
