/// Runs in named sessions: which container of a session takes a run (claimed by a rename when its agent serves its
/// stdin), warming and ending sessions, and the session shell's `:run` beside its kernel. See docs/runs.md.
extension CodeRunner {
    /// Reuses an idle container of the session for this language, or creates one (up to `session.maxContainers`).
    /// A claim (a rename) and the agent's run lock decide who gets a container, so two processes never share one for
    /// overlapping runs.
    func runInNamedSession(
        _ session: String, request: RunRequest, input: AsyncStream<RunInput>?, onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws -> AgentConversation.Outcome {
        try await withSessionContainer(session: session, runtime: request.runtime, limits: request.limits, processOwned: request.processOwned,
                                       claimsForRun: true, onNotice: request.onNotice) { containerID, overStdio throws(EngineError) in
            let outcome = try await self.converse(containerID: containerID, request: request, channel: overStdio ? .attach(shared: true) : .exec,
                                                  input: input, onEvent: onEvent)
            if case .busy = outcome { return nil }
            return outcome
        }
    }

    /// Suffix of a session container's name while one run holds its agent's stdin (`withSessionContainer`).
    static let inUseSuffix = "-inuse"

    /// Offers the session's running containers for `runtime` to `attempt` one by one (it returns nil when the agent says busy),
    /// and creates a new container on the session's network when none takes the work.
    ///
    /// With `claimsForRun`, a container whose agent takes runs on its stdin is claimed first: renamed with
    /// `inUseSuffix` (Docker grants a rename to one caller), so exactly one run at a time attaches to it, and `attempt` is
    /// told to attach (`true`) rather than exec; the name is given back afterwards. A holder that dies leaves its container
    /// claimed until it expires (`container.ttl` after its last run).
    func withSessionContainer<T: Sendable>(
        session: String, runtime: Runtime, limits: RunLimits, processOwned: Bool, claimsForRun: Bool = false,
        onNotice: (@Sendable (String) -> Void)? = nil, attempt: (String, Bool) async throws(EngineError) -> T?
    ) async throws -> T {
        // The creator check (a network lookup) and the container list side by side: both only read, and nothing is
        // claimed before the check has passed. A warm run is about 35 ms; each Docker call is one to three of them.
        async let creatorChecked: Void = processOwned ? () : checkCreator(session)
        let listed = try await engine.containers(labeled: [
            ResourceLabel.managed, "\(ResourceLabel.session)=\(session)", "\(ResourceLabel.language)=\(runtime.language)",
        ])
        try await creatorChecked
        let candidates = listed.filter { $0.state == "running" && $0.image == runtime.image && !$0.name.hasSuffix(Self.inUseSuffix) }
        RunTrace.mark("session containers listed")
        let engine = self.engine
        for container in candidates.sorted(by: { $0.name < $1.name }) {
            let overStdio = claimsForRun && container.labels[ResourceLabel.stdio] == "1"
            if overStdio {
                // Taken by another run (or gone): try the next one.
                guard (try? await engine.renameContainer(container.id, to: container.name + Self.inUseSuffix)) != nil else { continue }
                RunTrace.mark("container claimed")
            }
            let outcome: T?
            do {
                outcome = try await attempt(container.id, overStdio)
            } catch {
                if overStdio { await Self.release(container.id, name: container.name, engine: engine) }
                if CodeRunner.containerWentAway(error) { continue }  // expired or stopping under us: try the next one
                throw error
            }
            if overStdio { await Self.release(container.id, name: container.name, engine: engine) }
            if let outcome { return outcome }
        }
        let sessionContainers = try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"])
        guard sessionContainers.filter({ $0.state == "running" || $0.state == "created" }).count < settings.maxContainersPerSession else {
            throw SessionError.tooManyContainers(session: session, limit: settings.maxContainersPerSession)
        }
        let network: SessionNetwork
        if let existing = try await networks.find(session: session) {
            network = existing
            // The session was used before and nothing of it runs any more: its containers expired (a job's second run
            // would otherwise find its earlier files gone without a word).
            if !processOwned, sessionContainers.isEmpty {
                onNotice?("session \(session): its containers expired (idle longer than container.ttl); starting fresh, "
                          + "files from earlier runs are gone (run --ttl keeps a session's containers longer)")
            }
        } else {
            network = try await networks.create(session: session, ephemeral: processOwned)
        }
        // A new container is born claimed, so no other run attaches to it before this one.
        let name = Self.containerName(session: session, language: runtime.language)
        let createdName = claimsForRun ? name + Self.inUseSuffix : name
        var created: Result<String, EngineError>
        do {
            created = .success(try await createContainer(for: runtime, limits: limits, session: session, network: network, ephemeral: processOwned,
                                                         name: createdName))
        } catch {
            created = .failure(error)
        }
        if case .failure(.notFound) = created {
            // `net gc` removed the idle network between our lookup and the create: make a new one once.
            let fresh = try await networks.create(session: session, ephemeral: processOwned)
            created = .success(try await createContainer(for: runtime, limits: limits, session: session, network: fresh, ephemeral: processOwned,
                                                         name: createdName))
        }
        let containerID = try created.get()
        let outcome: T?
        do {
            outcome = try await attempt(containerID, claimsForRun)
        } catch {
            if claimsForRun { await Self.release(containerID, name: name, engine: engine) }
            throw error
        }
        if claimsForRun { await Self.release(containerID, name: name, engine: engine) }
        guard let outcome else {
            throw EngineError.conflict("a new container was taken by another run before this one could start")
        }
        return outcome
    }

    /// Gives a claimed session container its name back (in a task of its own: a cancelled caller must still release).
    static func release(_ id: String, name: String, engine: any ContainerEngine) async {
        await Task { try? await engine.renameContainer(id, to: name) }.value
    }

    static func containerName(session: String, language: String) -> String {
        "coderunner-\(session)-\(language)-\(SessionName.ephemeral().dropFirst(4).prefix(6))"
    }

    /// Starts `count` idle containers for a named session ahead of need, so its first runs skip container start-up.
    public func warm(session: String, runtime: Runtime, limits: RunLimits, count: Int) async throws -> [String] {
        try await checkCreator(session)
        let network: SessionNetwork
        if let existing = try await networks.find(session: session) { network = existing } else {
            network = try await networks.create(session: session, ephemeral: false)
        }
        let existing = try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"])
        let room = max(0, settings.maxContainersPerSession - existing.filter { $0.state == "running" }.count)
        var created: [String] = []
        for _ in 0..<min(count, room) {
            created.append(try await createContainer(for: runtime, limits: limits, session: session, network: network, ephemeral: false))
        }
        return created
    }

    /// A named session made by another creator (another user or CI job) is only joined when asked (`--join`):
    /// its programs would share a network with this job's, and its clean-up would remove this job's containers.
    func checkCreator(_ session: String) async throws {
        guard !settings.joinOtherCreators, let network = try await networks.find(session: session),
              let creator = network.creator, creator != settings.sessionCreator else { return }
        throw SessionError.otherCreator(session: session, creator: creator, ours: settings.sessionCreator)
    }

    /// Removes a named session: its containers, then its network. Used by `pool drain --session` and the shell on exit.
    public func endSession(_ session: String) async throws(EngineError) {
        for container in try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"]) {
            try? await engine.removeContainer(container.id)
        }
        if let network = try await networks.find(session: session) { await networks.remove(network) }
    }

