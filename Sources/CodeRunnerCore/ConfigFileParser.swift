/// The config file format: a small TOML subset (`[section]` headers, `key = value` with quoted strings,
/// numbers, booleans or arrays of strings, `#` comments). Sections nest with dots: `[runtime.python]`.
public enum ConfigFileParser {
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> [(String, String)] {
        var section = ""
        var result: [(String, String)] = []
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = stripComment(Substring(rawLine)).trimmingWhitespace()
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw .syntax(file: file, line: lineNumber, reason: "a section header looks like [server]")
                }
                section = String(line.dropFirst().dropLast()).trimmingWhitespace()
                guard section.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" }) else {
                    throw .syntax(file: file, line: lineNumber, reason: "bad section name '\(section)'")
                }
                continue
            }
            guard let eq = line.firstIndex(of: "=") else {
                throw .syntax(file: file, line: lineNumber, reason: "expected `key = value`")
            }
            let key = line[..<eq].trimmingWhitespace()
            let rawValue = line[line.index(after: eq)...].trimmingWhitespace()
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" }) else {
                throw .syntax(file: file, line: lineNumber, reason: "bad key '\(key)'")
            }
            let value: String
            do { value = try parseValue(rawValue) } catch {
                throw .syntax(file: file, line: lineNumber, reason: error.reason)
            }
            result.append((section.isEmpty ? key : section + "." + key, value))
        }
        return result
    }

    struct ValueError: Error { var reason: String }

    static func stripComment(_ line: Substring) -> Substring {
        var inString = false
        var escaped = false
        for index in line.indices {
            let character = line[index]
            if escaped {
                escaped = false
                continue
            }
            if character == "\\" && inString {
                escaped = true
                continue
            }
            if character == "\"" { inString.toggle() }
            if character == "#" && !inString { return line[..<index] }
        }
        return line
    }

    static func parseValue(_ raw: String) throws(ValueError) -> String {
        if raw.isEmpty { throw ValueError(reason: "missing value after '='") }
        if raw.hasPrefix("\"") {
            return try parseString(Substring(raw)).value
        }
        if raw.hasPrefix("[") {
            guard raw.hasSuffix("]") else { throw ValueError(reason: "an array ends with ]") }
            var items: [String] = []
            var rest = Substring(raw.dropFirst().dropLast())
            while true {
                rest = Substring(rest.trimmingWhitespace())
                if rest.isEmpty { break }
                let (item, remainder) = try parseString(rest)
                items.append(item)
                rest = Substring(remainder.trimmingWhitespace())
                if rest.hasPrefix(",") {
                    rest = rest.dropFirst()
                } else if !rest.isEmpty {
                    throw ValueError(reason: "array items are separated by commas")
                }
            }
            return items.joined(separator: ",")
        }
        guard raw.allSatisfy({ !$0.isWhitespace && $0 != "\"" }) else {
            throw ValueError(reason: "quote text values: key = \"value\"")
        }
        return raw
    }

    static func parseString(_ text: Substring) throws(ValueError) -> (value: String, rest: Substring) {
        guard text.first == "\"" else { throw ValueError(reason: "expected a quoted string") }
        var value = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let character = text[index]
            if character == "\\" {
                index = text.index(after: index)
                guard index < text.endIndex else { break }
                switch text[index] {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "\"": value.append("\"")
                case "\\": value.append("\\")
                default: throw ValueError(reason: "unknown escape \\\(text[index])")
                }
            } else if character == "\"" {
                return (value, text[text.index(after: index)...])
            } else {
                value.append(character)
            }
            index = text.index(after: index)
        }
        throw ValueError(reason: "unterminated string")
    }
}
