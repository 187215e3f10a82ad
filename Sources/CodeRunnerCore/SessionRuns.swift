/// Runs in named sessions: which container of a session takes a run (claimed by a rename when its agent serves its
/// stdin), warming and ending sessions, and the session shell's `:run` beside its kernel. See docs/runs.md.
extension CodeRunner {
    /// Reuses an idle container of the session for this language, or creates one (up to `session.maxContainers`).
    /// A claim (a rename) and the agent's run lock decide who gets a container, so two processes never share one for
    /// overlapping runs.
    func runInNamedSession(
        _ session: String, request: RunRequest, input: AsyncStream<RunInput>?, onEvent: @escaping @Sendable (RunEvent) async -> Void
    ) async throws -> AgentConversation.Outcome {
        try await withSessionContainer(
            session: session, runtime: request.runtime, limits: request.limits, processOwned: request.processOwned,
            claimsForRun: true, onNotice: request.onNotice
        ) { containerID, overStdio throws(EngineError) in
            let outcome = try await self.converse(
                containerID: containerID, request: request, channel: overStdio ? .attach(shared: true) : .exec,
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
        // The creator check (a network lookup), the container list and the claim of the session's first container
        // (known by its name) side by side: each Docker call costs about as much as a whole warm run. Nothing
        // is sent to a container before the check has passed and the list has vouched for it.
        let preferred = Self.preferredContainerName(session: session, language: runtime.language)
        let engine = self.engine
        // A session this process owns (a `serve` connection's, a shell's) has no other user: a container that answers to
        // its first container's name is this session's, and is attached to at once, without listing the session (a
        // list costs dockerd a pass over every container, which a server holding hundreds of sessions cannot pay on
        // every run). Should it be busy or gone, the run goes the general way below.
        if processOwned, claimsForRun, await Self.claim(preferred, engine: engine) {
            RunTrace.mark("container claimed")
            let claimedName = preferred + Self.inUseSuffix
            do {
                let outcome = try await attempt(claimedName, true)
                await Self.release(claimedName, name: preferred, engine: engine)
                if let outcome { return outcome }
            } catch {
                await Self.release(claimedName, name: preferred, engine: engine)
                if !CodeRunner.containerWentAway(error) { throw error }
            }
        }
        async let creatorChecked: Result<Void, any Error> = processOwned ? .success(()) : Self.result { try await self.checkCreator(session) }
        async let preferredClaimed: Bool = claimsForRun ? Self.claim(preferred, engine: engine) : false
        let listed = await Self.result { () throws(EngineError) in
            try await engine.containers(labeled: [
                ResourceLabel.managed, "\(ResourceLabel.session)=\(session)", "\(ResourceLabel.language)=\(runtime.language)",
            ])
        }
        let claimedPreferred = await preferredClaimed
        let checked = await creatorChecked
        if claimedPreferred, case .failure = listed.mapError({ $0 as any Error }).flatMap({ _ in checked }) {
            await Self.release(preferred + Self.inUseSuffix, name: preferred, engine: engine)
        }
        try checked.get()
        let containers = try listed.get()
        RunTrace.mark("session containers listed")
        func fit(_ container: ContainerInfo) -> Bool { container.state == "running" && container.image == runtime.image }
        if claimedPreferred {
            RunTrace.mark("container claimed")
            // The list shows the container that held the name (under either name, as the two calls raced). Should it
            // have been removed and a new one made under the name in between, that one is this session's and
            // language's too, as only a run of this session creates it; either way the claim makes it ours alone.
            let entry = containers.first { $0.name == preferred || $0.name == preferred + Self.inUseSuffix }
            if let entry, fit(entry), entry.labels[ResourceLabel.stdio] == "1" {
                let claimedName = preferred + Self.inUseSuffix
                let outcome: T?
                do {
                    outcome = try await attempt(claimedName, true)
                } catch {
                    await Self.release(claimedName, name: preferred, engine: engine)
                    if !CodeRunner.containerWentAway(error) { throw error }
                    outcome = nil
                }
                if outcome != nil { await Self.release(claimedName, name: preferred, engine: engine) }
                if let outcome { return outcome }
            } else {
                await Self.release(preferred + Self.inUseSuffix, name: preferred, engine: engine)
            }
        }
        let candidates = containers.filter { fit($0) && !$0.name.hasSuffix(Self.inUseSuffix) && !(claimedPreferred && $0.name == preferred) }
        for container in candidates.sorted(by: { $0.name < $1.name }) {
            let overStdio = claimsForRun && container.labels[ResourceLabel.stdio] == "1"
            if overStdio {
                // Taken by another run (or gone): try the next one.
                guard await Self.claim(container.id, as: container.name, engine: engine) else { continue }
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
                onNotice?(
                    "session \(session): its containers expired (idle longer than container.ttl); starting fresh, "
                        + "files from earlier runs are gone (run --ttl keeps a session's containers longer)")
            }
        } else {
            network = try await networks.create(session: session, ephemeral: processOwned, image: runtime.image)
        }
        // A new container is born claimed, so no other run attaches to it before this one.
        var name = Self.newContainerName(session: session, language: runtime.language, existing: sessionContainers)
        func create(on network: SessionNetwork) async -> Result<String, EngineError> {
            await Self.result { () throws(EngineError) in
                try await self.createContainer(
                    for: runtime, limits: limits, session: session, network: network, ephemeral: processOwned,
                    name: claimsForRun ? name + Self.inUseSuffix : name)
            }
        }
        var created = await create(on: network)
        if case .failure(.conflict) = created, name == preferred {
            // Another run of the session made its first container at the same moment: this one gets a name of its own.
            name = Self.containerName(session: session, language: runtime.language)
            created = await create(on: network)
        }
        if case .failure(.notFound) = created {
            // `net gc --all` removed the network between our lookup and the create: drop the lease on it and lease again, once.
            await networks.dropLeases(session: session, networkID: network.id)
            created = await create(on: try await networks.create(session: session, ephemeral: processOwned, image: runtime.image))
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

    /// Claims a session container by renaming it `name` + `inUseSuffix`; Docker grants a rename to one caller, so false
    /// means another run holds it (or it is gone). `container` is its id, or its name when the id is not known yet.
    static func claim(_ container: String, as name: String? = nil, engine: any ContainerEngine) async -> Bool {
        (try? await engine.renameContainer(container, to: (name ?? container) + inUseSuffix)) != nil
    }

    /// Gives a claimed session container (its id, or its claimed name) its name back (in a task of its own: a cancelled
    /// caller must still release).
    static func release(_ container: String, name: String, engine: any ContainerEngine) async {
        await Task { try? await engine.renameContainer(container, to: name) }.value
        RunTrace.mark("container released")
    }

    /// The name of a session's first container for a language: known in advance, so a warm run claims it without
    /// waiting for the list (`withSessionContainer`). Further containers of the language get `containerName`.
    static func preferredContainerName(session: String, language: String) -> String {
        "coderunner-\(session)-\(language)"
    }

    static func containerName(session: String, language: String) -> String {
        "coderunner-\(session)-\(language)-\(SessionName.ephemeral().dropFirst(4).prefix(6))"
    }

    /// A session's new container takes the preferred name while no container holds it (under either form).
    static func newContainerName(session: String, language: String, existing: [ContainerInfo]) -> String {
        let preferred = preferredContainerName(session: session, language: language)
        let taken = existing.contains { $0.name == preferred || $0.name == preferred + inUseSuffix }
        return taken ? containerName(session: session, language: language) : preferred
    }

    /// The outcome of a call, as a value (for calls made side by side with `async let`).
    static func result<Value: Sendable, Failure: Error>(_ body: () async throws(Failure) -> Value) async -> Result<Value, Failure> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    /// Starts `count` idle containers for a named session ahead of need, so its first runs skip container start-up.
    public func warm(session: String, runtime: Runtime, limits: RunLimits, count: Int) async throws -> [String] {
        try await checkCreator(session)
        let network: SessionNetwork
        if let existing = try await networks.find(session: session) {
            network = existing
        } else {
            network = try await networks.create(session: session, ephemeral: false, image: runtime.image)
        }
        let existing = try await engine.containers(labeled: [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"])
        let room = max(0, settings.maxContainersPerSession - existing.filter { $0.state == "running" }.count)
        var created: [String] = []
        var named = existing
        for _ in 0..<min(count, room) {
            let name = Self.newContainerName(session: session, language: runtime.language, existing: named)
            created.append(
                try await createContainer(
                    for: runtime, limits: limits, session: session, network: network, ephemeral: false,
                    name: name))
            named.append(ContainerInfo(id: created.last ?? "", name: name, image: runtime.image, labels: [:], state: "running", createdAt: nil))
        }
        return created
    }

    /// A named session made by another creator (another user or CI job) is only joined when asked (`--join`):
    /// its programs would share a network with this job's, and its clean-up would remove this job's containers.
    func checkCreator(_ session: String) async throws {
        guard !settings.joinOtherCreators, let network = try await networks.find(session: session),
            let creator = network.creator, creator != settings.sessionCreator
        else { return }
        throw SessionError.otherCreator(session: session, creator: creator, ours: settings.sessionCreator)
    }

    /// Removes a named session: its containers, then its network. Used by `pool drain --session` and the shell on exit.
    ///
    /// Returns once the session's containers are gone and its network is back in the pool. A removal Docker has not
    /// finished (under load one takes seconds, and a run's deadline or the agent's own exit may have begun it) is
    /// waited for, up to `removalWait`, asking again now and then; should containers or the lease still be there, it
    /// throws, and the caller tries again later (the lease is never given back while anything of the session remains).
    public func endSession(_ session: String, removalWait: Duration = .seconds(60)) async throws(EngineError) {
        let labels = [ResourceLabel.managed, "\(ResourceLabel.session)=\(session)"]
        let deadline = ContinuousClock.now + removalWait
        var askAgain = ContinuousClock.now
        while true {
            let left = try await engine.containers(labeled: labels)
            if left.isEmpty { break }
            guard ContinuousClock.now < deadline else {
                throw .timeout("removing the \(left.count) container(s) of session \(session) (still there after \(removalWait))")
            }
            if ContinuousClock.now >= askAgain {
                for container in left { try? await engine.removeContainer(container.id) }
                askAgain = ContinuousClock.now + .seconds(5)
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
        askAgain = ContinuousClock.now
        while let network = try await networks.find(session: session) {
            guard ContinuousClock.now < deadline else {
                throw .timeout("giving back network \(network.name) of session \(session) (its lease is still there after \(removalWait))")
            }
            if ContinuousClock.now >= askAgain {
                await networks.remove(network)
                askAgain = ContinuousClock.now + .seconds(5)
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
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
            RunResult(
                status: .internalError, language: request.runtime.language, exitCode: nil, signal: nil, stages: [],
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
