#!/usr/bin/env python3
"""The original web client's notebook events, sent exactly as it sends them (socket.io-client 4.8 with
transports ['websocket', 'polling'], here python-socketio), with every reply checked:

  kernel:start {notebookId, language}          -> kernel:status starting, kernel:started {notebookId, kernelId}, idle
  kernel:execute {kernelId, cellId, code}      -> kernel:execution_started {kernelId, cellId, executionCount},
                                                  kernel:status busy, kernel:output {kernelId, cellId, type, content}...,
                                                  kernel:cell_complete {kernelId, cellId}, kernel:status idle
  kernel:interrupt / restart / shutdown {kernelId} -> kernel:interrupted / restarted / shutdown_complete {kernelId}
  another connection's kernelId                -> kernel:error {kernelId, error: "Unauthorized: ..."}

Needs: python-socketio[client] and websocket-client (`./setup.sh test` installs them in /var/lib/coderunner/test-venv)
Usage: socketio_notebook.py --url http://127.0.0.1:PORT
Exits 0 when every check passed; prints what failed otherwise.
"""
import argparse
import base64
import time

from socketio_support import Recorder, check, finish, socketio

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
args = parser.parse_args()

KERNEL_EVENTS = ["kernel:started", "kernel:execution_started", "kernel:output", "kernel:status", "kernel:cell_complete",
                 "kernel:interrupted", "kernel:restarted", "kernel:shutdown_complete", "kernel:error", "error"]


def client():
    recorder = Recorder()
    sio = socketio.Client(reconnection=False)
    recorder.listen(sio, KERNEL_EVENTS)
    sio.connect(args.url, transports=["websocket", "polling"], wait_timeout=10)
    return sio, recorder


def events_since(recorder, start):
    with recorder.lock:
        return list(recorder.events[start:])


def run_cell(sio, recorder, kernel, cell, code, timeout=60):
    """Sends one cell; returns the events that followed it, up to its kernel:cell_complete (None on timeout)."""
    start = len(recorder.events)
    sio.emit("kernel:execute", {"kernelId": kernel, "cellId": cell, "code": code})
    done = recorder.wait(lambda n, d: n == "kernel:cell_complete" and d.get("cellId") == cell, timeout=timeout, start=start)
    if done is None:
        return None
    # The idle status comes right after cell_complete.
    recorder.wait(lambda n, d: n == "kernel:status" and d.get("status") == "idle", timeout=10, start=position(recorder, done, start) + 1)
    return events_since(recorder, start)


def position(recorder, event, start):
    """Index of `event` (the very object) in the recorder, from `start` on."""
    with recorder.lock:
        return next(i for i in range(start, len(recorder.events)) if recorder.events[i] is event)


def outputs(events, cell, kind=None):
    return "".join(d["content"] for n, d in events
                   if n == "kernel:output" and d.get("cellId") == cell and (kind is None or d.get("type") == kind))


sio, recorder = client()
check(sio.connected, "connected like the original client (websocket first)")

# 1. kernel:start -> starting, started {notebookId, kernelId}, idle.
sio.emit("kernel:start", {"notebookId": "nb-1", "language": "python"})
started = recorder.wait(lambda n, d: n in ("kernel:started", "kernel:error"), timeout=90)
check(started is not None and started[0] == "kernel:started", "kernel:started: %r" % (started,))
if started is None or started[0] != "kernel:started":
    finish("unreachable")
kernel = started[1]["kernelId"]
check(started[1] == {"notebookId": "nb-1", "kernelId": kernel}, "kernel:started is exactly {notebookId, kernelId}: %r" % started[1])
recorder.wait(lambda n, d: n == "kernel:status" and d == {"kernelId": kernel, "status": "idle"}, timeout=10)
statuses = [d["status"] for n, d in recorder.events if n == "kernel:status" and d.get("kernelId") == kernel]
check(statuses[:2] == ["starting", "idle"], "kernel:status starting then idle: %r" % statuses)

