#!/usr/bin/env python3
"""Drives `coderunner session python` through a pseudo-terminal (pexpect): a cell's reads come from the terminal while
it runs (Python's input() and sys.stdin, Node's readline), Ctrl-D is EOF for that cell only, input typed while a cell
does not read is not seen by the next one, and Ctrl-C stops a cell waiting for input. Exit 0 when every check passed.
Usage: shell_input_pty.py CODERUNNER_BINARY"""
import sys

import pexpect

from pty_support import Shell

shell = Shell(sys.argv[1], "python")
child, check = shell.child, shell.check


child.expect_exact("python> ")
child.sendline('name = input("name? ")')
check(child.expect_exact(["name? ", pexpect.TIMEOUT], timeout=30) == 0, "input() did not prompt")
child.sendline("Alice")
check(child.expect_exact(["python> ", pexpect.TIMEOUT], timeout=30) == 0, "input() did not return")
child.sendline("print(name.upper())")
check(child.expect_exact(["ALICE", pexpect.TIMEOUT], timeout=30) == 0, "the typed line did not reach the cell")
child.expect_exact("python> ")

# sys.stdin.read() until Ctrl-D; the next cell reads the terminal again.
child.sendline("import sys; data = sys.stdin.read(); print('lines:', len(data.splitlines()))")
child.sendline("one")
child.sendline("two")
child.send("\x04")
check(child.expect_exact(["lines: 2", pexpect.TIMEOUT], timeout=30) == 0, "Ctrl-D did not end the cell's input")
child.expect_exact("python> ")
child.sendline('print(input("again? ") + "!")')
check(child.expect_exact(["again? ", pexpect.TIMEOUT], timeout=30) == 0, "a cell after Ctrl-D cannot read")
child.sendline("yes")
check(child.expect_exact(["yes!", pexpect.TIMEOUT], timeout=30) == 0, "the cell after Ctrl-D did not get its line")
child.expect_exact("python> ")

# Typed while a cell does not read: gone with that cell.
child.sendline("import time; print('sleeping', flush=True); time.sleep(2)")
child.expect_exact("sleeping")
child.sendline("typed-ahead")
child.expect_exact("python> ")
child.sendline('print(repr(input("fresh? ")))')
child.expect_exact("fresh? ")
child.sendline("fresh")
check(child.expect(["'fresh'", "typed-ahead", pexpect.TIMEOUT], timeout=30) == 0, "a cell read input typed during an earlier one")
child.expect_exact("python> ")

# Ctrl-C while input() waits.
child.sendline('input("wait? ")')
child.expect_exact("wait? ")
child.send("\x03")
check(child.expect_exact(["KeyboardInterrupt", pexpect.TIMEOUT], timeout=30) == 0, "Ctrl-C did not stop input()")
check(child.expect_exact(["python> ", pexpect.TIMEOUT], timeout=30) == 0, "no prompt after the interrupted input()")

# Node: a readline interface made in one cell asks in the next.
child.sendline(":lang javascript")
check(child.expect_exact(["javascript> ", pexpect.TIMEOUT], timeout=90) == 0, ":lang javascript did not switch")
child.sendline("const rl = require('readline').createInterface({ input: process.stdin, output: process.stdout })")
child.expect_exact("javascript> ")
child.sendline("const who = await new Promise((resolve) => rl.question('js name? ', resolve))")
check(child.expect_exact(["js name? ", pexpect.TIMEOUT], timeout=30) == 0, "readline did not ask")
child.sendline("Bob")
child.expect_exact("javascript> ")
child.sendline("who.toUpperCase()")
check(child.expect_exact(["'BOB'", pexpect.TIMEOUT], timeout=30) == 0, "readline did not get the typed line")
child.expect_exact("javascript> ")

shell.leave()
