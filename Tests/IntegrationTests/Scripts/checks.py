"""Pass/fail reporting for the test scripts: each check prints one line; `finish` exits 1 when any failed."""
import sys

failures = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def finish(success_line):
    """Exit 1 with the count of failed checks, else print `success_line` and exit 0."""
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        sys.exit(1)
    print(success_line)
    sys.exit(0)
