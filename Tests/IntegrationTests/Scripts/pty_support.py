"""What the pseudo-terminal shell scripts share: `coderunner session` spawned under pexpect, and a check that stops
the session and exits 1 with a message."""
import os
import sys

import pexpect


class Shell:
    def __init__(self, binary, language, label=None):
        env = dict(os.environ, TERM="xterm", NO_COLOR="1")
        self.child = pexpect.spawn(binary, ["session", language], env=env, encoding="utf-8", timeout=60, dimensions=(40, 160))
        self.child.logfile_read = sys.stderr
        self.label = label

    def check(self, condition, message):
        if not condition:
            print(f"\nFAILED{f' ({self.label})' if self.label else ''}: {message}", file=sys.stderr)
            self.child.terminate(force=True)
            sys.exit(1)

    def leave(self):
        """Ctrl-D at the prompt: the shell exits 0."""
        self.child.send("\x04")
        self.child.expect(pexpect.EOF, timeout=60)
        self.child.close()
        self.check(self.child.exitstatus == 0, f"exit status {self.child.exitstatus}")
        print(f"\nOK {self.label or ''}".rstrip(), file=sys.stderr)
