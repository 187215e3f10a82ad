#!/usr/bin/env python3
"""Checks the numbers and rows of .ci/bench (benchlib/tables.py) without Docker: `python3 .ci/test_bench.py`.

The expected values follow the definitions of the bash bench this one replaced (sort -n, then awk: the median of the
middle two for an even count, p90 by nearest rank, printf's rounding); where awk is installed, the same awk programs
are also run on random samples and must print what the Python code prints.
"""
import random
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
from benchlib.tables import (OUTSIDE_THE_MARKS, Measurement, Report, Step, Summary, comparison_row,  # noqa: E402
                             elapsed_ms, kernel_row, profile_rows, ratio, tenth, trace_steps, verdict)

# The bash bench's formulas, verbatim: stats() after `sort -n`, ratio(), and the profile's median per step.
AWK_STATS = """{ v[NR] = $1 } END {
    n = NR; if (n == 0) { print "- - -"; exit }
    med = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    r = int(0.9 * n); if (r < 0.9 * n) r++; if (r < 1) r = 1
    printf "%.0f %.0f %.0f\\n", med, v[r], v[1] }"""
AWK_RATIO = 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
AWK_PROFILE_MEDIAN = """{ key = $1 "\\t" $2; if (!(key in seen)) { seen[key] = ++k; name[k] = key } v[key] = v[key] " " $3 }
    END {
      for (i = 1; i <= k; i++) {
        n = split(v[name[i]], a, " "); for (x = 1; x <= n; x++) for (y = x + 1; y <= n; y++) if (a[y] + 0 < a[x] + 0) { t = a[x]; a[x] = a[y]; a[y] = t }
        m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        split(name[i], parts, "\\t"); printf "| %s | %s | %.1f |\\n", parts[1], parts[2], m
      }
    }"""


def summary(*samples: float) -> tuple[int, int, int]:
    s = Summary.of(list(samples))
    return s.median, s.p90, s.min


class SummaryTests(unittest.TestCase):
    def test_one_run_is_median_p90_and_min(self):
        self.assertEqual(summary(41.7), (42, 42, 42))

    def test_odd_count_takes_the_middle_value_of_the_sorted_samples(self):
        self.assertEqual(summary(30.0, 10.0, 20.0), (20, 30, 10))

    def test_even_count_takes_the_mean_of_the_middle_two(self):
        self.assertEqual(summary(3.0, 1.0), (2, 3, 1))
        self.assertEqual(summary(10.0, 20.0, 31.0, 41.0), (26, 41, 10))  # (20 + 31) / 2 = 25.5: half to even, 26

    def test_rounding_is_half_to_even_as_printf(self):
        self.assertEqual(summary(1.0, 2.0, 3.0, 4.0), (2, 4, 1))  # median 2.5 -> 2
        self.assertEqual(summary(3.0, 4.0), (4, 4, 3))  # median 3.5 -> 4
        self.assertEqual(summary(0.5), (0, 0, 0))
        self.assertEqual(summary(1.5, 2.6), (2, 3, 2))  # median 2.05, min 1.5 -> 2

    def test_ties(self):
        self.assertEqual(summary(7.0, 7.0, 7.0, 9.0), (7, 9, 7))
        self.assertEqual(summary(5.0, 5.0), (5, 5, 5))

    def test_p90_is_nearest_rank(self):
        ten = [float(v) for v in range(1, 11)]
        self.assertEqual(summary(*ten), (6, 9, 1))  # rank ceil(9.0) = 9; median 5.5 -> 6
        self.assertEqual(summary(*ten, 11.0), (6, 10, 1))  # rank ceil(9.9) = 10
        self.assertEqual(summary(*range(1, 21)), (10, 18, 1))  # rank 18; median 10.5 -> 10
        self.assertEqual(summary(1.0, 2.0, 3.0), (2, 3, 1))  # rank ceil(2.7) = 3

    def test_no_samples_is_an_error(self):
        with self.assertRaises(ValueError):
            Summary.of([])


