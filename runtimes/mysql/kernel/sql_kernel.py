#!/usr/bin/env python3
"""coderunner's SQL kernel driver (the protocol of the agent's KernelCommand.swift: EXEC on fd 0, output on fd 1/2, READY/DONE on fd 3).

One `mariadb --table --unbuffered --force` client process is kept for the whole session, so tables, user
variables (@x), temporary tables and session settings survive between cells. A cell is written to the client
followed by a statement terminator and a client-side marker command (`\\! echo MARKER && echo MARKER >&2`): it is
not a query, so it never changes FOUND_ROWS()/ROW_COUNT(), and it arrives on both pipes after everything the
cell printed. Marker lines are not shown. Any `ERROR` line on the client's stderr makes the cell `error`
(with --force the client goes on with the cell's next statements, like `mariadb --force < file`); error line
numbers are made relative to the cell.

Interrupt (SIGINT to the process group): the client ignores it (--sigint-ignore); the driver sends
`KILL QUERY <id>` through a second connection, and repeats it every 100 ms until the cell ends, so the cell's
remaining long statements are cut short too (short ones between two KILLs may still run).

A cell that ends inside a string, quoted name or comment is refused (it would swallow the marker).
"""
import os
import re
import selectors
import signal
import subprocess
import sys
import time

SOCKET = os.environ.get('CODERUNNER_MYSQL_SOCKET', '/tmp/mysql.sock')
CLIENT = ['mariadb', '--no-defaults', '--socket=' + SOCKET, '--default-character-set=utf8mb4', '--sigint-ignore']
SERVER_WAIT = 30.0
KILL_REPEAT = 0.1


