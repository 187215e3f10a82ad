#!/usr/bin/env python3
"""Load drivers for `coderunner serve` (issue 7's slow tests; ServeScaleTests runs them and watches the server's memory
and descriptors from /proc).

  storm         --connections N --concurrency C --run-every K
                N connections open and close, C at a time: every one reads `hello`; every K-th runs hello world; a third
                send a malformed message first; a third close without a close frame (the TCP connection just drops).
  slow-readers  --clients N --seconds S
                N clients each start a program printing at full speed and never read; after S seconds they drop.
  churn         --connections N --concurrency C [--socketio]
                N connections that only open, read the greeting (`hello`, or Socket.IO's open and CONNECT replies with
                --socketio, where --url is the /socket.io/?EIO=4&transport=websocket address) and close.
  hold          --connections N --concurrency C --serve-pid P --coderunner BIN
                N connections open, C at a time, each runs hello world once and stays open (issue 12's capacity test):
                the time to full occupancy, first-run p50 and mean lease time (from /metrics) in the first and the
                last tenth, the memory of serve, dockerd and the host at full occupancy, distinct networks and subnets,
                two pairs of sessions probed for isolation (with a same-session control), the answer to one connection
                more, the time for everyone to disconnect and for `coderunner net gc --all` to leave nothing.
  classroom     --clients N --programs K --think-min A --think-max B
                issue 12's classroom: N clients connect and stay connected, then each runs K programs with a think time
                of A to B seconds before each one (uniform). Each client has a course language (7 in 10 Python, the rest
                JavaScript); every fifth client runs its third program in the other language. Any error, `busy`
                included, is a failure. Reports p50/p95 of first runs, of later runs in a language the session already
                ran (warm), and of later runs in a new language (a container made in the session), and the server's
                ready-session counters.
  soak          --clients N --seconds S
                N clients loop for S seconds: connect, run, disconnect. Normal runs (python, javascript every 5th)
                and, every 4th round, a hostile one (memory bomb, fork bomb, output flood, endless loop, disk fill)
                whose status must be the expected one.

Prints one JSON summary line; exits 1 when a client saw something wrong (an error other than `busy`, a bad exit).
Needs: websocket-client (`./setup.sh test` installs it in /var/lib/coderunner/test-venv; put its bin first on PATH)
"""
import argparse
import json
import random
import socket
import sys
import threading
import time

import websocket

parser = argparse.ArgumentParser()
parser.add_argument("mode", choices=["storm", "slow-readers", "churn", "soak", "hold", "classroom"])
parser.add_argument("--programs", type=int, default=5)
parser.add_argument("--think-min", type=float, default=10)
parser.add_argument("--think-max", type=float, default=25)
parser.add_argument("--serve-pid", type=int, default=0)
parser.add_argument("--coderunner", default="coderunner")
parser.add_argument("--url", required=True)
parser.add_argument("--connections", type=int, default=2000)
parser.add_argument("--concurrency", type=int, default=50)
parser.add_argument("--run-every", type=int, default=100)
parser.add_argument("--clients", type=int, default=8)
parser.add_argument("--seconds", type=float, default=60)
parser.add_argument("--socketio", action="store_true")
args = parser.parse_args()

lock = threading.Lock()
counts = {"connections": 0, "runs": 0, "busy": 0}
failures = []
latencies = []


def fail(message):
    with lock:
        if len(failures) < 20:
            failures.append(message)


def bump(key, amount=1):
    with lock:
        counts[key] = counts.get(key, 0) + amount


def connect():
    ws = websocket.create_connection(args.url, timeout=120)
    hello = json.loads(ws.recv())
    if hello.get("type") != "hello":
        raise RuntimeError("no hello: %r" % hello)
    bump("connections")
    return ws


def collect_run(ws, run_id, give_up_after=None):
    """Reads a run's output up to its `exit` or `error`; returns (output, that message). With `give_up_after` (seconds),
    socket timeouts are waited through (the server's pings keep restarting them) and the run's own deadline decides."""
    started = time.time()
    output = ""
    while True:
        if give_up_after is not None and time.time() - started > give_up_after:
            return output, {"type": "no answer within %d s" % give_up_after}
        try:
            message = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            if give_up_after is None:
                raise
            continue
        if message.get("id") != run_id:
            continue
        if message["type"] == "output":
            output += message["data"]
        elif message["type"] in ("exit", "error"):
            return output, message