# 2. A second start for the same notebook returns the same kernel.
mark = len(recorder.events)
sio.emit("kernel:start", {"notebookId": "nb-1", "language": "python"})
again = recorder.wait(lambda n, d: n == "kernel:started", timeout=20, start=mark)
check(again is not None and again[1]["kernelId"] == kernel, "a second kernel:start for nb-1 returns the same kernel: %r" % (again,))

# 3. Cells: execution_started with counts, busy, outputs with the cell's id, cell_complete, idle; state survives.
first = run_cell(sio, recorder, kernel, "c1", "x = 41\nprint('hello')\nimport sys; print('warn', file=sys.stderr)")
check(first is not None, "cell c1 completes")
if first:
    names = [n for n, d in first]
    check(("kernel:execution_started", {"kernelId": kernel, "cellId": "c1", "executionCount": 1}) in first,
          "kernel:execution_started {kernelId, cellId, executionCount: 1}")
    check(("kernel:status", {"kernelId": kernel, "status": "busy"}) in first, "kernel:status busy")
    check(outputs(first, "c1", "stdout") == "hello\n", "stdout output with the cell id: %r" % outputs(first, "c1", "stdout"))
    check(outputs(first, "c1", "stderr") == "warn\n", "stderr output: %r" % outputs(first, "c1", "stderr"))
    check(all(set(d) == {"kernelId", "cellId", "type", "content"} for n, d in first if n == "kernel:output"),
          "kernel:output is exactly {kernelId, cellId, type, content}")
    check(("kernel:cell_complete", {"kernelId": kernel, "cellId": "c1"}) in first, "kernel:cell_complete {kernelId, cellId}")
    check(names.index("kernel:cell_complete") < len(names) - 1 and first[-1] == ("kernel:status", {"kernelId": kernel, "status": "idle"}),
          "idle after cell_complete: %r" % names[-3:])
second = run_cell(sio, recorder, kernel, "c2", "print(x + 1)")
check(second is not None and outputs(second, "c2", "stdout") == "42\n", "state survives between cells (42)")
check(second is not None and ("kernel:execution_started", {"kernelId": kernel, "cellId": "c2", "executionCount": 2}) in second,
      "executionCount 2 for the second cell")

# 4. An error: the traceback as type error (not as stderr).
failing = run_cell(sio, recorder, kernel, "c3", "def f():\n    return 1 / 0\nf()")
check(failing is not None and "ZeroDivisionError" in outputs(failing, "c3", "error")
      and "Traceback (most recent call last)" in outputs(failing, "c3", "error"), "traceback as type error: %r" % (failing,))
check(failing is not None and "ZeroDivisionError" not in outputs(failing, "c3", "stderr"), "the traceback is not repeated as stderr")

# 5. An image: base64 PNG without a data: prefix.
plot = run_cell(sio, recorder, kernel, "c4", "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()", timeout=120)
image = outputs(plot, "c4", "image") if plot else ""
check(image != "" and not image.startswith("data:") and base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n",
      "matplotlib figure as type image, base64 PNG (%d chars)" % len(image))

# 6. Interrupt: kernel:interrupted, the cell completes, state kept.
mark = len(recorder.events)
sio.emit("kernel:execute", {"kernelId": kernel, "cellId": "c5", "code": "import time\nwhile True:\n    time.sleep(0.05)"})
busy = recorder.wait(lambda n, d: n == "kernel:execution_started" and d.get("cellId") == "c5", timeout=20)
time.sleep(0.5)
sio.emit("kernel:interrupt", {"kernelId": kernel})
interrupted = recorder.wait(lambda n, d: n == "kernel:interrupted", timeout=20, start=mark)
check(interrupted is not None and interrupted[1] == {"kernelId": kernel}, "kernel:interrupted {kernelId}: %r" % (interrupted,))
complete = recorder.wait(lambda n, d: n == "kernel:cell_complete" and d.get("cellId") == "c5", timeout=20)
check(complete is not None, "the interrupted cell completes")
time.sleep(0.3)
kept = run_cell(sio, recorder, kernel, "c6", "print(x)")
check(kept is not None and outputs(kept, "c6", "stdout") == "41\n", "state kept after the interrupt")