class RowTests(unittest.TestCase):
    def test_ratio_of_rounded_medians_to_two_places(self):
        self.assertEqual(ratio(36, 269), "0.13x")
        self.assertEqual(ratio(1, 8), "0.12x")  # 0.125 half to even
        self.assertEqual(ratio(269, 36), "7.47x")
        self.assertEqual(ratio(5, 0), "-")

    def test_comparison_row(self):
        measured = Measurement([36.2, 41.0, 32.4], [269.4, 248.0, 293.1])
        self.assertEqual(comparison_row("python: `coderunner run` (standby ready) vs `docker run --rm`", measured),
                         "| python: `coderunner run` (standby ready) vs `docker run --rm` | 36 | 41 | 32 | 269 | 293 "
                         "| 248 | **0.13x** |")

    def test_verdict_compares_rounded_medians_with_the_target(self):
        met = Measurement([8.4], [10.0])  # 8 <= 0.8 * 10
        missed = Measurement([8.6], [10.0])  # 9 > 8
        self.assertEqual(verdict("Cold python", met, "docker run --rm", "0.8"),
                         "Cold python: 0.80x of `docker run --rm` (target 0.8x: met).")
        self.assertEqual(verdict("Cold python", missed, "docker run --rm", "0.8"),
                         "Cold python: 0.90x of `docker run --rm` (target 0.8x: **missed**).")
        self.assertEqual(verdict("Cold cpp", Measurement([470.0], [470.0]), "docker run --rm", "1.0"),
                         "Cold cpp: 1.00x of `docker run --rm` (target 1.0x: met).")

    def test_samples_are_kept_to_a_tenth_of_a_millisecond(self):
        self.assertEqual(elapsed_ms(1_000_000_000, 1_036_249_999), 36.2)
        self.assertEqual(elapsed_ms(0, 36_250_001), 36.3)
        self.assertEqual(tenth(0.04), 0.0)

    def test_kernel_row_takes_the_values_from_bench_kernel(self):
        line = ("language=python cells=200 code=1+1 kernel_start_ms=302 median_ms=0.29 p90_ms=0.37 min_ms=0.14 "
                "max_ms=1.20")
        self.assertEqual(kernel_row("python", line), "| python `1+1` cell, warm kernel | 0.29 | 0.37 | 0.14 | 302 |")
        self.assertEqual(kernel_row("javascript", "note: no numbers\n" + line.replace("python", "javascript")),
                         "| javascript `1+1` cell, warm kernel | 0.29 | 0.37 | 0.14 | 302 |")


class ProfileTests(unittest.TestCase):
    TRACE = "coderunner-trace 0.0 main\nsomething else\ncoderunner-trace 2.5 settings  read\ncoderunner-trace 7.0 run\n"

    def test_steps_are_the_time_since_the_mark_before(self):
        self.assertEqual(trace_steps("cold", self.TRACE, 12.3),
                         [Step("cold", "main", 0.0), Step("cold", "settings read", 2.5), Step("cold", "run", 4.5),
                          Step("cold", OUTSIDE_THE_MARKS, 5.3)])

    def test_no_marks_leaves_the_whole_command_outside_them(self):
        self.assertEqual(trace_steps("warm session", "", 8.1), [Step("warm session", OUTSIDE_THE_MARKS, 8.1)])

    def test_rows_are_medians_per_step_in_order_of_first_appearance(self):
        steps = (trace_steps("cold", self.TRACE, 12.3) + trace_steps("cold", self.TRACE.replace("7.0", "8.0"), 13.0)
                 + trace_steps("warm session", "coderunner-trace 0.1 main\n", 3.0))
        self.assertEqual(profile_rows(steps), [
            "| cold | main | 0.0 |", "| cold | settings read | 2.5 |", "| cold | run | 5.0 |",
            f"| cold | {OUTSIDE_THE_MARKS} | 5.2 |",  # (5.3 + 5.0) / 2 = 5.15, printed as %.1f does
            "| warm session | main | 0.1 |", f"| warm session | {OUTSIDE_THE_MARKS} | 2.9 |"])