def run(ws, run_id, language="python"):
    files = {"python": [{"path": "hello.py", "content": "print('Hello, world!')\n"}],
             "javascript": [{"path": "hello.js", "content": "console.log('Hello, world!')\n"}]}[language]
    while True:
        started = time.time()
        ws.send(json.dumps({"type": "run", "id": run_id, "language": language, "files": files}))
        output, result = collect_run(ws, run_id)
        if result["type"] == "error" and result.get("code") in ("busy", "rate-limited"):
            bump("busy")
            time.sleep(0.2)
            continue
        if result.get("status") != "ok" or output != "Hello, world!\n":
            fail("run %s: %r output %r" % (run_id, result, output[:200]))
        else:
            with lock:
                latencies.append((time.time() - started) * 1000)
        bump("runs")
        return


# name, program, limits, the statuses that count as contained
HOSTILE = [
    ("memory bomb", "hog = []\nwhile True:\n    hog.append(b'x' * (10 << 20))\n", {}, {"memory-limit"}),
    ("fork bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
     {"timeout": "2s"}, {"timeout", "memory-limit", "runtime-error", "signal"}),
    ("output flood", "import os\nwhile True:\n    os.write(1, b'o' * 65536)\n", {"outputLimit": "256k"}, {"output-limit"}),
    ("endless loop", "while True:\n    pass\n", {"timeout": "1s"}, {"timeout"}),
    ("disk fill", "i = 0\nwhile True:\n    open('/tmp/f%d' % i, 'wb').write(b'\\0' * (4 << 20))\n    i += 1\n", {}, {"runtime-error"}),
]


def hostile(ws, run_id, case):
    name, program, limits, expected = case
    while True:
        ws.send(json.dumps({"type": "run", "id": run_id, "language": "python", "limits": limits,
                            "files": [{"path": "hostile.py", "content": program}]}))
        result = None
        while result is None:
            message = json.loads(ws.recv())
            if message.get("id") == run_id and message["type"] in ("exit", "error"):
                result = message
        if result["type"] == "error" and result.get("code") in ("busy", "rate-limited"):
            bump("busy")
            time.sleep(0.2)
            continue
        if result.get("status") not in expected:
            fail("%s %s: %r" % (name, run_id, result))
        bump("hostile")
        return


def drop(ws):
    """Close the TCP connection without a WebSocket close frame."""
    try:
        ws.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    ws.sock.close()


def each_connection(handle):
    """Calls handle(index) for every index below --connections, --concurrency threads at a time; an exception is
    reported as that connection's failure."""
    next_index = [0]

    def worker():
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= args.connections:
                return
            try:
                handle(index)
            except Exception as error:  # noqa: BLE001 - every failure is reported
                fail("connection %d: %r" % (index, error))

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def storm():
    def one(index):
        ws = connect()
        if index % 3 == 1:
            ws.send("{ not json")
            reply = json.loads(ws.recv())
            if reply.get("type") != "error":
                fail("malformed message answered with %r" % reply)
        if args.run_every and index % args.run_every == 0:
            run(ws, "storm-%d" % index)
        if index % 3 == 2:
            drop(ws)
        else:
            ws.close()

    each_connection(one)


def churn():
    def one(index):
        ws = websocket.create_connection(args.url, timeout=60)
        greeting = ws.recv()
        if args.socketio:
            ws.send("40")
            reply = ws.recv()
            if not (greeting.startswith("0{") and reply.startswith("40")):
                raise RuntimeError("no Socket.IO open/connect: %r %r" % (greeting, reply))
        elif json.loads(greeting).get("type") != "hello":
            raise RuntimeError("no hello: %r" % greeting)
        bump("connections")
        ws.close()

    each_connection(one)


def slow_readers():
    flood = "import os\nwhile True:\n    os.write(1, b'x' * 65536)\n"
    sockets = []
    for index in range(args.clients):
        try:
            ws = connect()
            ws.send(json.dumps({"type": "run", "id": "flood-%d" % index, "language": "python",
                                "files": [{"path": "flood.py", "content": flood}]}))
            sockets.append(ws)
        except Exception as error:  # noqa: BLE001
            fail("client %d: %r" % (index, error))
    # Read nothing at all while the programs print; the server must slow them down, not buffer for us.
    time.sleep(args.seconds)
    for ws in sockets:
        drop(ws)


