#!/usr/bin/env python3
"""Issue 19 items 7 and 8 through a real pseudo-terminal (pexpect): a program's OSC 52 (clipboard), OSC 0 (title)
and device status query do not reach the terminal from `coderunner run` or `coderunner session`, colours do; with
--raw everything passes; a program cannot draw coderunner's reverse-video status badge, while coderunner's own
`time limit exceeded` line carries it. Exit 0 when every check passed.
Usage: terminal_filter_pty.py CODERUNNER_BINARY WORK_DIR  (WORK_DIR holds osc.py)"""
import io
import os
import sys

import pexpect

BINARY, WORK = sys.argv[1], sys.argv[2]
env = dict(os.environ, TERM="xterm")
env.pop("NO_COLOR", None)
BADGE = "\x1b[1;7m coderunner \x1b[0m"
failures = []


def transcript(args, cells=()):
    """Everything the terminal received while `coderunner ARGS` ran; CELLS are typed at the shell's prompts."""
    log = io.StringIO()
    child = pexpect.spawn(BINARY, args, env=env, cwd=WORK, encoding="utf-8", timeout=90, dimensions=(40, 200))
    child.logfile_read = log
    for cell in cells:
        child.expect_exact("python> ")
        child.sendline(cell)
    if cells:
        child.expect_exact("python> ")
        child.send("\x04")
    child.expect(pexpect.EOF)
    child.close()
    text = log.getvalue()
    print(f"--- coderunner {' '.join(args)} (exit {child.exitstatus}):\n{text!r}", file=sys.stderr)
    return child.exitstatus, text


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAILED: {message}", file=sys.stderr)


status, text = transcript(["run", "--timeout", "3s", "osc.py"])
check("visible" in text and "\x1b[31mred\x1b[0m" in text, "program text and colours must pass")
check("\x1b]52;" not in text, "OSC 52 (clipboard) reached the terminal")
check("\x1b]0;" not in text, "OSC 0 (window title) reached the terminal")
check("\x1b[6n" not in text, "a device status query reached the terminal")
check(text.count(BADGE) == 1, "exactly one status badge (coderunner's own) expected, the program's forged one must lose it")
check(BADGE + " time limit exceeded" in text, "coderunner's own timeout line must carry the badge")
check(status == 124, f"exit status {status}, expected 124 (timeout)")

status, text = transcript(["run", "--raw", "--timeout", "3s", "osc.py"])
check("\x1b]52;c;ZXZpbA==\x07" in text and "\x1b]0;pwned\x07" in text, "--raw must keep every sequence")

status, text = transcript(["session", "python"], ["print('\\x1b]52;c;ZXZpbA==\\x07clip-ok \\x1b[32mgreen\\x1b[0m')"])
check("clip-ok" in text and "\x1b[32mgreen" in text, "session output and colours must pass")
check("\x1b]52;" not in text, "OSC 52 reached the terminal through the session shell")

if failures:
    sys.exit(1)
print("OK", file=sys.stderr)
