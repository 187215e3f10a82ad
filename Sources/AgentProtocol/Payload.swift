// The fields of a frame's payload: written by the encoders, read back with every length checked (Wire.swift).

// MARK: - Payload encoding

struct PayloadWriter {
    var buffer: [UInt8] = []

    mutating func u8(_ v: UInt8) { buffer.append(v) }
    mutating func bool(_ v: Bool) { buffer.append(v ? 1 : 0) }
    mutating func u32(_ v: UInt32) {
        buffer.append(UInt8(truncatingIfNeeded: v >> 24))
        buffer.append(UInt8(truncatingIfNeeded: v >> 16))
        buffer.append(UInt8(truncatingIfNeeded: v >> 8))
        buffer.append(UInt8(truncatingIfNeeded: v))
    }
    mutating func u64(_ v: UInt64) {
        u32(UInt32(truncatingIfNeeded: v >> 32))
        u32(UInt32(truncatingIfNeeded: v))
    }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func optionalI32(_ v: Int32?) {
        if let v {
            bool(true)
            i32(v)
        } else {
            bool(false)
        }
    }
    mutating func bytes(_ v: [UInt8]) {
        u32(UInt32(v.count))
        buffer.append(contentsOf: v)
    }
    mutating func string(_ v: String) {
        let utf8 = v.utf8
        u32(UInt32(utf8.count))
        buffer.append(contentsOf: utf8)
    }
    mutating func strings(_ v: [String]) {
        u32(UInt32(v.count))
        for s in v { string(s) }
    }

    mutating func request(_ r: AgentRunRequest) {
        string(r.workdir)
        bool(r.clearWorkdir)
        files(r.files)
        strings(r.environment)
        u32(UInt32(r.stages.count))
        for s in r.stages {
            string(s.name)
            strings(s.argv)
            u64(s.timeoutMilliseconds)
            u32(s.cpuSeconds)
            bool(s.takesStdin)
        }
        u64(r.outputLimitBytes)
        u64(r.maxFileSizeBytes)
        u32(r.maxOpenFiles)
    }

    mutating func files(_ files: [AgentFile]) {
        u32(UInt32(files.count))
        for f in files {
            string(f.path)
            bytes(f.contents)
            bool(f.executable)
        }
    }

    mutating func kernelRequest(_ r: AgentKernelRequest) {
        strings(r.argv)
        strings(r.environment)
        string(r.workdir)
        files(r.files)
        u64(r.outputLimitBytes)
        u64(r.maxFileSizeBytes)
        u32(r.maxOpenFiles)
    }

    mutating func result(_ r: AgentStageResult) {
        string(r.name)
        optionalI32(r.exitCode)
        optionalI32(r.signal)
        u64(r.wallMicroseconds)
        u64(r.userCPUMicroseconds)
        u64(r.systemCPUMicroseconds)
        u64(r.maxResidentKiB)
        bool(r.timedOut)
        bool(r.cpuLimitExceeded)
        bool(r.outputLimitExceeded)
        bool(r.memoryLimitExceeded)
        bool(r.stopped)
    }
}

// MARK: - Payload decoding

/// Reads fields from one complete payload. Every length is checked against the bytes actually present,
/// so a forged count can never make it allocate more than the payload it already holds.
struct PayloadReader {
    let payload: ArraySlice<UInt8>
    let tag: UInt8
    var index: Int

    init(_ payload: ArraySlice<UInt8>, tag: UInt8) {
        self.payload = payload
        self.tag = tag
        self.index = payload.startIndex
    }

    var remaining: Int { payload.endIndex - index }

