#!/usr/bin/env python3
"""Drives `coderunner session python` through a pseudo-terminal (pexpect) for issue 20's shell items: `:lang` to
another language and back keeps the first kernel's state, and a cell that ignores Ctrl-C gets a hint that a second
Ctrl-C restarts the kernel (which then works). Exit 0 when every check passed.
Usage: shell_newcomer_pty.py CODERUNNER_BINARY"""
import sys

import pexpect

from pty_support import Shell

shell = Shell(sys.argv[1], "python")
child, check = shell.child, shell.check


child.expect_exact("python> ")
child.sendline("x = 40")
child.expect_exact("python> ")
child.sendline(":lang javascript")
check(child.expect_exact(["javascript> ", pexpect.TIMEOUT], timeout=90) == 0, ":lang javascript did not switch")
child.sendline("let y = 2")
child.expect_exact("javascript> ")
child.sendline(":lang python")
check(child.expect_exact(["kept its state", pexpect.TIMEOUT], timeout=30) == 0, "switching back did not say the state was kept")
child.expect_exact("python> ")
child.sendline("x + 2")
check(child.expect([r"\b42\b", pexpect.TIMEOUT], timeout=30) == 0, "the Python state was lost by :lang")
child.expect_exact("python> ")
child.sendline(":lang javascript")
child.expect_exact("javascript> ")
child.sendline("y * 21")
check(child.expect([r"\b42\b", pexpect.TIMEOUT], timeout=30) == 0, "the JavaScript state was lost by :lang")
child.expect_exact("javascript> ")
child.sendline(":lang python")
child.expect_exact("python> ")

# A cell that ignores SIGINT: the first Ctrl-C cannot stop it, and the shell says what the second one does.
child.sendline("import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('stubborn', flush=True); time.sleep(300)")
check(child.expect_exact(["stubborn", pexpect.TIMEOUT], timeout=30) == 0, "the stubborn cell did not start")
child.send("\x03")
check(child.expect_exact(["restarts the kernel", pexpect.TIMEOUT], timeout=10) == 0, "no hint after an ignored Ctrl-C")
child.send("\x03")
check(child.expect_exact(["restarting the kernel", pexpect.TIMEOUT], timeout=10) == 0, "the second Ctrl-C did not restart")
check(child.expect_exact(["python> ", pexpect.TIMEOUT], timeout=60) == 0, "no prompt after the restart")
child.sendline("1 + 1")
check(child.expect([r"\b2\b", pexpect.TIMEOUT], timeout=60) == 0, "the restarted kernel does not answer")
child.expect_exact("python> ")

shell.leave()
