/// Filters a program's output on its way to the user's terminal. Programs may colour and format their output, but
/// must not act outside it: no clipboard writes (OSC 52), window titles (OSC 0/1/2), hyperlinks (OSC 8), device
/// queries whose answers the terminal types back (DSR, DA), screen clears, mode switches or charset changes.
///
/// Kept: printable text (UTF-8 passes untouched), tab, newline, carriage return, backspace, bell, and CSI sequences
/// for colour (SGR `m`, without reverse video: coderunner's own status badge uses it, see `StatusBadge`), cursor
/// movement within the line or up and down (`A`-`G`) and erase-in-line (`K`), which progress bars use.
/// Dropped: every other escape sequence, OSC/DCS/SOS/PM/APC strings, C1 controls (U+0080-U+009F) and other C0
/// controls. Streaming: a sequence split across chunks is handled; memory stays bounded whatever the input.
public struct TerminalFilter: Sendable {
    enum State: Sendable, Equatable {
        case ground
        case escape  // after ESC
        case escapeIntermediate  // ESC followed by 0x20-0x2F bytes: dropped up to its final byte
        case csi  // collecting a CSI sequence in `pending`
        case csiDiscard  // a CSI sequence too long to keep: dropped up to its final byte
        case string  // OSC/DCS/SOS/PM/APC body: dropped up to BEL (OSC) or ST
        case stringEscape  // ESC inside a string: `\` ends it
        case c2  // a 0xC2 lead byte: the next byte decides whether it is a C1 control
    }

    private var state: State = .ground
    private var pending: [UInt8] = []
    /// Longer CSI sequences are dropped, not kept: no legitimate one is this long.
    static let maxSequenceBytes = 64

    public init() {}

    /// Filters one chunk; bytes of a sequence that is not finished yet are held back until the next chunk.
    public mutating func filter(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for byte in bytes { step(byte, into: &out) }
        return out
    }

    private mutating func step(_ byte: UInt8, into out: inout [UInt8]) {
        switch state {
        case .ground:
            ground(byte, into: &out)
        case .c2:
            state = .ground
            if (0x80...0x9F).contains(byte) { return }  // U+0080-U+009F: C1 controls, e.g. U+009B is a CSI
            out.append(0xC2)
            ground(byte, into: &out)
        case .escape:
            switch byte {
            case UInt8(ascii: "["):
                state = .csi
                pending = [0x1B, byte]
            case UInt8(ascii: "]"), UInt8(ascii: "P"), UInt8(ascii: "X"), UInt8(ascii: "^"), UInt8(ascii: "_"): state = .string
            case 0x1B: state = .escape
            case 0x18, 0x1A: state = .ground
            case 0x20...0x2F: state = .escapeIntermediate
            default: state = .ground  // a two-byte escape (ESC c resets the terminal, ESC 7/8 cursor save): dropped
            }
        case .escapeIntermediate:
            if byte == 0x1B { state = .escape } else if byte == 0x18 || byte == 0x1A || (0x30...0x7E).contains(byte) { state = .ground }
        case .csi, .csiDiscard:
            if byte == 0x1B {
                pending = []
                state = .escape
                return
            }
            if byte == 0x18 || byte == 0x1A {
                pending = []
                state = .ground
                return
            }
            if (0x40...0x7E).contains(byte) {
                if state == .csi {
                    pending.append(byte)
                    out += Self.allowedCSI(pending)
                }
                pending = []
                state = .ground
                return
            }
            if state == .csi {
                pending.append(byte)
                if pending.count > Self.maxSequenceBytes {
                    pending = []
                    state = .csiDiscard
                }
            }
        case .string:
            if byte == 0x07 || byte == 0x18 || byte == 0x1A { state = .ground } else if byte == 0x1B { state = .stringEscape }
        case .stringEscape:
            state = byte == UInt8(ascii: "\\") ? .ground : (byte == 0x1B ? .stringEscape : .string)
        }
    }

    private mutating func ground(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case 0x1B: state = .escape
        case 0xC2: state = .c2
        case 0x07, 0x08, 0x09, 0x0A, 0x0D: out.append(byte)
        case 0x00...0x1F: break  // other C0 controls (SO/SI switch character sets, etc.)
        default: out.append(byte)
        }
    }

    /// The CSI sequences (ESC [ params final) that only format the program's own output; anything else is dropped.
    static func allowedCSI(_ sequence: [UInt8]) -> [UInt8] {
        guard let final = sequence.last, sequence.count >= 3 else { return [] }
        let parameters = sequence[2..<(sequence.count - 1)]
        // Private (`<=>?`) parameters and intermediate bytes mark mode switches and queries, never plain formatting.
        guard parameters.allSatisfy({ (0x30...0x3B).contains($0) }) else { return [] }
        switch final {
        case UInt8(ascii: "m"): return sgrWithoutReverse(parameters)
        case UInt8(ascii: "A")...UInt8(ascii: "G"), UInt8(ascii: "K"): return sequence
        default: return []
        }
    }

    /// Removes reverse video (7) from an SGR sequence, skipping the arguments of extended colours (38/48/58;5;n and
    /// 38/48/58;2;r;g;b), so a program cannot draw coderunner's status badge.
    static func sgrWithoutReverse(_ parameters: ArraySlice<UInt8>) -> [UInt8] {
        let fields = parameters.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        var kept: [String] = []
        var index = 0
        while index < fields.count {
            let field = fields[index]
            // Terminals read numbers, not text: "07" and "038" are 7 and 38.
            let number = Int(field.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            if let number, [38, 48, 58].contains(number), index + 1 < fields.count {
                let kind = Int(fields[index + 1])
                let extra = kind == 5 ? 2 : kind == 2 ? 4 : 1
                kept += fields[index..<min(fields.count, index + 1 + extra)]
                index += 1 + extra
                continue
            }
            if number != 7 { kept.append(field) }
            index += 1
        }
        if kept.isEmpty && !fields.isEmpty && fields != [""] { return [] }
        return Array(("\u{1B}[" + kept.joined(separator: ";") + "m").utf8)
    }
}

/// How coderunner marks its own status lines on a terminal (`time limit exceeded`, a failed cell): a reverse-video
/// badge, which `TerminalFilter` removes from program output, so a program cannot print a line that looks the same.
/// Without colours (a pipe, `NO_COLOR`) lines stay plain text; `--json` is the machine-readable result either way.
public enum StatusBadge {
    public static let prefix = "coderunner: "

    /// `line` (usually starting `coderunner: `) as shown on a colour terminal.
    public static func styled(_ line: String) -> String {
        let text = line.hasPrefix(prefix) ? String(line.dropFirst(prefix.count)) : line
        return "\u{1B}[1;7m coderunner \u{1B}[0m \(text)"
    }
}
