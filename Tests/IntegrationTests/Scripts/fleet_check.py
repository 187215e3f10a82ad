#!/usr/bin/env python3
"""A fleet of `coderunner serve` nodes behind HAProxy (deploy/haproxy.cfg), driven through the balancer only.
FleetTests.swift starts the nodes and HAProxy and runs this; it checks what is left on the engine afterwards.

  1. N clients connect through the balancer (native protocol; `hello.instance` names the node), ramped over a few
     seconds, and stay connected. Each runs hello world twice (a first run, then a warm one): every run must succeed,
     and each node must hold its even share of the clients within 20%.
  2. Drain (--drain NODE): half of that node's clients start a 3 s program, then it gets SIGTERM while the clients of
     the other nodes keep running hello world (--think seconds apart) and new clients connect. No connection started
     after the SIGTERM may land on it; its 3 s programs must end `ok`; its sessions must be closed with 1012; its
     clients reconnect through the balancer (to another node) and run again; the node must exit by itself.
  3. Kill (--kill NODE): half of its clients start a 3 s program, then it gets SIGKILL. Every one of its clients must
     see its socket close, reconnect through the balancer, land on the survivor and run successfully.

Prints a markdown table of latencies (connect: to `hello`; runs: `run` sent to `exit` received) by phase, the share
per node and what the balancer saw. Exits 1 when anything above failed. Lines starting with `@` are for FleetTests.

Needs: websocket-client (`./setup.sh test` installs it in /var/lib/coderunner/test-venv)
Usage: fleet_check.py --url ws://127.0.0.1:PORT --stats http://127.0.0.1:PORT --clients N
         --node fleet-1,PID,node1 --node fleet-2,PID,node2 --node fleet-3,PID,node3 --drain fleet-1 --kill fleet-3
"""
import argparse
import concurrent.futures
import json
import os
import queue
import random
import signal
import struct
import threading
import time
import urllib.request

import websocket
from websocket import ABNF

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True, help="the balancer, ws://HOST:PORT")
parser.add_argument("--stats", default="", help="HAProxy's stats page, http://HOST:PORT")
parser.add_argument("--clients", type=int, default=30)
parser.add_argument("--node", action="append", required=True, help="INSTANCE,PID,HAPROXY-SERVER")
parser.add_argument("--drain", required=True)
parser.add_argument("--kill", required=True)
parser.add_argument("--grace", type=float, default=20, help="the nodes' server.drainGrace, seconds")
parser.add_argument("--think", type=float, default=3, help="mean pause between a loaded client's runs, seconds")
args = parser.parse_args()

nodes = {name: (int(pid), server) for name, pid, server in (spec.split(",") for spec in args.node)}
HELLO = [{"path": "hello.py", "content": "print('Hello, world!')\n"}]
LONG = [{"path": "long.py", "content": "import time\nprint('start', flush=True)\ntime.sleep(3)\nprint('done')\n"}]
lock = threading.Lock()
failures = []
latencies = {}  # bucket -> [ms]
facts = {}
began = time.monotonic()


def log(text):
    print("[%6.1fs] %s" % (time.monotonic() - began, text), flush=True)


def fail(text):
    with lock:
        failures.append(text)
    log("FAIL " + text)


def record(bucket, seconds):
    with lock:
        latencies.setdefault(bucket, []).append(seconds * 1000)


class Closed(Exception):
    """The socket closed: `code` is the close frame's code, None when the connection just dropped."""

    def __init__(self, code):
        super().__init__("closed (%s)" % code)
        self.code = code