# 7. Ownership: another connection cannot use this kernel; an unknown id neither.
other, other_recorder = client()
other.emit("kernel:execute", {"kernelId": kernel, "cellId": "evil", "code": "print('pwned')"})
refused = other_recorder.wait(lambda n, d: n == "kernel:error", timeout=20)
check(refused is not None and refused[1].get("error") == "Unauthorized: kernel does not belong to this session"
      and refused[1].get("kernelId") == kernel and refused[1].get("cellId") == "evil", "ownership refusal: %r" % (refused,))
for event in ("kernel:interrupt", "kernel:restart", "kernel:shutdown"):
    mark = len(other_recorder.events)
    other.emit(event, {"kernelId": kernel})
    refusal = other_recorder.wait(lambda n, d: n == "kernel:error", timeout=20, start=mark)
    check(refusal is not None and refusal[1]["error"].startswith("Unauthorized"), "%s of a foreign kernel refused" % event)
other.disconnect()
time.sleep(0.5)
check(not any(n == "kernel:output" and "pwned" in d.get("content", "") for n, d in recorder.events), "the foreign cell never ran")

# 8. Restart: kernel:restarted, state gone, counts start again.
mark = len(recorder.events)
sio.emit("kernel:restart", {"kernelId": kernel})
restarted = recorder.wait(lambda n, d: n == "kernel:restarted", timeout=60, start=mark)
check(restarted is not None and restarted[1] == {"kernelId": kernel}, "kernel:restarted {kernelId}: %r" % (restarted,))
fresh = run_cell(sio, recorder, kernel, "c7", "print(x)")
check(fresh is not None and "NameError" in outputs(fresh, "c7", "error"), "state gone after restart (NameError)")
check(fresh is not None and ("kernel:execution_started", {"kernelId": kernel, "cellId": "c7", "executionCount": 1}) in fresh,
      "executionCount starts again at 1 after restart")

# 9. Two notebooks, two kernels; a failed start names its notebook.
sio.emit("kernel:start", {"notebookId": "nb-2", "language": "javascript"})
js = recorder.wait(lambda n, d: n == "kernel:started" and d.get("notebookId") == "nb-2", timeout=90)
check(js is not None and js[1]["kernelId"] != kernel, "a second notebook gets its own kernel")
if js:
    js_cell = run_cell(sio, recorder, js[1]["kernelId"], "j1", "const y = 6 * 7; y")
    check(js_cell is not None and outputs(js_cell, "j1", "stdout") == "42\n", "the JavaScript kernel runs: %r" % (js_cell,))
sio.emit("kernel:start", {"notebookId": "nb-3", "language": "cobol"})
bad = recorder.wait(lambda n, d: n == "kernel:error" and d.get("notebookId") == "nb-3", timeout=30)
check(bad is not None and "cobol" in bad[1]["error"], "a failed start -> kernel:error {notebookId, error}: %r" % (bad,))

# 10. Shutdown: shutdown_complete, then the id is no longer this connection's.
mark = len(recorder.events)
sio.emit("kernel:shutdown", {"kernelId": kernel})
down = recorder.wait(lambda n, d: n == "kernel:shutdown_complete", timeout=30, start=mark)
check(down is not None and down[1] == {"kernelId": kernel}, "kernel:shutdown_complete {kernelId}: %r" % (down,))
mark = len(recorder.events)
sio.emit("kernel:execute", {"kernelId": kernel, "cellId": "late", "code": "1"})
late = recorder.wait(lambda n, d: n == "kernel:error", timeout=20, start=mark)
check(late is not None and late[1]["error"].startswith("Unauthorized"), "a shut-down kernel's id is refused: %r" % (late,))

check(not any(n == "error" for n, d in recorder.events), "no generic error events: %r" % [d for n, d in recorder.events if n == "error"])
sio.disconnect()
finish("all notebook event checks passed")