class ReportTests(unittest.TestCase):
    def test_empty_report_is_the_environment_line(self):
        self.assertEqual(Report().markdown("2026-12-01", 2, "20.10.24", 2, "", "bridge"),
                         "\nMeasured 2026-12-01 with `.ci/bench --runs 2`: Docker 20.10.24, 2 CPUs. Times in ms "
                         "(median, p90, min) of the whole command.\n\n")

    def test_sections_in_order_with_blank_lines_between(self):
        report = Report(rows=["| r |"], verdicts=["V."], kernel_rows=["| k |"], profile_rows=["| p |"])
        lines = report.markdown("2026-12-01", 10, "20.10.24", 2, "AMD EPYC", "none").split("\n")
        self.assertEqual(lines[1], "Measured 2026-12-01 with `.ci/bench --runs 10`: Docker 20.10.24, 2 CPUs "
                                   "(AMD EPYC). Times in ms (median, p90, min) of the whole command.")
        self.assertEqual(lines[3:6], ["| measurement | coderunner median | p90 | min | docker median | p90 | min | "
                                      "ratio (median) |", "|---|---:|---:|---:|---:|---:|---:|---:|", "| r |"])
        self.assertEqual(lines[6:8], ["", "Both sides use the same image, program and lock-down (read-only root, tmpfs "
                                          "/app and /tmp, uid 1000, no capabilities,"])
        self.assertIn("(loopback only); the plain baseline joins Docker's none network, as `docker run --rm` does. "
                      "coderunner", lines)
        self.assertEqual(lines[16:], ["", "V.", "",
                                      "| kernel round trip | median ms | p90 ms | min ms | kernel start ms |",
                                      "|---|---:|---:|---:|---:|", "| k |", "",
                                      "Where the time goes (python, `CODERUNNER_TRACE=1`): median ms from the step "
                                      "before, per scenario.", "", "| scenario | step | median ms |", "|---|---|---:|",
                                      "| p |", ""])


@unittest.skipUnless(shutil.which("awk") and shutil.which("sort"), "needs awk and sort")
class SameAsTheBashFormulas(unittest.TestCase):
    """Random samples through the bash bench's own awk programs and through benchlib: the same text."""

    def samples(self, generator: random.Random) -> list[float]:
        pool = [round(generator.uniform(0, 500), 1) for _ in range(generator.randint(1, 6))]  # few values: ties
        return [generator.choice(pool + [round(generator.uniform(0, 500), 1)]) for _ in range(generator.randint(1, 25))]

    def test_stats(self):
        generator = random.Random(1)
        for _ in range(300):
            samples = self.samples(generator)
            ordered = subprocess.run(["sort", "-n"], input="".join("%.1f\n" % v for v in samples), capture_output=True,
                                     text=True, check=True).stdout
            bash = subprocess.run(["awk", AWK_STATS], input=ordered, capture_output=True, text=True, check=True).stdout
            self.assertEqual(bash, "%d %d %d\n" % summary(*samples), samples)

    def test_ratio(self):
        generator = random.Random(2)
        for _ in range(300):
            a, b = generator.randint(0, 2000), generator.randint(0, 2000)
            bash = subprocess.run(["awk", "-v", f"a={a}", "-v", f"b={b}", AWK_RATIO], capture_output=True, text=True,
                                  check=True).stdout.rstrip("\n")
            self.assertEqual(bash, ratio(a, b), (a, b))

    def test_profile_medians(self):
        generator = random.Random(3)
        steps = [Step(generator.choice(["cold", "warm session"]), generator.choice(["main", "run it", "exit"]),
                     tenth(generator.uniform(0, 40))) for _ in range(200)]
        lines = "".join("%s\t%s\t%.1f\n" % (step.scenario, step.step, step.ms) for step in steps)
        bash = subprocess.run(["awk", "-F\t", AWK_PROFILE_MEDIAN], input=lines, capture_output=True, text=True,
                              check=True).stdout
        self.assertEqual(bash.splitlines(), profile_rows(steps))


if __name__ == "__main__":
    unittest.main()
