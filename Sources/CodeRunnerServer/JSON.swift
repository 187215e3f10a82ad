import CodeRunnerCore
import FoundationEssentials

func seconds(_ duration: Duration) -> Double { milliseconds(duration) / 1000 }

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

enum JSON {
    /// A JSON string literal (with quotes). Hand-written because output messages are the hot path.
    static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
        return out
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A decoding failure in words a client author can act on.
    static func describe(_ error: any Error, message type: String) -> String {
        if let tooDeep = error as? JSONGuard.TooDeep { return "\(type): \(tooDeep)" }
        guard let error = error as? DecodingError else { return "\(type): the message is not valid JSON" }
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return "\(type): missing field '\(parent.isEmpty ? "" : parent + ".")\(key.stringValue)'"
        case .typeMismatch(let expected, let context):
            return "\(type): field '\(path(context.codingPath))' should be \(describe(expected))"
        case .valueNotFound(let expected, let context):
            return "\(type): field '\(path(context.codingPath))' should be \(describe(expected)), not null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the message is not valid JSON: send one JSON object per WebSocket text message" }
            return "\(type): field '\(path(context.codingPath))' is invalid: \(context.debugDescription)"
        @unknown default:
            return "\(type): the message does not match the protocol"
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt32.Type, is Double.Type: return "a number"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}

/// A JSON value that may be a string or a number (ids, sizes and durations are accepted both ways).
enum StringOrNumber: Decodable, Sendable {
    case string(String)
    case number(Double)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            self = .number(number)
            return
        }
        self = .string(try container.decode(String.self))
    }

    var text: String {
        switch self {
        case .string(let value): return value
        case .number(let value): return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
    }
}
