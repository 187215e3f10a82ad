#!/usr/bin/env python3
"""Load test for `coderunner serve`: N concurrent WebSocket clients, each connecting, running Python hello world
RUNS times and disconnecting. Reports success rate, run latency percentiles (p50/p95/p99, from sending `run` to its
`exit`) and `busy` retries. Clients answered `busy` (a server cap) wait briefly and retry, as a real client would.

Needs: pip install websocket-client
Usage: load_test.py --url ws://127.0.0.1:8080/ws [--clients 500] [--runs 5] [--token T]
All clients come from one address: start the server with CODERUNNER_SERVER_MAX_SESSIONS_PER_CLIENT (and
CODERUNNER_SERVER_MAX_SESSIONS) above --clients.
"""
import argparse
import json
import statistics
import sys
import threading
import time

import websocket

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--clients", type=int, default=500)
parser.add_argument("--runs", type=int, default=5)
parser.add_argument("--token", default=None)
parser.add_argument("--timeout", type=float, default=600)
args = parser.parse_args()

lock = threading.Lock()
latencies, failures, busy = [], [], [0]
start_barrier = threading.Barrier(args.clients)


def client(index):
    url = args.url + (("?token=" + args.token) if args.token else "")
    try:
        start_barrier.wait(timeout=120)
        ws = websocket.create_connection(url, timeout=args.timeout)
        hello = json.loads(ws.recv())
        if hello.get("type") != "hello":
            raise RuntimeError("no hello: %r" % hello)
        for run in range(args.runs):
            run_id = "c%d-r%d" % (index, run)
            while True:
                started = time.time()
                ws.send(json.dumps({"type": "run", "id": run_id, "language": "python",
                                    "files": [{"path": "hello.py", "content": "print('Hello, world!')\n"}]}))
                output, result = "", None
                while result is None:
                    message = json.loads(ws.recv())
                    if message.get("id") != run_id:
                        continue
                    if message["type"] == "output":
                        output += message["data"]
                    elif message["type"] in ("exit", "error"):
                        result = message
                if result["type"] == "error" and result.get("code") in ("busy", "rate-limited"):
                    with lock:
                        busy[0] += 1
                    time.sleep(0.2)
                    continue
                break
            elapsed = time.time() - started
            if result["type"] != "exit" or result["status"] != "ok" or output != "Hello, world!\n":
                raise RuntimeError("run %s: %r output %r" % (run_id, result, output))
            with lock:
                latencies.append(elapsed)
        ws.close()
    except Exception as error:  # noqa: BLE001 - every failure is counted and shown
        with lock:
            failures.append("client %d: %s" % (index, error))


began = time.time()
threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
wall = time.time() - began


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


expected = args.clients * args.runs
print(json.dumps({
    "clients": args.clients, "runsPerClient": args.runs, "runsOk": len(latencies), "runsExpected": expected,
    "successRate": round(100.0 * len(latencies) / expected, 2), "busyRetries": busy[0], "wallSeconds": round(wall, 1),
    "latencyMs": {"p50": round(percentile(latencies, 50) * 1000), "p95": round(percentile(latencies, 95) * 1000),
                  "p99": round(percentile(latencies, 99) * 1000),
                  "mean": round(statistics.mean(latencies) * 1000) if latencies else None},
}, indent=2))
for failure in failures[:20]:
    print(failure, file=sys.stderr)
sys.exit(0 if len(latencies) == expected else 1)
