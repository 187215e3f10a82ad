#!/usr/bin/env python3
"""The original web client's two deployments and its heartbeat, against a server started with the configuration the
README documents ("Using the original web client"):

  vite   the page on http://localhost:5173 talks to the server's own port: Origin http://localhost:5173, accepted
         with server.allowedOrigins=http://localhost:5173 (and refused by a server without it: --expect-refusal)
  nginx  nginx on :8080 proxies /socket.io/ with `proxy_set_header Host $host`: Host "localhost" without a port,
         Origin http://localhost:8080; accepted with the default configuration
  health GET /api/health answers like /health
  heartbeat  (--heartbeat SECONDS) a client that answers pings stays connected for that long; one that never answers
         is closed after about pingInterval + pingTimeout

Needs: python-socketio[client] and websocket-client (`./setup.sh test` installs them in /var/lib/coderunner/test-venv)
Usage: socketio_deployments.py --url http://127.0.0.1:PORT [--expect-refusal] [--heartbeat SECONDS]
"""
import argparse
import json
import time
import urllib.request

import websocket

from socketio_support import Recorder, check, finish, socketio

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--expect-refusal", action="store_true", help="the server has no allowedOrigins: the Vite origin is refused")
parser.add_argument("--heartbeat", type=float, default=0)
args = parser.parse_args()
port = args.url.rsplit(":", 1)[1].strip("/")
ws_url = args.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


def handshake(origin, host):
    """Opens the socket with the browser's Origin and the proxy's Host; returns (open packet, CONNECT reply) or the error."""
    try:
        ws = websocket.create_connection(ws_url, origin=origin, host=host, timeout=10)
    except Exception as error:  # a refused upgrade: websocket-client raises WebSocketBadStatusException
        return error
    try:
        opened = ws.recv()
        ws.send("40")
        connected = ws.recv()
        return opened, connected
    finally:
        ws.close()


def refused(result):
    """hummingbird-websocket answers a refused upgrade with a bare 400 (403 where the route can say more)."""
    return isinstance(result, Exception) and ("400" in str(result) or "403" in str(result))


# The Vite dev server: page on :5173, server on its own port.
vite = handshake("http://localhost:5173", "localhost:%s" % port)
if args.expect_refusal:
    check(refused(vite), "without server.allowedOrigins the :5173 origin is refused: %r" % (vite,))
    finish("the default configuration refuses a foreign origin")
check(not isinstance(vite, Exception) and vite[0].startswith("0{") and vite[1].startswith("40{"),
      "Vite: origin http://localhost:5173 to port %s connects: %r" % (port, vite))

# nginx: Host without the port, the page's origin with nginx's port.
nginx = handshake("http://localhost:8080", "localhost")
check(not isinstance(nginx, Exception) and nginx[1].startswith("40{"), "nginx: Host 'localhost' without a port connects: %r" % (nginx,))
same_port_80 = handshake("http://localhost", "localhost")
check(not isinstance(same_port_80, Exception) and same_port_80[1].startswith("40{"), "nginx on port 80: connects")
foreign = handshake("http://evil.example:8080", "localhost")
check(refused(foreign), "another site's origin through the proxy is still refused: %r" % (foreign,))

# /api/health like /health.
for path in ("/health", "/api/health"):
    with urllib.request.urlopen(args.url + path, timeout=30) as response:
        body = json.loads(response.read())
        check(response.status == 200 and body.get("status") == "ok", "GET %s: %s %r" % (path, response.status, body.get("status")))

# A whole run as the original client does it, from the Vite page's origin (websocket-client's `origin` option).
recorder = Recorder()
sio = socketio.Client(reconnection=False, websocket_extra_options={"origin": "http://localhost:5173"})
recorder.listen(sio, ["output", "exit", "error"])
sio.connect(args.url, transports=["websocket", "polling"], wait_timeout=10)
sio.emit("run", {"sessionId": "c1", "language": "python", "files": [
    {"name": "main.py", "path": "main.py", "content": "print('through vite')\n", "toBeExec": True}]})
done = recorder.wait(lambda n, d: n == "exit" and d.get("sessionId") == "c1", timeout=90)
check(done is not None and done[1]["code"] == 0 and recorder.output("c1", "stdout") == "through vite\n", "a run through the Vite origin")

if args.heartbeat:
    # The client answers every ping; it must still be connected (and working) after several intervals.
    time.sleep(args.heartbeat)
    check(sio.connected, "a client that answers pings is still connected after %.0f s" % args.heartbeat)
    sio.emit("run", {"sessionId": "c2", "language": "python", "files": [
        {"name": "main.py", "path": "main.py", "content": "print('still here')\n", "toBeExec": True}]})
    late = recorder.wait(lambda n, d: n == "exit" and d.get("sessionId") == "c2", timeout=60)
    check(late is not None and late[1]["code"] == 0, "and its next run succeeds")
    # A socket that never answers a ping is closed.
    silent = websocket.create_connection(ws_url, timeout=args.heartbeat * 3)
    opened = json.loads(silent.recv()[1:])
    silent.send("40")
    started = time.time()
    pings = 0
    closed_after = None
    try:
        while time.time() - started < args.heartbeat * 3:
            frame = silent.recv()
            if frame == "2":
                pings += 1
            elif frame == "":
                closed_after = time.time() - started
                break
    except (websocket.WebSocketConnectionClosedException, ConnectionError, websocket.WebSocketTimeoutException):
        closed_after = time.time() - started
    limit = (opened["pingInterval"] + opened["pingTimeout"]) / 1000 + 2
    check(closed_after is not None and closed_after <= limit and pings >= 1,
          "a socket that never answers pings is closed after %s s (limit %.1f s, %d ping(s))" % (closed_after, limit, pings))
sio.disconnect()
finish("the original client's deployments work")