def wait_for_server():
    deadline = time.monotonic() + SERVER_WAIT
    while time.monotonic() < deadline:
        if os.path.exists('/tmp/mysql.failed'):
            break
        if os.path.exists(SOCKET) and subprocess.run(
                ['mariadb-admin', '--no-defaults', '--socket=' + SOCKET, '--connect-timeout=2', 'ping'],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return True
        time.sleep(0.05)
    return False


def scan(code, delimiter):
    """(problem, delimiter after the cell): problem names an unterminated string/comment, else None.
    Follows the client's lexing closely enough: quotes with backslash escapes, --/#/C comments, DELIMITER lines."""
    i, n = 0, len(code)
    at_line_start = True
    while i < n:
        c = code[i]
        if at_line_start:
            m = re.match(r'[ \t]*delimiter[ \t]+(\S+)[^\n]*', code[i:], re.I)
            if m:
                delimiter = m.group(1)
                i += m.end()
                continue
        at_line_start = False
        if c == '\n':
            at_line_start = True
            i += 1
        elif c in '\'"`':
            j = i + 1
            while True:
                if j >= n:
                    return 'a %s-quoted %s is not closed' % (c, 'name' if c == '`' else 'string'), delimiter
                if code[j] == '\\' and c != '`':
                    j += 2
                    continue
                if code[j] == c:
                    if j + 1 < n and code[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif code.startswith('/*', i):
            j = code.find('*/', i + 2)
            if j < 0:
                return 'a /* comment is not closed', delimiter
            i = j + 2
        elif c == '#' or (code.startswith('--', i) and (i + 2 >= n or code[i + 2] in ' \t\r\n')):
            j = code.find('\n', i)
            i = n if j < 0 else j
        else:
            i += 1
    return None, delimiter


class Kernel:
    def __init__(self, commands_fd, events_fd):
        self.commands = commands_fd
        self.events = events_fd
        self.delimiter = ';'
        self.lines_sent = 0
        self.nonce = os.urandom(6).hex()
        self.client = None
        self.killer = None
        self.conn_id = None
        self.running = False
        self.interrupted_at = None
        signal.signal(signal.SIGINT, self.on_sigint)

    # ---- the session's client -------------------------------------------------------------------
    def start_client(self):
        self.client = subprocess.Popen(
            CLIENT + ['--table', '--unbuffered', '--force', 'coderunner'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self.delimiter = ';'
        self.lines_sent = 0
        out, err, _ = self.exchange('SELECT CONNECTION_ID() AS coderunner_connection_id;', 0, forward=False)
        m = re.search(rb'\|\s*(\d+)\s*\|', out)
        self.conn_id = int(m.group(1)) if m else None
        if self.conn_id is None:
            sys.stderr.write('coderunner sql kernel: could not read the connection id: %r %r\n' % (out, err))

    def kill_query(self):
        if self.conn_id is None:
            return
        try:
            if self.killer is None or self.killer.poll() is not None:
                self.killer = subprocess.Popen(CLIENT + ['--batch', '--force'], stdin=subprocess.PIPE,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, bufsize=0)
            self.killer.stdin.write(b'KILL QUERY %d;\n' % self.conn_id)
        except OSError:
            self.killer = None

    def on_sigint(self, signum, frame):
        if self.running and self.interrupted_at is None:
            self.interrupted_at = time.monotonic()
            self.kill_query()

    # ---- one cell -------------------------------------------------------------------------------------
    def exchange(self, code, cell, forward=True):
        """Sends code + terminator + marker; relays output until both markers came back.
        Returns (stdout bytes, stderr bytes, client_alive)."""
        marker = ('__coderunner_%s_%d__' % (self.nonce, cell)).encode()
        text = code.encode('utf-8')
        if not text.endswith(b'\n'):
            text += b'\n'
        payload = text + self.delimiter.encode() + b'\n\\! echo ' + marker + b' && echo ' + marker + b' >&2\n'
        base_line = self.lines_sent
        self.lines_sent += payload.count(b'\n')
        sel = selectors.DefaultSelector()
        sel.register(self.client.stdout, selectors.EVENT_READ, 1)
        sel.register(self.client.stderr, selectors.EVENT_READ, 2)
        pending = {1: b'', 2: b''}
        seen = {1: b'', 2: b''}
        done = set()
        try:
            self.client.stdin.write(payload)
        except OSError:
            return b'', b'', False
        last_kill = time.monotonic()
        while len(done) < 2:
            timeout = None
            if self.interrupted_at is not None:
                timeout = KILL_REPEAT
                if time.monotonic() - last_kill >= KILL_REPEAT:
                    self.kill_query()
                    last_kill = time.monotonic()
            ready = sel.select(timeout)
            for key, _ in ready:
                fd = key.data
                chunk = os.read(key.fileobj.fileno(), 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    done.add(fd)
                    if pending[fd]:
                        self.relay(fd, pending[fd], base_line, forward, seen)
                        pending[fd] = b''
                    continue
                pending[fd] += chunk
                lines = pending[fd].split(b'\n')
                pending[fd] = lines.pop()
                out = []
                for line in lines:
                    if line == marker:
                        done.add(fd)
                        sel.unregister(key.fileobj)
                        break
                    out.append(line + b'\n')
                self.relay(fd, b''.join(out), base_line, forward, seen)
        sel.close()
        return seen[1], seen[2], self.client.poll() is None

    def relay(self, fd, data, base_line, forward, seen):
        if not data:
            return
        if fd == 2:
            # The client counts lines over the whole session's input; users think in cell lines.
            data = re.sub(rb'^(ERROR [^\n]*? at line )(\d+)',
                          lambda m: m.group(1) + str(max(1, int(m.group(2)) - base_line)).encode(), data, flags=re.M)
        seen[fd] += data
        if forward:
            while data:
                data = data[os.write(fd, data):]

    def run_cell(self, cell, code):
        problem, delimiter = scan(code, self.delimiter)
        if problem:
            os.write(2, ('coderunner: the cell was not run: %s (the SQL client would wait for the rest of it).\n'
                         % problem).encode())
            return False
        if self.client is None or self.client.poll() is not None:
            os.write(2, b'coderunner: the SQL connection was closed; opening a new one '
                        b'(user variables and temporary tables are gone).\n')
            self.start_client()
        self.interrupted_at = None
        self.running = True
        self.delimiter = delimiter  # the terminator sent after the cell must be the one in force at its end
        try:
            _, err, alive = self.exchange(code, cell)
        finally:
            self.running = False
        ok = not re.search(rb'^ERROR', err, re.M)
        if self.interrupted_at is not None:
            os.write(2, b'Interrupted\n')
            ok = False
        if not alive:
            self.client.wait()
            os.write(2, b'coderunner: the SQL client exited (quit?); the next cell opens a new connection.\n')
            self.client = None
        return ok

    def serve(self):
        if not wait_for_server():
            sys.stderr.write('coderunner: the SQL server is not running (it failed or did not start within %d s).\n'
                             % SERVER_WAIT)
            try:
                with open('/tmp/mysql.err', 'rb') as f:
                    sys.stderr.write(f.read()[-2000:].decode('utf-8', 'replace'))
            except OSError:
                pass
            sys.exit(1)
        self.start_client()
        os.write(self.events, b'READY\n')
        buf = b''
        while True:
            while b'\n' not in buf:
                chunk = read_some(self.commands)
                if not chunk:
                    return
                buf += chunk
            header, buf = buf.split(b'\n', 1)
            parts = header.decode('ascii', 'replace').split()
            if len(parts) != 3 or parts[0] != 'EXEC':
                os.write(2, b'coderunner sql kernel: unknown command: %r\n' % header)
                continue
            cell, size = int(parts[1]), int(parts[2])
            while len(buf) < size:
                chunk = read_some(self.commands)
                if not chunk:
                    return
                buf += chunk
            code, buf = buf[:size].decode('utf-8', 'replace'), buf[size:]
            try:
                ok = self.run_cell(cell, code)
            except Exception as e:  # a driver bug must not end the session
                os.write(2, ('coderunner sql kernel: internal error: %r\n' % e).encode())
                ok = False
            os.write(self.events, b'DONE %d %s\n' % (cell, b'ok' if ok else b'error'))


def read_some(fd):
    while True:
        try:
            return os.read(fd, 65536)
        except InterruptedError:
            continue


def main():
    # Commands stay readable for us on a private fd; the clients get their own pipes, user code no stdin.
    commands = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    Kernel(commands, 3).serve()


if __name__ == '__main__':
    main()
