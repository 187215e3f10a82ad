import CodeRunnerCore

/// The question before a command removes what may be other users' (`net gc --all`, `pool drain --all`).
enum Confirmation {
    /// True to go ahead: `yes` was given, or the user answered y on the terminal. Off a terminal without `yes` the
    /// command fails with `refusal` (which should name --yes), so a script never removes everything by accident.
    static func ask(_ question: String, yes: Bool, refusal: String) throws(CommandFailure) -> Bool {
        if yes { return true }
        guard Terminal.isTerminal(0) else { throw .usage(refusal) }
        Terminal.err(question)
        guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
            Terminal.err("nothing removed\n")
            return false
        }
        return true
    }
}
