#!/usr/bin/env python3
"""Drives coderunner's Socket.IO endpoint with the python-socketio client, using the original Node implementation's
events: run {sessionId, language, files[{name, path, content, toBeExec}]}, input, stop, output, exit, kernel:*.

Needs: python-socketio[client] and websocket-client (`./setup.sh test` installs them in /var/lib/coderunner/test-venv)
Usage: socketio_client.py --url http://127.0.0.1:PORT [--token TOKEN]
Exits 0 when every check passed; prints what failed otherwise.
"""
import argparse

from socketio_support import Recorder, check, finish, socketio

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--token", default=None)
args = parser.parse_args()

# 1. Without the token the CONNECT is refused.
if args.token:
    anonymous = socketio.Client(reconnection=False)
    try:
        anonymous.connect(args.url, transports=["websocket"], wait_timeout=10)
        check(False, "connect without the token is refused")
        anonymous.disconnect()
    except socketio.exceptions.ConnectionError as error:
        check(True, "connect without the token is refused (%s)" % error)

recorder = Recorder()
sio = socketio.Client(reconnection=False)
recorder.listen(sio, ["output", "exit", "error", "kernel:started", "kernel:output", "kernel:cell_complete", "kernel:shutdown_complete",
                     "kernel:error"])

auth = {"token": args.token} if args.token else None
sio.connect(args.url, transports=["websocket"], auth=auth, wait_timeout=10)
check(sio.connected, "connected over websocket (EIO=4)")

# 2. The original run event with interactive input.
sio.emit("run", {"sessionId": "console-1", "language": "python", "files": [
    {"name": "main.py", "path": "main.py", "content": "name = input('who? ')\nprint('hi', name)\n", "toBeExec": True},
]})
prompt = recorder.wait(lambda n, d: n == "output" and d.get("sessionId") == "console-1")
check(prompt is not None and prompt[1]["type"] == "stdout" and "who?" in prompt[1]["data"], "output event with the prompt")
sio.emit("input", "World\n")
exit_event = recorder.wait(lambda n, d: n == "exit" and d.get("sessionId") == "console-1")
check(exit_event is not None and exit_event[1]["code"] == 0, "exit {sessionId, code: 0}: %r" % (exit_event,))
check(exit_event is not None and isinstance(exit_event[1].get("executionTime"), int), "exit has executionTime")
check("hi World" in recorder.output("console-1"), "stdin reached the program: %r" % recorder.output("console-1"))

# 3. Several files, the one with toBeExec runs.
sio.emit("run", {"sessionId": "console-2", "language": "javascript", "files": [
    {"name": "lib.js", "path": "/lib.js", "content": "module.exports = { answer: 42 };\n", "toBeExec": False},
    {"name": "main.js", "path": "/main.js", "content": "console.log('answer', require('./lib.js').answer);\nconsole.error('to stderr');\n", "toBeExec": True},
]})
exit2 = recorder.wait(lambda n, d: n == "exit" and d.get("sessionId") == "console-2")
check(exit2 is not None and exit2[1]["code"] == 0, "javascript multi-file run exits 0: %r" % (exit2,))
check(recorder.output("console-2", "stdout") == "answer 42\n", "stdout of the toBeExec file: %r" % recorder.output("console-2", "stdout"))
check(recorder.output("console-2", "stderr") == "to stderr\n", "stderr arrives as type stderr")

# 4. A compile error reports a non-zero code and a system line.
sio.emit("run", {"sessionId": "console-3", "language": "cpp", "files": [
    {"name": "main.cpp", "path": "main.cpp", "content": "int main() { return x; }\n", "toBeExec": True}]})
exit3 = recorder.wait(lambda n, d: n == "exit" and d.get("sessionId") == "console-3", timeout=120)
check(exit3 is not None and exit3[1]["code"] != 0, "compile error exits non-zero: %r" % (exit3,))
check("compile error" in recorder.output("console-3", "system"), "system output explains the compile error")

# 5. stop ends an endless loop.
sio.emit("run", {"sessionId": "console-4", "language": "python", "files": [
    {"name": "loop.py", "path": "loop.py", "content": "import time\nwhile True:\n    print('spin', flush=True)\n    time.sleep(0.05)\n", "toBeExec": True}]})
spin = recorder.wait(lambda n, d: n == "output" and d.get("sessionId") == "console-4")
check(spin is not None, "endless loop prints")
sio.emit("stop", {"sessionId": "console-4"})
exit4 = recorder.wait(lambda n, d: n == "exit" and d.get("sessionId") == "console-4", timeout=20)
check(exit4 is not None and exit4[1]["code"] == 130 and exit4[1]["status"] == "stopped", "stop ends the run: %r" % (exit4,))

# 6. Kernel events (socketio_notebook.py checks every one of them): state survives between cells.
sio.emit("kernel:start", {"notebookId": "repl", "language": "python"})
started = recorder.wait(lambda n, d: n in ("kernel:started", "kernel:error"), timeout=60)
check(started is not None and started[0] == "kernel:started", "kernel:started: %r" % (started,))
if started is not None and started[0] == "kernel:started":
    kernel = started[1]["kernelId"]
    sio.emit("kernel:execute", {"kernelId": kernel, "code": "x = 41", "cellId": "c1"})
    r1 = recorder.wait(lambda n, d: n == "kernel:cell_complete" and d.get("cellId") == "c1")
    check(r1 is not None, "first cell complete: %r" % (r1,))
    sio.emit("kernel:execute", {"kernelId": kernel, "code": "print(x + 1)", "cellId": "c2"})
    r2 = recorder.wait(lambda n, d: n == "kernel:cell_complete" and d.get("cellId") == "c2")
    check(r2 is not None, "second cell complete")
    out = recorder.wait(lambda n, d: n == "kernel:output" and d.get("content") == "42\n", timeout=5)
    check(out is not None, "kernel state survived between cells (42)")
    sio.emit("kernel:shutdown", {"kernelId": kernel})
    check(recorder.wait(lambda n, d: n == "kernel:shutdown_complete", timeout=20) is not None, "kernel:shutdown_complete reply")

# 7. Unknown events get an error event, the connection stays.
sio.emit("launch-rockets", {"sessionId": "x"})
err = recorder.wait(lambda n, d: n == "error" and d.get("code") == "unknown-type", timeout=10)
check(err is not None, "unknown event -> error event")
check(sio.connected, "still connected")

sio.disconnect()
finish("all Socket.IO checks passed")
