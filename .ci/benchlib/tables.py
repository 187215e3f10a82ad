"""The numbers and markdown rows of .ci/bench's report, apart from Docker so that .ci/test_bench.py can check them.

They keep the definitions of the bash version (its awk and sort): a sample is kept as printed to 0.1 ms; the median is
the middle value, or the mean of the middle two for an even count; p90 is by nearest rank; rounding is printf's
(half to even, which %-formatting and round() share).
"""
import re
from dataclasses import dataclass, field


def tenth(ms: float) -> float:
    """A time as the bench keeps it: printed to 0.1 ms and read back."""
    return float("%.1f" % ms)


def elapsed_ms(start_ns: int, end_ns: int) -> float:
    """Wall time between two monotonic clock readings (nanoseconds), kept to 0.1 ms."""
    return tenth((end_ns - start_ns) / 1e6)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


@dataclass(frozen=True)
class Summary:
    """One side of a measurement, in whole ms as the table prints them (the ratio and verdict use these too)."""
    median: int
    p90: int
    min: int

    @classmethod
    def of(cls, samples: list[float]) -> "Summary":
        if not samples:
            raise ValueError("no samples to summarise")
        ordered = sorted(samples)
        n = len(ordered)
        rank = int(0.9 * n)  # nearest rank: ceil(0.9 n), at least 1
        if rank < 0.9 * n:
            rank += 1
        return cls(round(median(ordered)), round(ordered[max(rank, 1) - 1]), round(ordered[0]))


@dataclass(frozen=True)
class Measurement:
    """The timed samples (ms) of both sides of one row: coderunner's and the Docker baseline's."""
    coderunner: list[float]
    docker: list[float]


def ratio(a: int, b: int) -> str:
    return "%.2fx" % (a / b) if b > 0 else "-"


def comparison_row(label: str, measurement: Measurement) -> str:
    a, b = Summary.of(measurement.coderunner), Summary.of(measurement.docker)
    return (f"| {label} | {a.median} | {a.p90} | {a.min} | {b.median} | {b.p90} | {b.min} "
            f"| **{ratio(a.median, b.median)}** |")


def verdict(what: str, measurement: Measurement, baseline: str, target: str) -> str:
    """`what: 0.64x of `baseline` (target 0.8x: met).`: coderunner's median against target times Docker's."""
    a, b = Summary.of(measurement.coderunner).median, Summary.of(measurement.docker).median
    outcome = "met" if a <= float(target) * b else "**missed**"
    return f"{what}: {ratio(a, b)} of `{baseline}` (target {target}x: {outcome})."


def kernel_row(language: str, output: str) -> str:
    """The row of `coderunner bench-kernel`'s `... kernel_start_ms=N median_ms=N p90_ms=N min_ms=N ...` line."""
    def value(key: str) -> str:  # the last occurrence on each line that has one, like sed 's/.*key=\([0-9.]*\).*/\1/p'
        found = (re.match(r".*" + key + r"=([0-9.]*)", line) for line in output.split("\n"))
        return "\n".join(match.group(1) for match in found if match)
    return (f"| {language} `1+1` cell, warm kernel | {value('median_ms')} | {value('p90_ms')} | {value('min_ms')} "
            f"| {value('kernel_start_ms')} |")


@dataclass(frozen=True)
class Step:
    """One step of a traced run: ms since the mark before it (0.1 ms)."""
    scenario: str
    step: str
    ms: float


OUTSIDE_THE_MARKS = "process start-up and exit (outside the marks)"


def trace_steps(scenario: str, trace: str, total_ms: float) -> list[Step]:
    """The steps of one run's `coderunner-trace MS STEP` lines (MS from the command's start), then what the whole
    command took (total_ms, the bench's clock) after the last mark."""
    steps, last = [], 0.0
    for line in trace.split("\n"):
        words = line.split()
        if words and words[0] == "coderunner-trace":
            mark = float(words[1])
            steps.append(Step(scenario, " ".join(words[2:]), tenth(mark - last)))
            last = mark
    steps.append(Step(scenario, OUTSIDE_THE_MARKS, tenth(total_ms - last)))
    return steps


def profile_rows(steps: list[Step]) -> list[str]:
    """The median of each (scenario, step), in order of first appearance."""
    grouped: dict[tuple[str, str], list[float]] = {}
    for step in steps:
        grouped.setdefault((step.scenario, step.step), []).append(step.ms)
    return ["| %s | %s | %.1f |" % (scenario, step, median(values)) for (scenario, step), values in grouped.items()]


@dataclass
class Report:
    """The markdown the bench prints: its rows by table, in the order measured."""
    rows: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    kernel_rows: list[str] = field(default_factory=list)
    profile_rows: list[str] = field(default_factory=list)

    def markdown(self, date: str, runs: int, docker_version: str, cpus: int, cpu: str, network: str) -> str:
        lines = ["", f"Measured {date} with `.ci/bench --runs {runs}`: Docker {docker_version}, {cpus} CPUs"
                 f"{f' ({cpu})' if cpu else ''}. Times in ms (median, p90, min) of the whole command.", ""]
        if self.rows:
            lines += ["| measurement | coderunner median | p90 | min | docker median | p90 | min | ratio (median) |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|", *self.rows, "", BOTH_SIDES.format(network)]
        if self.verdicts:
            lines += ["", *self.verdicts]
        if self.kernel_rows:
            lines += ["", "| kernel round trip | median ms | p90 ms | min ms | kernel start ms |",
                      "|---|---:|---:|---:|---:|", *self.kernel_rows]
        if self.profile_rows:
            lines += ["", "Where the time goes (python, `CODERUNNER_TRACE=1`): median ms from the step before, per "
                      "scenario.", "", "| scenario | step | median ms |", "|---|---|---:|", *self.profile_rows]
        return "\n".join(lines) + "\n"


BOTH_SIDES = """\
Both sides use the same image, program and lock-down (read-only root, tmpfs /app and /tmp, uid 1000, no capabilities,
no-new-privileges, memory = swap, CPU quota, pids and nofile limits). A one-shot coderunner run has no network
(loopback only); the plain baseline joins Docker's {} network, as `docker run --rm` does. coderunner
sends the file through the API and runs it under its in-container agent (PID 1, reached by attaching to the
container, no exec). It exits once the result is reported and leaves the removal of its container to a detached
keeper (`docker run --rm` waits for its removal). "Standby ready": the container was prepared by a keeper while
the run before ran (run.standby, the default). "Cold": CODERUNNER_RUN_STANDBY=0, the container is created inside
the timed command. Before each timed command the bench waits, untimed, until the standby is ready or the removals
are done, so no keeper works while either side is timed; the CI loop waits for nothing (that is its point)."""