def soak():
    deadline = time.time() + args.seconds

    def client(index):
        round_ = 0
        while time.time() < deadline:
            try:
                ws = connect()
                if round_ % 4 == 3:
                    hostile(ws, "soak-%d-%d" % (index, round_), HOSTILE[(index + round_ // 4) % len(HOSTILE)])
                else:
                    language = "javascript" if round_ % 5 == 4 else "python"
                    run(ws, "soak-%d-%d" % (index, round_), language)
                ws.close()
            except Exception as error:  # noqa: BLE001
                fail("client %d round %d: %r" % (index, round_, error))
                time.sleep(1)
            round_ += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def host_used_mib():
    fields = {}
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
    return (fields["MemTotal"] - fields["MemAvailable"]) // 1024


def hold():
    import os
    import subprocess
    # The CLI refuses CODERUNNER_* variables it does not know, such as the test's own.
    cli_env = {k: v for k, v in os.environ.items() if k != "CODERUNNER_CAPACITY_SESSIONS"}
    held = []
    order = []

    def one(index):
        ws = connect()
        run(ws, "hold-%d" % index)
        with lock:
            held.append(ws)
            order.append((time.time(), latencies[-1] if latencies else None))

    # Held connections answer the server's pings (websocket-client does so inside recv), or it closes them as dead.
    holding = [True]
    ping_lock = threading.Lock()  # a socket taken out of `held` under it is no longer read by the pinger

    def answer_pings():
        while holding[0]:
            with lock:
                sockets = list(held)
            for ws in sockets:
                with ping_lock:
                    if ws not in held:
                        continue
                    try:
                        ws.sock.settimeout(0.001)
                        ws.recv()
                    except Exception:  # noqa: BLE001 - a timeout: nothing but control frames arrived
                        pass
            time.sleep(2)

    pinger = threading.Thread(target=answer_pings, daemon=True)
    pinger.start()
    # The server's lease counters, sampled through the fill: the mean lease time of the first and the last tenth.
    port = int(args.url.split(":")[2].split("/")[0])
    lease_samples = []

    def sample_leases():
        import urllib.request
        while holding[0]:
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30).read().decode()
                values = dict(line.split(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))
                lease_samples.append((int(float(values["coderunner_network_leases_total"])),
                                      float(values["coderunner_network_lease_seconds_total"])))
            except Exception:  # noqa: BLE001 - a sample missed under load
                pass
            time.sleep(1)

    sampler = threading.Thread(target=sample_leases, daemon=True)
    sampler.start()
    dockerd = int(open("/var/run/docker.pid").read().strip()) if args.serve_pid else 0
    before = {"host_used_mib": host_used_mib(), "dockerd_rss_mib": (rss_kib(dockerd) or 0) // 1024 if dockerd else None}
    started_at = time.time()
    each_connection(one)
    full = time.time() - started_at
    firsts = [ms for _, ms in sorted(order)]
    tenth = max(1, len(firsts) // 10)

    def median(values):
        values = sorted(v for v in values if v is not None)
        return round(values[len(values) // 2], 1) if values else None

    at_full = {
        "host_used_mib": host_used_mib(),
        "dockerd_rss_mib": (rss_kib(dockerd) or 0) // 1024 if dockerd else None,
        "serve_rss_mib": (rss_kib(args.serve_pid) or 0) // 1024 if args.serve_pid else None,
    }
    running = len(subprocess.run(["docker", "ps", "-q", "--filter", "label=dev.coderunner.managed"], capture_output=True, text=True).stdout.split())
    at_full["running_containers"] = running
    pool = json.loads(subprocess.run([args.coderunner, "pool", "--json"], capture_output=True, text=True, env=cli_env).stdout or "{}")
    subnets = [s.get("subnet") for s in pool.get("sessions", []) if s.get("subnet")]
    networks = [s.get("network") for s in pool.get("sessions", []) if s.get("network")]
    # Two pairs of held sessions (the first and the last, the middle one and the one before last): each pair's first
    # session serves, a second run of its own session must reach it (the control), the other session's run must not.
    isolation = []
    for a, b in ((held[0], held[-1]), (held[len(held) // 2], held[-2])) if len(held) >= 4 else ():
        with ping_lock, lock:
            held[:] = [ws for ws in held if ws is not a and ws is not b]
        a.sock.settimeout(120)
        b.sock.settimeout(120)
        try:
            isolation.append(probe_isolation(a, b, "iso-%d" % len(isolation)))
        except Exception as error:  # noqa: BLE001
            isolation.append({"error": repr(error)})
        with lock:
            held.extend([a, b])
    for result in isolation:
        if not (result.get("same_session", "").startswith("reached") and result.get("other_session", "").startswith("blocked")):
            fail("isolation: %r" % result)
    # One connection more: its answer.
    extra = None
    try:
        ws = connect()
        ws.send(json.dumps({"type": "run", "id": "one-more", "language": "python",
                            "files": [{"path": "hello.py", "content": "print('Hello, world!')\n"}]}))
        while extra is None:
            message = json.loads(ws.recv())
            if message.get("id") == "one-more" and message["type"] in ("exit", "error"):
                extra = {k: message.get(k) for k in ("type", "status", "code", "message")}
        ws.close()
    except Exception as error:  # noqa: BLE001
        extra = {"refused": repr(error)}
    holding[0] = False
    pinger.join()
    sampler.join()

    def mean_lease_ms(first, last):
        return round((last[1] - first[1]) / (last[0] - first[0]) * 1000, 2) if last[0] > first[0] else None

    lease_times = {}
    if lease_samples:
        total = lease_samples[-1][0]
        start = next((s for s in lease_samples if s[0] >= total // 10), lease_samples[-1])
        end = next((s for s in lease_samples if s[0] >= total - total // 10), lease_samples[-1])
        lease_times = {"leases": total, "mean_lease_ms_first_tenth": mean_lease_ms((0, 0.0), start),
                       "mean_lease_ms_last_tenth": mean_lease_ms(end, lease_samples[-1])}
    closing = time.time()
    for ws in held:
        try:
            ws.close()
        except Exception:  # noqa: BLE001
            pass
    # Everyone's containers are gone and their leases given back once no lease is left.
    while time.time() - closing < 600:
        leases = subprocess.run(["docker", "ps", "-aq", "--filter", "label=dev.coderunner.lease"], capture_output=True, text=True).stdout.split()
        if not leases:
            break
        time.sleep(0.5)
    disconnect = time.time() - closing
    gc_started = time.time()
    gc = subprocess.run([args.coderunner, "net", "gc", "--all", "--yes"], capture_output=True, text=True, env=cli_env)
    gc_seconds = time.time() - gc_started
    left = subprocess.run(["docker", "network", "ls", "-q", "--filter", "label=dev.coderunner.managed"], capture_output=True, text=True).stdout.split()
    with lock:
        counts.update({
            "held": len(held), "seconds_to_full": round(full, 1),
            "first_run_p50_ms_first_tenth": median(firsts[:tenth]), "first_run_p50_ms_last_tenth": median(firsts[-tenth:]),
            "distinct_subnets": len(set(subnets)), "sessions_listed": len(subnets),
            "distinct_networks": len(set(networks)), "networks_listed": len(networks), "isolation": isolation,
            "lease_times": lease_times,
            "before": before, "at_full": at_full, "one_more": extra,
            "seconds_to_disconnect_everyone": round(disconnect, 1), "net_gc_all_seconds": round(gc_seconds, 1),
            "net_gc_all_summary": gc.stdout.strip().splitlines()[-1:] if gc.stdout else gc.stderr[-300:],
            "managed_networks_left": len(left),
        })


def probe_isolation(a, b, tag):
    """A's session serves on port 8000 for 9 s (the default limit is 10 s); a second run in A's session (a container on A's network) connects to
    it, and so does a run in B's session. Returns what each saw: `reached ...` or `blocked ...`."""
    server = ("import socket, time\n"
              "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
              "s.bind(('0.0.0.0', 8000)); s.listen(8); s.settimeout(0.5)\n"
              "print(socket.gethostbyname(socket.gethostname()), flush=True)\n"
              "end = time.time() + 9\n"
              "while time.time() < end:\n"
              "    try:\n"
              "        c, _ = s.accept(); c.sendall(b'hi'); c.close()\n"
              "    except OSError:\n"
              "        pass\n")

    def start(ws, run_id, program):
        ws.send(json.dumps({"type": "run", "id": run_id, "language": "python",
                            "files": [{"path": "main.py", "content": program}]}))

    outputs, ended = {}, {}

    def read_until(ws, run_id, first_line=False):
        # One reader per connection at a time; the messages of the connection's other run are kept for later.
        while True:
            output = outputs.get(run_id, "")
            if first_line and output.endswith("\n"):
                return output.strip()
            if run_id in ended:
                if first_line:
                    raise RuntimeError("the server run ended first: %r %r" % (ended[run_id], output))
                return output.strip() or repr(ended[run_id])
            message = json.loads(ws.recv())
            if message.get("type") == "output":
                outputs[message.get("id")] = outputs.get(message.get("id"), "") + message["data"]
            elif message.get("type") in ("exit", "error"):
                ended[message.get("id")] = message

    start(a, tag + "-server", server)
    address = read_until(a, tag + "-server", first_line=True)
    client = ("import socket\n"
              "s = socket.socket(); s.settimeout(1.5)\n"
              "try:\n"
              "    s.connect((%r, 8000)); print('reached', s.recv(8))\n"
              "except OSError as error:\n"
              "    print('blocked', error)\n") % address
    start(b, tag + "-other", client)
    start(a, tag + "-same", client)
    other = read_until(b, tag + "-other")
    same = read_until(a, tag + "-same")
    read_until(a, tag + "-server")
    return {"address": address, "same_session": same, "other_session": other}


def classroom():
    import urllib.request
    port = int(args.url.split(":")[2].split("/")[0])
    by_kind = {"first": [], "warm": [], "new-language": []}
    sources = {
        "python": ("p.py", "print(sum(range(%d)))\n"),
        "javascript": ("p.js", "let s = 0; for (let i = 0; i < %d; i++) s += i; console.log(s)\n"),
    }
    connected = threading.Barrier(args.clients + 1)

    def think(ws, seconds):
        # Waiting in recv, so the server's pings are answered while the student thinks. Short reads: a ping restarts a
        # read's timeout, so one long read could outlast the think time (pings come every 30 s).
        deadline = time.time() + seconds
        while True:
            left = deadline - time.time()
            if left <= 0:
                return
            ws.settimeout(min(left, 1.0))
            try:
                ws.recv()
            except websocket.WebSocketTimeoutException:
                continue  # nothing came in that second: think on until the deadline

    def student(index):
        try:
            ws = connect()
        finally:
            connected.wait()
        course = "python" if index % 10 < 7 else "javascript"
        other = "javascript" if course == "python" else "python"
        used = set()
        rng = random.Random(index)
        for program in range(args.programs):
            think(ws, rng.uniform(args.think_min, args.think_max))
            language = other if index % 5 == 0 and program == 2 else course
            n = 1000 * (index + 1) + program
            path, template = sources[language]
            run_id = "s%d-p%d" % (index, program)
            ws.settimeout(5)
            started = time.time()
            ws.send(json.dumps({"type": "run", "id": run_id, "language": language,
                                "files": [{"path": path, "content": template % n}]}))
            output, result = collect_run(ws, run_id, give_up_after=120)
            elapsed = (time.time() - started) * 1000
            if result.get("type") != "exit" or result.get("status") != "ok" or output != "%d\n" % (n * (n - 1) // 2):
                if result.get("code") == "busy":
                    bump("busy")
                fail("client %d program %d (%s): %r output %r" % (index, program, language, result, output[:200]))
                continue
            kind = "first" if not used else ("warm" if language in used else "new-language")
            used.add(language)
            with lock:
                by_kind[kind].append(elapsed)
                latencies.append(elapsed)
            bump("runs")
        ws.close()

    threads = [threading.Thread(target=lambda i=i: guarded(student, i)) for i in range(args.clients)]
    started = time.time()
    for thread in threads:
        thread.start()
    connected.wait()
    counts["seconds_to_connect_all"] = round(time.time() - started, 1)
    for thread in threads:
        thread.join()

    def pct(values, p):
        values = sorted(values)
        return round(values[min(len(values) - 1, int(len(values) * p))], 1) if values else None

    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as reply:
        metrics = {}
        for line in reply.read().decode().splitlines():
            if line.startswith("coderunner_ready_sessions_") and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                metrics[key] = value
    with lock:
        for kind, values in by_kind.items():
            counts["%s_runs" % kind] = len(values)
            counts["%s_p50_ms" % kind] = pct(values, 0.5)
            counts["%s_p95_ms" % kind] = pct(values, 0.95)
        counts["expected_runs"] = args.clients * args.programs
        counts["server"] = metrics


def guarded(handle, index):
    try:
        handle(index)
    except Exception as error:  # noqa: BLE001 - every failure is reported
        fail("client %d: %r" % (index, error))


started = time.time()
{"classroom": classroom, "storm": storm, "slow-readers": slow_readers, "churn": churn, "soak": soak, "hold": hold}[args.mode]()
latencies.sort()


def percentile(p):
    return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))], 1) if latencies else None


summary = dict(counts, mode=args.mode, seconds=round(time.time() - started, 1), failures=failures,
               p50_ms=percentile(0.5), p95_ms=percentile(0.95), p99_ms=percentile(0.99))
print(json.dumps(summary), flush=True)
sys.exit(1 if failures else 0)
