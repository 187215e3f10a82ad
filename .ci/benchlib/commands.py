"""What .ci/bench runs and times: the runtimes' programs, the Docker baselines of the same programs, and the Docker
housekeeping between timed commands (standbys, keepers' removals, sessions)."""
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

from benchlib.tables import Measurement, elapsed_ms

# Settings the engine applies to every container (Configuration.swift defaults), mirrored for the baseline.
WORKDIR_SIZE, TMP_SIZE, NOFILE, FSIZE = "64m", "64m", 256, 64 * 1024 * 1024
# The plain baseline's network: Docker's default bridge, as a plain `docker run --rm` has (none: the stricter variant).
BASELINE_NETWORK = os.environ.get("BASELINE_NETWORK") or "bridge"
EPHEMERAL, BENCH = "label=dev.coderunner.ephemeral", "label=dev.coderunner.bench"


def progress(mark: str) -> None:
    print(mark, end="", file=sys.stderr, flush=True)


def cpu_model() -> str:
    """The first `model name` of /proc/cpuinfo, or nothing."""
    if not os.path.exists("/proc/cpuinfo"):
        return ""
    with open("/proc/cpuinfo") as cpuinfo:
        models = (line.rstrip("\n").split(": ") + [""] for line in cpuinfo if line.startswith("model name"))
        return next(models, ["", ""])[1]


def find_binary(root: str) -> str:
    """The coderunner to measure: CODERUNNER_BIN, else the one on PATH, else a release build in .build-bench."""
    configured = os.environ.get("CODERUNNER_BIN", "")
    if configured:
        binary = configured
    elif shutil.which("coderunner"):
        binary = shutil.which("coderunner")
    elif os.access(f"{root}/.build-bench/release/coderunner", os.X_OK):
        binary = f"{root}/.build-bench/release/coderunner"
    else:
        sys.exit("bench: no coderunner binary: run ./setup.sh, or set CODERUNNER_BIN (e.g. swift build -c release "
                 "--product coderunner --scratch-path .build-bench; CODERUNNER_BIN=.build-bench/release/coderunner)")
    if not os.access(binary, os.X_OK):
        binary = shutil.which(binary) or sys.exit(f"bench: CODERUNNER_BIN={configured} is not an executable")
    return binary


def output_of(command: list[str]) -> str:
    """What a command prints (its stderr passes through); its failure is left to the caller to notice."""
    return subprocess.run(command, stdout=subprocess.PIPE, text=True).stdout


