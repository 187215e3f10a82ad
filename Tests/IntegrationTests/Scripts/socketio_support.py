"""What the Socket.IO test scripts share: the client import (with a hint when it is missing), pass/fail reporting and a
recorder of received events to wait on."""
import sys
import threading
import time

from checks import check, failures, finish  # noqa: F401 (re-exported for the scripts)

try:
    import socketio  # noqa: F401 (re-exported for the scripts)
except ImportError:
    print('python-socketio is missing: pip install "python-socketio[client]" websocket-client', file=sys.stderr)
    sys.exit(2)

class Recorder:
    """Every event the client received, in order; `wait` blocks until one matches."""

    def __init__(self):
        self.lock = threading.Condition()
        self.events = []

    def add(self, name, data):
        with self.lock:
            self.events.append((name, data))
            self.lock.notify_all()

    def listen(self, client, names):
        for name in names:
            client.on(name, (lambda n: lambda data=None: self.add(n, data))(name))

    def wait(self, predicate, timeout=90, start=0):
        """The first event from index `start` on that matches, or None after `timeout` seconds."""
        deadline = time.time() + timeout
        with self.lock:
            while True:
                for event in self.events[start:]:
                    if predicate(*event):
                        return event
                remaining = deadline - time.time()
                if remaining <= 0:
                    return None
                self.lock.wait(remaining)

    def output(self, session_id, kinds=None):
        """The `data` of a console's `output` events, of the given types (a string or a tuple; all when None)."""
        if isinstance(kinds, str):
            kinds = (kinds,)
        with self.lock:
            return "".join(d["data"] for n, d in self.events
                           if n == "output" and d.get("sessionId") == session_id and (kinds is None or d.get("type") in kinds))
