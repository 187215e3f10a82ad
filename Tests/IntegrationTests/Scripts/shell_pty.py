#!/usr/bin/env python3
"""Drives `coderunner session LANG` through a real pseudo-terminal (pexpect): line editing, history, multi-line
input, Ctrl-C interrupting a running cell, state surviving it, Ctrl-D leaving. Exit 0 when every check passed.
Usage: shell_pty.py CODERUNNER_BINARY LANGUAGE"""
import sys

import pexpect

from pty_support import Shell

BINARY, LANGUAGE = sys.argv[1], sys.argv[2]

# Per language: (cell setting state, cell using it -> output containing 42, endless cell, a multi-line cell printing 7)
CASES = {
    "python": ("x = 40", "x + 2", "while True: pass", ["def seven():", "    return 7", "", "seven()"]),
    "javascript": ("let x = 40", "x + 2", "while (true) {}", ["function seven() {", "  return 7", "}", "seven()"]),
    "java": ("int x = 40;", "x + 2", "while (true) {}", ["int seven() {", "  return 7;", "}", "seven()"]),
    "sql": ("SET @x = 40;", "SELECT @x + 2 AS r;", "SELECT SLEEP(100);", ["SELECT", "  7 AS seven", ";"]),
    "cpp": ("int twice(int a) { return a * 2; }", "cout << twice(21) << endl;", "while (true) {}",
            ["int seven() {", "  return 7;", "}", "cout << seven() << endl;"]),
}
setup, use, endless, multi = CASES[LANGUAGE]
prompt = LANGUAGE + "> "
shell = Shell(BINARY, LANGUAGE, label=LANGUAGE)
child, check = shell.child, shell.check


child.expect_exact(prompt)
child.sendline(setup)
child.expect_exact(prompt)
child.sendline(use)
check(child.expect([r"42", pexpect.TIMEOUT], timeout=60) == 0, "state did not survive between cells")
child.expect_exact(prompt)

# Line editing: type "4+", erase the "+" with backspace, move to the start with Ctrl-A and back with Ctrl-E, finish the line.
child.send("4+")
child.send("\x7f")
child.send("\x01\x05")
child.sendline("2" if LANGUAGE != "sql" else "2 AS y;")
child.expect_exact(prompt)
# History: arrow-up brings the last line back.
child.send("\x1b[A")
child.sendline("")
check(child.expect([r"42", pexpect.TIMEOUT], timeout=60) == 0, "history (arrow up) did not recall the last line")
child.expect_exact(prompt)

# Tab completes names from the kernel's live state (variables, attributes, modules), as the language's own REPL does.
COMPLETION = {
    "python": [("my_variable_42 = 41", "my_var", "my_variable_42 ", " + 1", r"\b42\b"),
               ("import collections", "collections.Ordered", "collections.OrderedDict(", ")", r"OrderedDict\(\)"),
               ("", "import jso", "import json ", "; print(json.dumps(42))", r"\b42\b")],
    "javascript": [("const my_variable_42 = 41", "my_var", "my_variable_42 ", " + 1", r"\b42\b"),
                   ("", "Math.hyp", "Math.hypot ", "(3, 4) * 8 + 2", r"\b42\b")],
}
for setup_line, typed, completed, rest, expected in COMPLETION.get(LANGUAGE, []):
    if setup_line:
        child.sendline(setup_line)
        child.expect_exact(prompt)
    child.send(typed + "\t")
    check(child.expect_exact([completed, pexpect.TIMEOUT], timeout=10) == 0, "Tab did not complete %r to %r" % (typed, completed))
    child.sendline(rest)
    check(child.expect([expected, pexpect.TIMEOUT], timeout=60) == 0, "the completed line %r%r did not run" % (completed, rest))
    child.expect_exact(prompt)

# Multi-line input continues while a block is open.
for line in multi:
    child.sendline(line)
check(child.expect([r"\b7\b", pexpect.TIMEOUT], timeout=60) == 0, "multi-line cell did not run")
child.expect_exact(prompt)

# Ctrl-C interrupts a running cell; the kernel and its state survive.
child.sendline(endless)
child.expect(pexpect.TIMEOUT, timeout=2)
child.send("\x03")
check(child.expect_exact([prompt, pexpect.TIMEOUT], timeout=30) == 0, "Ctrl-C did not interrupt the cell")
child.sendline(use)
check(child.expect([r"42", pexpect.TIMEOUT], timeout=60) == 0, "state was lost after the interrupt")
child.expect_exact(prompt)

# Ctrl-D leaves and cleans up.
shell.leave()
