import AgentProtocol

/// The agent's side of its channel to the engine (its stdin and stdout), for `run` and `kernel`: messages go out as
/// frames, bytes come in to a decoder.
struct EngineLink {
    /// stdin EOF or a failed write to stdout: nobody is listening any more.
    var isGone = false
    var decoder = EngineMessageDecoder()

    /// Sends a message unless the engine is gone; a failed write means it is.
    /// The next whole message from the engine; nil when more bytes are needed. A malformed stream is the engine's
    /// protocol failure: `failure` gets its description and nil comes back.
    mutating func nextMessage(failure: inout String?) -> EngineMessage? {
        do { return try decoder.next() } catch {
            failure = error.description
            return nil
        }
    }

    mutating func send(_ message: AgentMessage) {
        guard !isGone else { return }
        if !Posix.writeAll(1, AgentWire.encode(message)) { isGone = true }
    }

    /// Reads what stdin has into the decoder: nil when nothing was there, false at EOF (the engine is gone), true when
    /// bytes arrived.
    mutating func receive() -> Bool? {
        guard let chunk = Posix.readChunk(0, max: 65536) else { return nil }
        if chunk.isEmpty {
            isGone = true
            return false
        }
        decoder.append(chunk)
        return true
    }
}
