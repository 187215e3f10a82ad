#!/usr/bin/env python3
"""The first run of a fresh `coderunner serve` connection against `docker exec` of the same program, interleaved in one
loop (.ci/bench's section 4; target: at most 1.5x).

  serve side: open a WebSocket on /ws, read `hello`, send the run, wait for its `exit`: the time a browser user waits
              after pressing Run in a new tab. Before each one the script waits, untimed, until the server has its ready
              sessions back (`coderunner_ready_sessions` at server.standby) and no session is live, so every timed
              connection finds one ready, as a user arriving at a server that is not saturated does.
  docker side: `docker exec` of the same program in a running container of the same image (the docker CLI's start
              included, as for a user of docker exec).

Prints two lines, `serve MS MS ...` and `docker MS MS ...`; exits 1 when an output differs from the expected one.
Needs: python3 with websocket-client (`./setup.sh test` installs it).
"""
import argparse
import json
import subprocess
import sys
import time
import urllib.request

import websocket

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--runs", type=int, default=10)
parser.add_argument("--warmup", type=int, default=1)
parser.add_argument("--language", default="python")
parser.add_argument("--file", required=True, help="the program, sent as its base name")
parser.add_argument("--expected", required=True, help="a file with the expected output")
parser.add_argument("--ready", type=int, required=True, help="server.standby's count for the language")
parser.add_argument("--docker", nargs=argparse.REMAINDER, required=True, help="the docker exec command (last)")
args = parser.parse_args()

name = args.file.rsplit("/", 1)[-1]
source = open(args.file).read()
expected = open(args.expected).read()


def metrics():
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % args.port, timeout=10) as reply:
        values = {}
        for line in reply.read().decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = value
        return values


def wait_until_ready():
    key = 'coderunner_ready_sessions{language="%s"}' % args.language
    deadline = time.time() + 60
    while time.time() < deadline:
        values = metrics()
        if int(values.get(key, "0")) >= args.ready and values.get("coderunner_sessions_live") == "0":
            return
        time.sleep(0.05)
    sys.exit("serve-first-run: the server did not get its ready sessions back within 60 s")


def serve_once():
    started = time.perf_counter()
    ws = websocket.create_connection("ws://127.0.0.1:%d/ws" % args.port, timeout=60)
    json.loads(ws.recv())
    ws.send(json.dumps({"type": "run", "id": "first", "language": args.language,
                        "files": [{"path": name, "content": source}]}))
    output = ""
    while True:
        message = json.loads(ws.recv())
        if message.get("type") == "output":
            output += message.get("data", "")
        elif message.get("type") in ("exit", "error"):
            break
    elapsed = (time.perf_counter() - started) * 1000
    ws.close()
    if message.get("type") != "exit" or output != expected:
        sys.exit("serve-first-run: unexpected answer %r, output %r" % (message, output[:500]))
    return elapsed


def docker_once():
    started = time.perf_counter()
    done = subprocess.run(args.docker, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0 or done.stdout != expected:
        sys.exit("serve-first-run: docker exec exited %d: %r %r" % (done.returncode, done.stdout[:500], done.stderr[:500]))
    return elapsed


serve, docker = [], []
for index in range(args.warmup + args.runs):
    timed = index >= args.warmup
    # Interleaved: serve first on even runs, docker first on odd ones, so drift hits both sides.
    order = [serve_once, docker_once] if index % 2 == 0 else [docker_once, serve_once]
    for measure in order:
        if measure is serve_once:
            wait_until_ready()
        elapsed = measure()
        if timed:
            (serve if measure is serve_once else docker).append(elapsed)
    print(".", end="", file=sys.stderr, flush=True)
print(file=sys.stderr)
print("serve " + " ".join("%.1f" % v for v in serve))
print("docker " + " ".join("%.1f" % v for v in docker))