class Client:
    """One connection through the balancer. A thread per connection reads every frame as it comes, as a browser does
    (so the server's pings are answered while the client waits), into `inbox`."""

    def __init__(self, name):
        self.name = name
        self.ws = None
        self.inbox = None
        self.instance = None
        self.runs = 0

    def connect(self, bucket, attempts=1):
        """Connects through the balancer (retrying refused or failed attempts); returns the node's instance."""
        for attempt in range(attempts):
            started = time.monotonic()
            try:
                self.ws = websocket.create_connection(args.url + "/ws", timeout=120, enable_multithread=True)
                self.ws.settimeout(None)
                self.inbox = queue.Queue()
                threading.Thread(target=self.read, args=(self.ws, self.inbox), daemon=True).start()
                hello = self.receive(120)
                if hello.get("type") != "hello":
                    raise RuntimeError("first message %r" % hello)
                self.instance = hello.get("instance")
                record(bucket, time.monotonic() - started)
                return self.instance
            except Exception as error:
                self.close()
                if attempt == attempts - 1:
                    raise
                with lock:
                    key = "connections retried (%s)" % bucket
                    facts[key] = facts.get(key, 0) + 1
                log("%s: connect attempt %d failed (%s), again" % (self.name, attempt + 1, error))
                time.sleep(0.25)

    @staticmethod
    def read(ws, inbox):
        try:
            while True:
                opcode, frame = ws.recv_data_frame(True)  # answers pings
                if opcode == ABNF.OPCODE_CLOSE:
                    inbox.put(Closed(struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None))
                    return
                if opcode == ABNF.OPCODE_TEXT:
                    inbox.put(json.loads(frame.data.decode()))
        except Exception:  # the connection dropped (or we closed it)
            inbox.put(Closed(None))

    def receive(self, timeout):
        """The next message; raises Closed when the socket closed, queue.Empty after `timeout` seconds of silence."""
        item = self.inbox.get(timeout=timeout)
        if isinstance(item, Closed):
            self.inbox.put(item)  # closed for good
            raise item
        return item

    def start(self, files, until_output=None):
        """Sends a run; with `until_output`, waits for output with it (the program is running). Returns its id, the time
        it was sent and the stdout seen so far."""
        self.runs += 1
        run_id = "%s-%d" % (self.name, self.runs)
        started = time.monotonic()
        self.ws.send(json.dumps({"type": "run", "id": run_id, "language": "python", "files": files}))
        output = ""
        while until_output is not None and until_output not in output:
            message = self.next_of(run_id)
            if message.get("type") != "output":
                raise RuntimeError("expected output %r, got %r" % (until_output, message))
            output += message["data"] if message.get("stream") == "stdout" else ""
        return run_id, started, output

    def next_of(self, run_id):
        """The run's next `output`, `exit` or `error`."""
        while True:
            message = self.receive(900)  # a first run waits for its network and container: minutes under load
            if message.get("id") == run_id and message["type"] in ("output", "exit", "error"):
                return message

    def finish(self, run_id, started, bucket, expected, output=""):
        """Reads the run to its `exit`; records its latency; fails unless ok with `expected` as its whole stdout."""
        message = self.next_of(run_id)
        while message["type"] == "output":
            output += message["data"] if message.get("stream") == "stdout" else ""
            message = self.next_of(run_id)
        record(bucket, time.monotonic() - started)
        if message.get("status") != "ok" or output != expected:
            fail("%s on %s: %s got %r, stdout %r" % (self.name, self.instance, run_id, message, output[:200]))
            return False
        return True

    def hello(self, bucket):
        run_id, started, _ = self.start(HELLO)
        return self.finish(run_id, started, bucket, "Hello, world!\n")

    def close(self):
        """Sends a close frame, then ends the connection (which also ends the reader thread)."""
        try:
            if self.ws is not None:
                self.ws.send_close()
                self.ws.abort()
                self.ws.shutdown()
        except Exception:
            pass
        self.ws = None


def all_of(clients, work, label):
    """Runs `work(client)` for every client at once; an exception is that client's failure."""
    def guarded(client):
        try:
            work(client)
        except Exception as error:
            fail("%s (%s, on %s): %s: %s" % (label, client.name, client.instance, type(error).__name__, error))

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(clients))) as pool:
        list(pool.map(guarded, clients))


