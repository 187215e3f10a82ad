#!/usr/bin/env python3
"""Runs through the balancer and counts which node answered (docs/deploy.md, used by swarm-test).

Each native-protocol run opens its own WebSocket (a new session, so the balancer picks a node each time), reads the
node's `instance` from `hello`, runs print(6*7) and times it from the run message to `exit`. Then POST /api/run runs
(timed; the response does not name the node). Prints one JSON object; exits 1 if a run failed or fewer than
--expect-nodes nodes answered. With --drain-node, checks a drain instead (drain_check).
"""
import argparse, json, statistics, struct, subprocess, sys, time, urllib.request

import websocket  # websocket-client, from the test venv

RUN = {"language": "python", "files": [{"path": "a.py", "content": "print(6*7)"}]}


def ws_run(base, index):
    started = time.monotonic()
    ws = websocket.create_connection(f"ws://{base}/ws", timeout=30)
    try:
        hello = json.loads(ws.recv())
        connected = time.monotonic()
        ws.send(json.dumps(dict(RUN, type="run", id=f"r{index}")))
        out = ""
        while True:
            message = json.loads(ws.recv())
            if message["type"] == "output":
                out += message["data"]
            elif message["type"] in ("exit", "error"):
                break
        ok = message["type"] == "exit" and message["status"] == "ok" and out == "42\n"
        return {"instance": hello.get("instance"), "ok": ok, "connectMs": (connected - started) * 1e3,
                "runMs": (time.monotonic() - connected) * 1e3, "detail": None if ok else message}
    finally:
        ws.close()


def rest_run(base):
    started = time.monotonic()
    request = urllib.request.Request(f"http://{base}/api/run", data=json.dumps(RUN).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        body = json.load(response)
    return {"ok": body.get("status") == "ok" and body.get("stdout") == "42\n", "ms": (time.monotonic() - started) * 1e3}


def summary(values):
    values = sorted(values)
    return {"p50": round(statistics.median(values), 1), "p95": round(values[max(0, int(len(values) * 0.95) - 1)], 1),
            "max": round(values[-1], 1)} if values else None


def drain_check(base, node, command, runs):
    """A session on `node` runs a program of 8 s; `command` sends SIGTERM to that node's serve. New sessions must go
    elsewhere while it drains, the program must finish, and its session must be closed with 1012 afterwards."""
    for _ in range(20):
        ws = websocket.create_connection(f"ws://{base}/ws", timeout=30)
        if json.loads(ws.recv()).get("instance") == node:
            break
        ws.close()
    else:
        return {"ok": False, "detail": f"no session reached {node}"}
    slow = {"language": "python", "files": [{"path": "s.py", "content": "import time\ntime.sleep(8)\nprint('done')"}]}
    ws.send(json.dumps(dict(slow, type="run", id="slow")))
    time.sleep(1)
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL)  # stdout is the JSON report
    time.sleep(3)  # HAProxy's agent-check (every 2 s) hears `drain`
    during = [ws_run(base, i) for i in range(runs)]
    out, code, finished = "", None, None
    while True:
        try:
            opcode, frame = ws.recv_data_frame(True)
        except websocket.WebSocketConnectionClosedException:
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None
            break
        message = json.loads(frame.data)
        if message["type"] == "output":
            out += message["data"]
        elif message["type"] == "exit":
            finished = message["status"]
    per_node = {}
    for run in during:
        per_node[run["instance"]] = per_node.get(run["instance"], 0) + 1
    ok = node not in per_node and all(r["ok"] for r in during) and out == "done\n" and code == 1012
    return {"ok": ok, "runsDuringDrainPerNode": per_node, "drainingRunOutput": out, "drainingRunStatus": finished,
            "closeCode": code}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base", help="host:port of the balancer")
    parser.add_argument("--ws-runs", type=int, default=24)
    parser.add_argument("--rest-runs", type=int, default=12)
    parser.add_argument("--expect-nodes", type=int, default=2)
    parser.add_argument("--drain-node", help="instance to drain (with --drain-command) instead of counting runs")
    parser.add_argument("--drain-command", help="shell command that sends SIGTERM to that node's serve")
    args = parser.parse_args()
    if args.drain_node:
        report = drain_check(args.base, args.drain_node, args.drain_command, args.ws_runs)
        print(json.dumps(report, indent=1))
        sys.exit(0 if report["ok"] else 1)
    ws = [ws_run(args.base, i) for i in range(args.ws_runs)]
    rest = [rest_run(args.base) for _ in range(args.rest_runs)]
    per_node = {}
    for run in ws:
        per_node[run["instance"]] = per_node.get(run["instance"], 0) + 1
    failed = [run for run in ws if not run["ok"]] + [run for run in rest if not run["ok"]]
    report = {"wsRunsPerNode": per_node, "wsConnectMs": summary([r["connectMs"] for r in ws]),
              "wsRunMs": summary([r["runMs"] for r in ws]), "restRunMs": summary([r["ms"] for r in rest]),
              "failed": failed}
    print(json.dumps(report, indent=1))
    sys.exit(0 if not failed and len(per_node) >= args.expect_nodes else 1)


if __name__ == "__main__":
    main()
