import CodeRunnerCLI

// Everything lives in CodeRunnerCLI, so tests can parse and check command lines without starting this binary.
await Entrypoint.main()