    static func containerWentAway(_ error: EngineError) -> Bool {
        switch error {
        case .notFound, .conflict: return true
        default: return false
        }
    }

    /// Runs a program in the container of the session shell's kernel, beside it (`:run`): the same work dir the
    /// shell's file commands see, the kernel and its state untouched. The shell runs one thing at a time, so the two
    /// never overlap; without a live kernel in the container the agent takes its run lock as for any run.
    public func runBesideKernel(
        _ request: RunRequest, containerID: String, input: AsyncStream<RunInput>?, onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async -> RunResult {
        let started = ContinuousClock.now
        func elapsed() -> Double { Double((ContinuousClock.now - started).microseconds) / 1000 }
        func failure(_ message: String) -> RunResult {
            RunResult(status: .internalError, language: request.runtime.language, exitCode: nil, signal: nil, stages: [],
                      truncated: false, totalMilliseconds: elapsed(), message: message, session: request.session)
        }
        if let zero = request.limits.zeroLimit {
            return failure("refusing to run with \(zero): a zero limit would mean no limit; this is a bug in the caller")
        }
        do {
            switch try await converse(containerID: containerID, request: request, channel: .execBesideKernel, input: input, onEvent: onEvent) {
            case .finished(let stages):
                return Self.result(stages: stages, request: request, totalMilliseconds: elapsed(), session: request.session)
            case .failed(let reason, _):
                return failure("the run could not be set up: \(reason)")
            case .busy:
                return failure("the kernel's container is busy with another run")
            }
        } catch {
            return failure(String(describing: error))
        }
    }
}