def docker_quietly(*arguments: str) -> None:
    subprocess.run(["docker", *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def remove_labelled(label: str, containers: bool = True, networks: bool = False) -> None:
    """Removes the containers (and networks) with this label, ignoring failures."""
    if containers and (ids := output_of(["docker", "ps", "-aq", "--filter", f"label={label}"]).split()):
        docker_quietly("rm", "-f", *ids)
    if networks and (ids := output_of(["docker", "network", "ls", "-q", "--filter", f"label={label}"]).split()):
        docker_quietly("network", "rm", *ids)


def remove_standbys() -> None:
    """The standby containers this run left (their keepers then remove the networks)."""
    remove_labelled("dev.coderunner.standby")


def wait_for_standby(language: str) -> None:
    """Until the standby container a one-shot run's keeper prepares for LANGUAGE is running (at most 20 s), so that the
    next coderunner run finds it and no keeper is still busy while the baseline is timed."""
    for _ in range(200):
        names = output_of(["docker", "ps", "--filter", "label=dev.coderunner.standby", "--filter",
                           f"label=dev.coderunner.language={language}", "--format", "{{.Names}}"]).splitlines()
        if any(not name.endswith("-claimed") for name in names):
            return
        time.sleep(0.1)
    print(f"bench: no standby {language} container appeared within 20 s", file=sys.stderr)


def wait_for_cleanup() -> None:
    """Until the detached keepers have removed the finished one-shot runs' containers and networks (at most 20 s), so
    that no removal is under way while the next command (either side) is timed. Standbys (sessions sb-...) are not
    waited for: the cold section starts without any (see remove_standbys)."""
    for _ in range(200):
        left = [name for command in (["ps", "-a", "--filter", EPHEMERAL, "--format", "{{.Names}}"],
                                     ["network", "ls", "--filter", EPHEMERAL, "--format", "{{.Name}}"],
                                     ["network", "ls", "--filter", BENCH, "--format", "{{.Name}}"])
                for name in output_of(["docker", *command]).splitlines() if "-sb-" not in name]
        if not left:
            return
        time.sleep(0.1)
    print(f"bench: still not removed after 20 s: {' '.join(left)}", file=sys.stderr)


def timed(command: list[str], expected: bytes) -> Optional[float]:
    """Runs COMMAND (stdin /dev/null) and returns its wall ms; None, after saying why, when it exits non-zero or prints
    something else than EXPECTED."""
    start = time.perf_counter_ns()
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True)
    end = time.perf_counter_ns()
    if done.returncode == 0 and done.stdout == expected:
        return elapsed_ms(start, end)
    status = done.returncode if done.returncode >= 0 else 128 - done.returncode  # killed by a signal: as a shell says
    print(f"bench: unexpected result (exit {status}) from: {shlex.join(command)}\n--- stdout\n"
          f"{done.stdout[:2000].decode(errors='replace')}\n--- stderr\n{done.stderr[:2000].decode(errors='replace')}",
          file=sys.stderr)
    return None


@dataclass(frozen=True)
class Runtime:
    """What the bench needs of a runtimes/*/runtime.json."""
    language: str
    example: str  # absolute path of the example program
    relative: str  # the example as `coderunner run` gets it: relative to the checkout
    image: str
    expected: bytes  # the example's output
    stage: str  # the stage script the agent would run, as one `sh -c`
    memory: str
    cpus: str
    pids: str

    @classmethod
    def load(cls, manifest: str, root: str) -> "Runtime":
        with open(manifest) as file:
            values = json.load(file)

        def text(value) -> str:  # as `jq -j '... // empty | tostring'` printed them (arrays joined by spaces)
            if value is None or value is False:
                return ""
            if isinstance(value, list):
                return " ".join(map(text, value))
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
            return value if isinstance(value, str) else json.dumps(value)
        service, compile, run = text(values.get("service")), text(values.get("compile")), text(values.get("run"))
        stage = (f"{service} >/dev/null 2>&1 & " if service else "") + (f"({compile}) && " if compile else "") + run
        limits = values.get("limits") or {}
        example = os.path.join(os.path.dirname(manifest), text(values.get("example")))
        return cls(language=text(values.get("language")), example=example, relative=os.path.relpath(example, root),
                   image=text(values.get("image")), expected=text(values.get("exampleOutput")).encode(), stage=stage,
                   memory=text(limits.get("memory")) or "128m", cpus=text(limits.get("cpus")) or "1",
                   pids=text(limits.get("pids")) or "128")

    @property
    def name(self) -> str:
        return os.path.basename(self.example)

    def lockdown(self, network: str = BASELINE_NETWORK) -> list[str]:
        """Flags equal to what the engine's createContainer sets (CodeRunner.swift, DockerContainerEngine.swift), except
        the network: the engine attaches its own internal bridge network per session."""
        return ["--read-only",
                "--tmpfs", f"/app:rw,exec,nosuid,size={WORKDIR_SIZE},uid=1000,gid=1000,mode=0755",
                "--tmpfs", f"/tmp:rw,exec,nosuid,size={TMP_SIZE},uid=1000,gid=1000,mode=1777",
                "--user", "1000:1000", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network", network,
                "--memory", self.memory, "--memory-swap", self.memory, "--cpus", self.cpus, "--pids-limit", self.pids,
                "--ulimit", f"nofile={NOFILE}:{NOFILE}", "--ulimit", f"fsize={FSIZE}:{FSIZE}", "-w", "/app"]

    def docker_run(self, network: str = BASELINE_NETWORK) -> list[str]:
        """The baseline: `docker run --rm` of the stage script."""
        return ["docker", "run", "--rm", *self.lockdown(network), "-e", f"ENTRY={self.name}",
                "-v", f"{self.example}:/app/{self.name}:ro", self.image, "sh", "-c", self.stage, "coderunner"]

    def docker_exec(self, container: str) -> list[str]:
        return ["docker", "exec", "-w", "/app", "-e", f"ENTRY={self.name}", container,
                "sh", "-c", self.stage, "coderunner"]

    def start_helper(self) -> str:
        """A running container of the image, locked down, for the `docker exec` baselines; the bench stops if it
        cannot start one (Docker says why)."""
        done = subprocess.run(["docker", "run", "-d", "--rm", "--label", "dev.coderunner.bench=1", *self.lockdown(),
                               "-e", f"ENTRY={self.name}", "-v", f"{self.example}:/app/{self.name}:ro", self.image,
                               "sleep", "infinity"], stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            sys.exit(done.returncode)
        return done.stdout.strip()


def measure(coderunner: list[str], docker: list[str], expected: bytes, runs: int, warmup: int,
            settle: Optional[Callable[[], None]] = None) -> Optional[Measurement]:
    """WARMUP untimed runs of both, then RUNS interleaved timed ones (coderunner, docker, docker, coderunner, ...);
    SETTLE runs (untimed) before each timed command. None when a command failed (it said why)."""
    for _ in range(warmup):
        if timed(coderunner, expected) is None or timed(docker, expected) is None:
            return None
    measurement = Measurement([], [])
    for index in range(runs):
        sides = [(coderunner, measurement.coderunner), (docker, measurement.docker)]
        for command, samples in sides if index % 2 == 0 else reversed(sides):
            if settle:
                settle()
            if (ms := timed(command, expected)) is None:
                return None
            samples.append(ms)
        progress(".")
    progress("\n")
    return measurement
