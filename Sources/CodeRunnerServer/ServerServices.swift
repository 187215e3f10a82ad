import CodeRunnerCore
import ServiceLifecycle

// The server's background work as services of its `ServiceGroup` (`CodeRunnerHTTPServer.run`). A service that returns
// before shutdown would end the whole group, so each one runs until the group's graceful shutdown.

/// Sweeps, retries of failed clean-ups and ready networks, every `gc.interval`, until shutdown.
struct MaintenanceService: Service {
    let server: CodeRunnerHTTPServer
    func run() async throws {
        await cancelWhenGracefulShutdown { await server.maintain() }
    }
}

/// Keeps `server.standby` sessions ready while the host is idle, until shutdown (the first service to stop).
struct StandbyRefillService: Service {
    let server: CodeRunnerHTTPServer
    func run() async throws {
        await cancelWhenGracefulShutdown { await server.keepStandbysReady() }
        try? await gracefulShutdown()  // with nothing to keep, wait like the others
    }
}

/// Does nothing until shutdown, then drains (`ServerContext.drain`): refuses new sessions and runs, lets running
/// programs finish for `server.drainGrace`, then closes and cleans up every session, before the HTTP server stops.
struct SessionDrainService: Service {
    let context: ServerContext
    func run() async throws {
        try? await gracefulShutdown()
        await context.drain(grace: context.settings.drainGrace)
    }
}