def loaded(clients, bucket, stop):
    """Threads that keep `clients` running hello world, `--think` seconds apart on average, until `stop` is set."""
    def loop(client):
        while not stop.wait(random.uniform(0.5, 1.5) * args.think):
            try:
                client.hello(bucket)
            except Exception as error:
                fail("load (%s on %s): %s: %s" % (client.name, client.instance, type(error).__name__, error))
                return

    threads = [threading.Thread(target=loop, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    return threads


def stop_load(stop, threads, watcher):
    stop.set()
    for thread in threads + [watcher]:
        thread.join(timeout=150)


def exited(pid):
    """Whether the process is gone (or a zombie its parent has not reaped yet)."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def balancer_status(server):
    """HAProxy's view of one server (status, weight), from the stats page's CSV."""
    if not args.stats:
        return None
    with urllib.request.urlopen(args.stats + "/;csv", timeout=5) as reply:
        lines = reply.read().decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "coderunner_nodes" and row.get("svname") == server:
            return row.get("status"), row.get("weight")
    return None


def watch_balancer(server, since, until_status, key):
    """Records how long after `since` HAProxy showed `server` in one of `until_status` (polled every 100 ms)."""
    def watch():
        deadline = since + 30
        while time.monotonic() < deadline:
            try:
                status = balancer_status(server)
            except Exception:
                status = None
            if status and status[0].split(" ")[0] in until_status:
                facts[key] = "%s (weight %s) after %.1f s" % (status[0], status[1], time.monotonic() - since)
                return
            time.sleep(0.1)
        facts[key] = "not seen within 30 s"

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def phase_start(clients):
    ramp = max(1.0, len(clients) / 50)
    log("phase 1: %d clients connect over %.0f s, run hello world twice" % (len(clients), ramp))

    def connect(client):
        time.sleep(ramp * int(client.name[1:]) / len(clients))
        client.connect("connect")

    all_of(clients, connect, "connect")
    for bucket in ("first run", "warm run, before"):
        if not failures:
            all_of(clients, lambda client: client.hello(bucket), bucket)
    share = {name: sum(1 for client in clients if client.instance == name) for name in nodes}
    facts["share"] = share
    even = len(clients) / len(nodes)
    log("clients per node: %s (even share %.1f)" % (share, even))
    for name, count in share.items():
        if abs(count - even) > 0.2 * even:
            fail("node %s holds %d clients, more than 20%% off the even share %.1f" % (name, count, even))


def phase_drain(clients, fresh):
    target = args.drain
    pid, server = nodes[target]
    mine = [client for client in clients if client.instance == target]
    others = [client for client in clients if client.instance != target]
    longs = mine[: max(1, len(mine) // 2)]
    log("phase 2: drain %s (pid %d) with %d clients, %d running a 3 s program" % (target, pid, len(mine), len(longs)))
    started = {}
    all_of(longs, lambda client: started.__setitem__(client.name, client.start(LONG, until_output="start")), "3 s start")
    stop = threading.Event()
    load = loaded(others, "warm run, during drain", stop)
    signalled = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    watcher = watch_balancer(server, signalled, ("DRAIN", "DOWN", "MAINT", "NOLB"), "balancer saw the drain")

    def newcomer(client):
        time.sleep(2.0 * int(client.name[1:]) / len(fresh))
        # Until the agent-check says `drain` (under a second), the node refuses upgrades with a bare 400, which HAProxy
        # cannot retry elsewhere: the client retries, as a browser client reconnecting would (docs/fleet.md).
        client.connect("connect, during drain", attempts=20)
        if client.instance == target:
            fail("%s connected after the SIGTERM and landed on the draining %s" % (client.name, target))
        client.hello("first run, during drain")

    def drained(client):
        if client.name in started:
            run_id, at, output = started[client.name]
            client.finish(run_id, at, "3 s run across the drain", "start\ndone\n", output=output)
        try:
            while True:  # the node tells every session it is shutting down, then closes it
                message = client.receive(args.grace + 300)  # closed once its containers and network are removed
                if message.get("type") != "error" or message.get("code") != "shutting-down":
                    fail("%s on draining %s: got %r instead of the close" % (client.name, target, message))
        except Closed as closed:
            record("close after SIGTERM", time.monotonic() - signalled)
            if closed.code != 1012:
                fail("%s on draining %s: closed with %s, not 1012" % (client.name, target, closed.code))
        client.close()
        client.connect("reconnect after drain", attempts=20)
        if client.instance == target:
            fail("%s reconnected to the draining %s" % (client.name, target))
        client.hello("first run, after drain")

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        arrivals = pool.submit(all_of, fresh, newcomer, "newcomer")
        all_of(mine, drained, "drained client")
        arrivals.result()
    deadline = time.monotonic() + args.grace + 60
    while not exited(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if exited(pid):
        facts["drain: SIGTERM to exit"] = "%.1f s" % (time.monotonic() - signalled)
    else:
        fail("%s (pid %d) did not exit within %.0f s of its SIGTERM" % (target, pid, args.grace + 60))
    stop_load(stop, load, watcher)
    landed = sum(1 for client in fresh if client.instance == target)
    log("drain done: %d newcomers, %d on %s; %s" % (len(fresh), landed, target, facts.get("drain: SIGTERM to exit")))


def phase_kill(clients):
    target = args.kill
    pid, server = nodes[target]
    survivors = [name for name in nodes if name not in (args.drain, target)]
    mine = [client for client in clients if client.instance == target]
    others = [client for client in clients if client.instance != target]
    longs = mine[: max(1, len(mine) // 2)]
    log("phase 3: kill -9 %s (pid %d) with %d clients, %d running a 3 s program" % (target, pid, len(mine), len(longs)))
    all_of(longs, lambda client: client.start(LONG, until_output="start"), "3 s start")
    stop = threading.Event()
    load = loaded(others, "warm run, during kill", stop)
    signalled = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    print("@killed %s %d" % (target, pid), flush=True)  # FleetTests looks at what the node left
    watcher = watch_balancer(server, signalled, ("DOWN",), "balancer saw the kill")
    back = []

    def reconnected():
        with lock:
            back.append(1)
            if len(back) == len(mine):  # FleetTests restarts the node now: no reconnect can land on it
                print("@reconnected", flush=True)

    def killed(client):
        try:
            while True:
                client.receive(30)  # the 3 s program's output, until the socket closes
        except Closed:
            record("close after SIGKILL", time.monotonic() - signalled)
        client.close()
        try:
            client.connect("reconnect after kill", attempts=40)
        finally:
            reconnected()
        if client.instance not in survivors:
            fail("%s reconnected to %s, not to the survivor %s" % (client.name, client.instance, survivors))
        client.hello("first run, after kill")

    if not mine:
        print("@reconnected", flush=True)
    all_of(mine, killed, "killed client")
    time.sleep(args.think)  # the load goes on a little once everyone is back
    stop_load(stop, load, watcher)
    log("kill done: %d clients reconnected to %s" % (len(mine), survivors))


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def report(clients, fresh):
    print()
    print("| phase | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for bucket, values in latencies.items():
        print("| %s | %d | %.0f | %.0f | %.0f |" % (bucket, len(values), percentile(values, 0.5), percentile(values, 0.95), max(values)))
    print()
    for key, value in facts.items():
        print("- %s: %s" % (key, value))
    print("- clients: %d, then %d newcomers during the drain; %d failures" % (len(clients), len(fresh), len(failures)), flush=True)


def main():
    clients = [Client("c%d" % index) for index in range(args.clients)]
    fresh = [Client("n%d" % index) for index in range(max(6, args.clients // 10))]
    try:
        phase_start(clients)
        if not failures:
            phase_drain(clients, fresh)
        if not failures:
            phase_kill(clients + fresh)
    except Exception as error:
        fail("%s: %s" % (type(error).__name__, error))
    finally:
        all_of([client for client in clients + fresh if client.ws is not None], Client.close, "close")
        report(clients, fresh)
    if failures:
        print("%d failures; the first ones:" % len(failures))
        for text in failures[:20]:
            print("  " + text)
        return 1
    print("fleet: all checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
