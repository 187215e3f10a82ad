#!/usr/bin/env python3
"""Hostile programs and bad input through coderunner's Socket.IO endpoint, with the python-socketio client (issue 7).

Start the server with a short Python timeout (the Socket.IO `run` event carries no limits):
  server.maxMessageSize=4m, runtime.python.timeout=3s
Usage: socketio_abuse.py --url http://127.0.0.1:PORT --output-limit BYTES (the server's run.outputLimit)
Exits 0 when every check passed; prints what failed otherwise.
"""
import argparse

from socketio_support import Recorder, check, finish, socketio

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--output-limit", type=int, required=True)
args = parser.parse_args()

recorder = Recorder()
sio = socketio.Client(reconnection=False)
recorder.listen(sio, ["output", "exit", "error"])
sio.connect(args.url, transports=["websocket"], wait_timeout=10)
check(sio.connected, "connected")


def run(console, content, name="main.py", language="python", timeout=90):
    sio.emit("run", {"sessionId": console, "language": language,
                     "files": [{"name": name, "path": name, "content": content, "toBeExec": True}]})
    event = recorder.wait(lambda n, d: n in ("exit", "error") and d.get("sessionId") == console, timeout=timeout)
    return event


# Hostile programs: the exit event tells what happened, with the code `coderunner run` would exit with.
memory = run("memory", "hog = []\nwhile True:\n    hog.append(b'x' * (10 << 20))\n")
check(memory is not None and memory[0] == "exit" and memory[1].get("status") == "memory-limit" and memory[1].get("code") == 137,
      "memory bomb -> exit memory-limit 137: %r" % (memory,))

stubborn = run("stubborn", "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass\n")
check(stubborn is not None and stubborn[0] == "exit" and stubborn[1].get("status") == "timeout" and stubborn[1].get("code") == 124,
      "loop ignoring SIGTERM -> exit timeout 124: %r" % (stubborn,))

bomb = run("forkbomb", "import errno, os\norigin = os.getpid()\ntold = False\nwhile True:\n    try:\n        os.fork()\n"
                       "    except OSError as e:\n        if os.getpid() == origin and not told:\n"
                       "            print('fork refused: ' + errno.errorcode.get(e.errno, '?'), flush=True)\n            told = True\n")
check(bomb is not None and bomb[0] == "exit" and bomb[1].get("status") in ("timeout", "memory-limit", "runtime-error", "signal"),
      "fork bomb ends: %r" % (bomb,))
check("fork refused: EAGAIN" in recorder.output("forkbomb"), "the pids limit refused forks: %r" % recorder.output("forkbomb")[:200])

flood = run("flood", "import os\nwhile True:\n    os.write(1, b'o' * 65536)\n    os.write(2, b'e' * 65536)\n")
kept = recorder.output("flood", ("stdout", "stderr"))
check(flood is not None and flood[0] == "exit" and flood[1].get("status") == "output-limit",
      "output flood -> exit output-limit: %r" % (flood,))
check(len(kept) == args.output_limit and "o" in kept and "e" in kept,
      "exactly the output limit kept, both streams: %d bytes" % len(kept))

fill = run("fill", "i = 0\nwhile True:\n    open('/tmp/f%d' % i, 'wb').write(b'\\0' * (4 << 20))\n    i += 1\n")
check(fill is not None and fill[0] == "exit" and fill[1].get("status") == "runtime-error", "disk fill -> runtime-error: %r" % (fill,))
check("No space left on device" in recorder.output("fill", ("stderr",)), "disk fill: a clear error on stderr")

privileged = run("privileged", "import os, socket\n"
                 "for name, act in [('raw', lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),\n"
                 "                  ('hostname', lambda: socket.sethostname('pwned')),\n"
                 "                  ('etc', lambda: open('/etc/pwned', 'w')),\n"
                 "                  ('shadow', lambda: open('/etc/shadow').read())]:\n"
                 "    try:\n        act(); print(name, 'ALLOWED')\n    except OSError as e:\n        print(name, 'refused', e.errno)\n")
text = recorder.output("privileged", ("stdout",))
check(privileged is not None and privileged[0] == "exit" and "ALLOWED" not in text and text.count("refused") == 4,
      "raw socket, hostname, writing /etc and reading /etc/shadow are refused: %r" % text)


# Bad input: an `error` event naming the problem; nothing runs, and the connection stays usable.
def bad(console, files, expected_code, language="python", unparsed=False):
    """`unparsed`: the message is dropped before it is read, so its error cannot name the console."""
    sio.emit("run", {"sessionId": console, "language": language, "files": files})
    event = recorder.wait(lambda n, d: (n in ("exit", "error") and d.get("sessionId") == console)
                          or (unparsed and n == "error" and d.get("code") == expected_code), timeout=30)
    check(event is not None and event[0] == "error" and event[1].get("code") == expected_code and event[1].get("message"),
          "%s -> error %s: %r" % (console, expected_code, event and (event[0], event[1].get("code"), event[1].get("message"))))


def file(path, content="print(1)\n", exec_=True):
    return {"name": path, "path": path, "content": content, "toBeExec": exec_}


bad("dotdot", [file("../../etc/passwd")], "bad-request")
bad("nul", [file("a\0b.py")], "bad-request")
bad("longname", [file("x" * 300 + ".py")], "bad-request")
bad("empty", [], "bad-request")
bad("thousands", [file("f%d.py" % i, exec_=(i == 0)) for i in range(3000)], "too-many-files")
bad("cobol", [file("main.cob")], "unknown-language", language="cobol")
bad("huge", [file("big.py", "#" * (6 << 20))], "too-large", unparsed=True)
# Cut off inside 600 nested arrays (Foundation's JSON decoder traps on this): refused, the server stays up.
sio.eio.send('2["run",' + '[' * 600)
nested = recorder.wait(lambda n, d: n == "error" and d.get("code") == "bad-message", timeout=30)
check(nested is not None, "a deeply nested, cut-off packet gets an error event: %r" % (nested,))
check(sio.connected, "still connected after the bad input")

hello = run("after", "print('still here')\n")
check(hello is not None and hello[0] == "exit" and hello[1].get("code") == 0 and recorder.output("after", "stdout") == "still here\n",
      "a good run on the same connection works: %r" % (hello,))

sio.disconnect()
finish("all Socket.IO abuse checks passed")