    mutating func take(_ n: Int) throws(AgentProtocolError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw .truncatedPayload(tag: tag) }
        let slice = payload[index..<(index + n)]
        index += n
        return slice
    }

    mutating func u8() throws(AgentProtocolError) -> UInt8 {
        guard remaining >= 1 else { throw .truncatedPayload(tag: tag) }
        let v = payload[index]
        index += 1
        return v
    }

    mutating func bool(_ field: String) throws(AgentProtocolError) -> Bool {
        let v = try u8()
        switch v {
        case 0: return false
        case 1: return true
        default: throw .invalidValue(field: field, value: UInt64(v))
        }
    }

    mutating func u32() throws(AgentProtocolError) -> UInt32 {
        let s = try take(4)
        var v: UInt32 = 0
        for b in s { v = v << 8 | UInt32(b) }
        return v
    }

    mutating func u64() throws(AgentProtocolError) -> UInt64 {
        let hi = try u32()
        let lo = try u32()
        return UInt64(hi) << 32 | UInt64(lo)
    }

    mutating func i32() throws(AgentProtocolError) -> Int32 { Int32(bitPattern: try u32()) }

    mutating func optionalI32(_ field: String) throws(AgentProtocolError) -> Int32? {
        try bool(field) ? try i32() : nil
    }

    mutating func bytes() throws(AgentProtocolError) -> [UInt8] {
        let n = try u32()
        return Array(try take(Int(n)))
    }

    mutating func string(_ field: String) throws(AgentProtocolError) -> String {
        let n = try u32()
        let raw = try take(Int(n))
        guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return s
    }

    /// An element count, rejected when even `minElementBytes` per element could not fit in what is left.
    mutating func count(minElementBytes: Int) throws(AgentProtocolError) -> Int {
        let n = Int(try u32())
        guard n <= remaining / max(minElementBytes, 1) else { throw .truncatedPayload(tag: tag) }
        return n
    }

    mutating func strings(_ field: String) throws(AgentProtocolError) -> [String] {
        let n = try count(minElementBytes: 4)
        var out: [String] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try string(field)) }
        return out
    }

    func finish() throws(AgentProtocolError) {
        guard remaining == 0 else { throw .trailingBytes(tag: tag, count: remaining) }
    }

    mutating func request() throws(AgentProtocolError) -> AgentRunRequest {
        let workdir = try string("workdir")
        let clear = try bool("clearWorkdir")
        let files = try files()
        let environment = try strings("environment")
        let stageCount = try count(minElementBytes: 21)
        var stages: [AgentStage] = []
        stages.reserveCapacity(stageCount)
        for _ in 0..<stageCount {
            let name = try string("stages.name")
            let argv = try strings("stages.argv")
            let timeout = try u64()
            let cpu = try u32()
            let takesStdin = try bool("stages.takesStdin")
            stages.append(
                AgentStage(name: name, argv: argv, timeoutMilliseconds: timeout, cpuSeconds: cpu, takesStdin: takesStdin))
        }
        let outputLimit = try u64()
        let fsize = try u64()
        let nofile = try u32()
        return AgentRunRequest(
            workdir: workdir, clearWorkdir: clear, files: files, environment: environment, stages: stages,
            outputLimitBytes: outputLimit, maxFileSizeBytes: fsize, maxOpenFiles: nofile)
    }

    mutating func files() throws(AgentProtocolError) -> [AgentFile] {
        let fileCount = try count(minElementBytes: 9)
        var files: [AgentFile] = []
        files.reserveCapacity(fileCount)
        for _ in 0..<fileCount {
            let path = try string("files.path")
            let contents = try bytes()
            let executable = try bool("files.executable")
            files.append(AgentFile(path: path, contents: contents, executable: executable))
        }
        return files
    }

    mutating func kernelRequest() throws(AgentProtocolError) -> AgentKernelRequest {
        AgentKernelRequest(
            argv: try strings("kernel.argv"),
            environment: try strings("kernel.environment"),
            workdir: try string("kernel.workdir"),
            files: try files(),
            outputLimitBytes: try u64(),
            maxFileSizeBytes: try u64(),
            maxOpenFiles: try u32())
    }

    mutating func cellResult() throws(AgentProtocolError) -> AgentCellResult {
        AgentCellResult(
            cell: try u32(),
            ok: try bool("cell.ok"),
            interrupted: try bool("cell.interrupted"),
            outputLimitExceeded: try bool("cell.outputLimitExceeded"),
            wallMicroseconds: try u64(),
            stdinBytesRead: try u64())
    }

    mutating func result() throws(AgentProtocolError) -> AgentStageResult {
        AgentStageResult(
            name: try string("result.name"),
            exitCode: try optionalI32("result.exitCode"),
            signal: try optionalI32("result.signal"),
            wallMicroseconds: try u64(),
            userCPUMicroseconds: try u64(),
            systemCPUMicroseconds: try u64(),
            maxResidentKiB: try u64(),
            timedOut: try bool("result.timedOut"),
            cpuLimitExceeded: try bool("result.cpuLimitExceeded"),
            outputLimitExceeded: try bool("result.outputLimitExceeded"),
            memoryLimitExceeded: try bool("result.memoryLimitExceeded"),
            stopped: try bool("result.stopped"))
    }
}
