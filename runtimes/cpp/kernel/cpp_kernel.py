#!/usr/bin/env python3
"""coderunner's C++ kernel driver (the protocol of the agent's KernelCommand.swift: EXEC on fd 0, output on fd 1/2, READY/DONE on fd 3).

C++ has no interpreter, so every cell is compiled and run as a fresh program. What persists between cells is
source, not memory: a growing "declarations prefix".

How a cell is split (a heuristic on the cell's top-level items, outside any braces):
- Persisted (hoisted into the prefix): preprocessor lines, using/typedef, struct/class/union/enum and template
  definitions, namespaces, function definitions and prototypes, and variable declarations that come BEFORE the
  cell's first statement (e.g. a cell `int x = 5;` or `int memo[100]; int fib(int n) {...}`).
- Local to this cell's `int main()`: statements, and variable declarations after the first statement
  (so `int n = read(); vector<int> a(n);` keeps its order).
- A last line without ';' that is an expression is shown REPL-style (`x * 2` prints its value; see show.h).
- A cell that defines `main` itself is compiled as a whole program (its other declarations persist).
- Re-running a cell replaces earlier declarations of the same function signature / type / variable name in
  place, so fixing and re-running a cell does not cause redefinition errors.
- The prefix only grows when the cell compiled. Each run re-executes the prefix's global initializers, so
  variables keep their declared value, not values assigned by later cells (each cell is a new process).
Every program starts with `#include <bits/stdc++.h>` (precompiled at image build time: without the PCH, cc1plus
needs more than 128 MB for it) and `using namespace std;`. Compiler errors point at `cell[N]:line`.
"""
import os
import re
import signal
import subprocess
import sys
import time

KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))
PCH_DIR = os.path.join(KERNEL_DIR, 'pch')
WORK = os.environ.get('CODERUNNER_KERNEL_WORK', '/tmp/coderunner-kernel')
# Must match the flags the PCH was built with (see the Dockerfile), or g++ silently ignores it.
CXX = ['g++', '-std=c++17', '-O2', '-fdiagnostics-color=never']
KILL_AFTER_INTERRUPT = 1.0  # seconds a program may ignore SIGINT before it is killed

CONTROL = {'if', 'for', 'while', 'switch', 'try', 'catch', 'else', 'do'}
NOT_DECL = CONTROL | {'return', 'delete', 'throw', 'goto', 'break', 'continue', 'case', 'default', 'new',
                      'co_return', 'co_yield', 'co_await', 'sizeof', 'typeid', 'alignof', 'this', 'true',
                      'false', 'nullptr', 'operator'}
TYPE_WORDS = {'auto', 'void', 'bool', 'char', 'wchar_t', 'char8_t', 'char16_t', 'char32_t', 'short', 'int', 'long',
              'signed', 'unsigned', 'float', 'double', 'size_t', '__int128', 'const', 'constexpr', 'constinit',
              'consteval', 'static', 'inline', 'extern', 'volatile', 'thread_local', 'register', 'mutable',
              'typename', 'struct', 'class', 'union', 'enum'}
ALWAYS_HOISTED = {'using', 'typedef', 'template', 'namespace', 'static_assert', 'struct', 'class', 'union', 'enum'}


def mask(code):
    """The cell with comments blanked and string/char literal contents blanked (same length, newlines kept),
    so the structure scan never trips over braces or ';' inside them."""
    out = list(code)
    n = len(code)

    def blank(a, b):
        for k in range(a, min(b, n)):
            if out[k] != '\n':
                out[k] = ' '

    i = 0
    while i < n:
        c = code[i]
        if code.startswith('//', i):
            j = code.find('\n', i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif code.startswith('/*', i):
            j = code.find('*/', i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c == 'R' and code.startswith('"', i + 1):
            m = re.match(r'R"([^()\\\s]{0,16})\(', code[i:])
            if not m:
                i += 1
                continue
            end = code.find(')' + m.group(1) + '"', i + m.end())
            end = n if end < 0 else end
            blank(i + 2, end + len(m.group(1)) + 1)
            i = end + len(m.group(1)) + 2
        elif c in '"\'':
            if c == "'" and i > 0 and code[i - 1].isalnum() and i + 1 < n and code[i + 1].isalnum() \
                    and code[i - 1].isdigit():
                i += 1  # digit separator: 1'000'000
                continue
            j = i + 1
            while j < n and code[j] != c and code[j] != '\n':
                j += 2 if code[j] == '\\' else 1
            blank(i + 1, j)
            i = j + 1
        else:
            i += 1
    return ''.join(out)


def balanced_end(s, i, open_ch='(', close_ch=')'):
    """Index of the bracket closing the one at s[i], or -1."""
    depth = 0
    for j in range(i, len(s)):
        if s[j] == open_ch:
            depth += 1
        elif s[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j
    return -1


def strip_template(h):
    h = h.strip()
    if h.startswith('template'):
        k = h.find('<')
        if k >= 0:
            depth = 0
            for j in range(k, len(h)):
                depth += {'<': 1, '>': -1}.get(h[j], 0)
                if depth == 0:
                    return h[j + 1:].strip()
    return h


def function_head(h):
    """(name, key) when h looks like a function head `type name(params) quals`, else None."""
    h = re.sub(r'\s+', ' ', strip_template(h)).strip()
    if not h or h.split(' ')[0] in ('struct', 'class', 'union', 'enum', 'namespace', 'typedef', 'using'):
        return None
    p = h.find('(')
    if p < 0:
        return None
    before = h[:p].rstrip()
    if before.endswith('operator') and h.startswith('()', p):
        before += '()'
        p = h.find('(', p + 2)
        if p < 0:
            return None
    m = re.search(r'((?:[A-Za-z_]\w*\s*(?:<[^()]*>)?\s*::\s*)*~?\s*(?:operator\s*\S+|[A-Za-z_]\w*))$', before)
    if not m:
        return None
    name = re.sub(r'\s+', '', m.group(1))
    pre = before[:m.start()].strip()
    last = name.split('::')[-1]
    if last in NOT_DECL or last in TYPE_WORDS:
        return None
    if not pre and '::' not in name:
        return None  # a call or a macro like FOR(i, n) { ... }
    if re.search(r'[=(){}\[\];]', pre) or (pre.split(' ')[0] in NOT_DECL) or '<<' in pre:
        return None
    q = balanced_end(h, p)
    if q < 0:
        return None
    post = h[q + 1:]
    if post.lstrip().startswith('(') or re.search(r'(?<![=!<>])=(?!=)', re.sub(r'\(.*?\)', '', post)):
        return None
    return name, name + '(' + ','.join(param_types(h[p + 1:q])) + ')'


def split_top(s, sep=','):
    parts, depth, cur = [], 0, ''
    for ch in s:
        if ch in '(<[{':
            depth += 1
        elif ch in ')>]}':
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    parts.append(cur)
    return parts


def param_types(params):
    out = []
    for p in split_top(params):
        p = split_top(p, '=')[0].strip()
        p = re.sub(r'\[[^\]]*\]$', '[]', p)
        m = re.match(r'^(.*[\s*&>])([A-Za-z_]\w*)(\[\])?$', p)
        if m and m.group(1).strip() and m.group(2) not in TYPE_WORDS:
            p = m.group(1) + (m.group(3) or '')
        out.append(re.sub(r'\s+', '', p))
    return [] if out == [''] or out == ['void'] else out


def declarator_names(m):
    """Variable names declared by a ';'-terminated declaration (masked text without the ';')."""
    names, i, n = [], 0, len(m)
    angle = 0
    want = True
    while i < n:
        ch = m[i]
        if want and ch == '<':
            angle += 1
        elif want and ch == '>':
            angle = max(0, angle - 1)
        elif ch in '([{':
            e = balanced_end(m, i, ch, {'(': ')', '[': ']', '{': '}'}[ch])
            i = n if e < 0 else e + 1
            continue
        elif ch == ',' and angle == 0:
            want = True
        elif want and angle == 0 and (ch.isalpha() or ch == '_'):
            mm = re.match(r'[A-Za-z_]\w*', m[i:])
            word = mm.group(0)
            rest = m[i + len(word):].lstrip()
            if word not in TYPE_WORDS and (not rest or rest[0] in '=,[{(;:'):
                names.append(word)
                want = False
            i += len(word)
            continue
        i += 1
    return names


LOOKS_LIKE_VAR = re.compile(
    r'^(?:::)?[A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)*\s*(?:<(?!<)[^;]*?>)?(?:\s*::\s*[A-Za-z_]\w*)*'
    r'[\s*&]+(?:const\s+)?[A-Za-z_]\w*\s*(?:[=;,\[{(]|$)', re.S)


class Item:
    def __init__(self, kind, text, cell, line, keys=()):
        self.kind, self.text, self.cell, self.line, self.keys = kind, text, cell, line, set(keys)

    def source(self):
        return '#line %d "cell[%d]"\n%s\n' % (self.line, self.cell, self.text)


def classify(code, cell):
    """Splits a cell into (declarations to persist, statements for main, main_item, display_expr)."""
    m = mask(code)
    raw = []  # (start, end)
    i, n, depth, start, head_end = 0, len(m), 0, None, None
    while i < n:
        c = m[i]
        if start is None:
            if c.isspace() or c == ';':
                i += 1
                continue
            start, head_end = i, None
            if c == '#':
                j = i
                while True:
                    k = m.find('\n', j)
                    if k < 0:
                        k = n
                        break
                    if code[k - 1] == '\\':
                        j = k + 1
                        continue
                    break
                raw.append(('pp', start, k))
                start = None
                i = k
                continue
        if c in '([{':
            if c == '{' and depth == 0 and head_end is None:
                head_end = i
            depth += 1
        elif c in ')]}':
            depth = max(0, depth - 1)
            if c == '}' and depth == 0 and head_end is not None:
                head = m[start:head_end]
                nxt = re.match(r'\s*([A-Za-z_]\w*|\S)?', m[i + 1:]).group(1) or ''
                word = (re.match(r'\s*([A-Za-z_]\w*)', head) or [None, ''])[1]
                ends = False
                if nxt in ('else', 'catch'):
                    ends = False
                elif not head.strip() or word in CONTROL - {'do'}:
                    ends = True
                elif word == 'namespace' or re.match(r'\s*extern\s*"', head):
                    ends = True
                elif function_head(head):
                    ends = True
                if ends:
                    raw.append(('block', start, i + 1))
                    start = None
        elif c == ';' and depth == 0:
            raw.append(('semi', start, i + 1))
            start = None
        i += 1
    if start is not None and m[start:].strip():
        raw.append(('tail', start, n))

    decls, stmts, main_item, display = [], [], None, None
    seen_statement = False
    for kind, a, b in raw:
        text, mt = code[a:b], m[a:b]
        line = code.count('\n', 0, a) + 1
        first = (re.match(r'\s*([A-Za-z_]\w*)', mt) or [None, ''])[1]
        if kind == 'pp':
            d = re.match(r'\s*#\s*define\s+([A-Za-z_]\w*)', mt)
            keys = ['macro:' + d.group(1)] if d else ['text:' + re.sub(r'\s+', ' ', text.strip())]
            decls.append(Item('pp', text, cell, line, keys))
            continue
        if kind == 'block':
            head = mt[:mt.find('{')]
            fh = function_head(head) if first not in CONTROL else None
            if fh and fh[0] == 'main':
                main_item = Item('main', text, cell, line)
            elif fh:
                decls.append(Item('func', text, cell, line, ['func:' + fh[1]]))
            elif first == 'namespace' or re.match(r'\s*extern\s*"', mt):
                decls.append(Item('ns', text, cell, line, ['text:' + re.sub(r'\s+', ' ', text.strip())]))
            else:
                stmts.append(Item('stmt', text, cell, line))
                seen_statement = True
            continue
        if kind == 'tail':
            body = mt.strip()
            looks_decl = first in TYPE_WORDS or first in ALWAYS_HOISTED or LOOKS_LIKE_VAR.match(body)
            if first in NOT_DECL or looks_decl:
                text, mt = text + ';', mt + ';'  # forgiving: a last statement without ';'
            else:
                display = Item('show', text, cell, line)
                continue
        # a ';'-terminated item
        body = mt.strip()[:-1]
        fh = function_head(body) if '(' in body else None
        if first in ALWAYS_HOISTED:
            w = strip_template(body).split()
            if w and w[0] in ('struct', 'class', 'union', 'enum') and '{' in body:
                nm = re.match(r'\s*(?:struct|class|union|enum(?:\s+(?:class|struct))?)\s+([A-Za-z_]\w*)', strip_template(body))
                keys = ['type:' + nm.group(1)] if nm else ['text:' + re.sub(r'\s+', ' ', text.strip())]
            elif first == 'typedef':
                nm = re.search(r'([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*\)?\s*(?:\([^()]*\))?\s*$', body)
                keys = ['type:' + nm.group(1)] if nm else ['text:' + body]
            elif first == 'using' and '=' in body:
                keys = ['type:' + body.split('=')[0].split()[-1]]
            elif fh:
                keys = ['proto:' + fh[1]]
            else:
                keys = ['text:' + re.sub(r'\s+', ' ', text.strip())]
            decls.append(Item('decl', text, cell, line, keys))
        elif fh and (first in TYPE_WORDS or LOOKS_LIKE_VAR.match(body + ';')) and not seen_statement:
            decls.append(Item('decl', text, cell, line, ['proto:' + fh[1]]))
        elif (first in TYPE_WORDS or (first not in NOT_DECL and LOOKS_LIKE_VAR.match(body + ';'))) and not seen_statement:
            names = declarator_names(body)
            keys = ['var:' + x for x in names] or ['text:' + re.sub(r'\s+', ' ', text.strip())]
            decls.append(Item('var', text, cell, line, keys))
        else:
            stmts.append(Item('stmt', text, cell, line))
            seen_statement = True
    return decls, stmts, main_item, display


def merged(prefix, new):
    """The prefix with `new` declarations added; one that redeclares an earlier key replaces it in place."""
    out = list(prefix)
    for item in new:
        hits = [k for k, old in enumerate(out) if old.keys & item.keys]
        if hits:
            out[hits[0]] = item
            for k in reversed(hits[1:]):
                del out[k]
        else:
            out.append(item)
    return out


def program(prefix, stmts, main_item, display):
    parts = ['#include <bits/stdc++.h>\n#include "show.h"\nusing namespace std;\n']
    parts += [it.source() for it in prefix]
    if main_item is not None:
        parts += [it.source() for it in stmts]  # top-level statements next to a main: let the compiler say why
        parts.append(main_item.source())
    else:
        parts.append('#line 1 "<kernel>"\nint main() {\n')
        parts += [it.source() for it in stmts]
        if display is not None:
            parts.append('#line %d "cell[%d]"\n__cr::show(((%s\n), __cr::Void{}));\n' % (display.line, display.cell, display.text))
        parts.append('#line 1 "<kernel>"\n}\n')
    return ''.join(parts)


class Kernel:
    def __init__(self, events_fd):
        self.events_fd = events_fd
        self.prefix = []
        self.child = None
        self.interrupted_at = None
        os.makedirs(WORK, exist_ok=True)
        signal.signal(signal.SIGINT, self.on_sigint)

    def on_sigint(self, signum, frame):
        # The agent signals the whole process group: the compiler or the cell's program got SIGINT too.
        if self.child is not None and self.interrupted_at is None:
            self.interrupted_at = time.monotonic()

    def event(self, line):
        os.write(self.events_fd, line.encode('ascii'))

    def err(self, text):
        data = text.encode()
        while data:
            data = data[os.write(2, data):]

    def wait(self, argv, **kw):
        """Runs argv with an empty stdin and the kernel's stdout/stderr; kills it if it outlives an interrupt."""
        self.child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, **kw)
        try:
            while True:
                try:
                    return self.child.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    if self.interrupted_at is not None and time.monotonic() - self.interrupted_at > KILL_AFTER_INTERRUPT:
                        self.child.kill()
        finally:
            self.child = None

    def run_cell(self, cell, code):
        decls, stmts, main_item, display = classify(code, cell)
        prefix = merged(self.prefix, decls)
        src = os.path.join(WORK, 'cell.cpp')
        exe = os.path.join(WORK, 'cell')
        with open(src, 'w', encoding='utf-8') as f:
            f.write(program(prefix, stmts, main_item, display))
        try:
            os.unlink(exe)
        except FileNotFoundError:
            pass
        self.interrupted_at = None
        rc = self.wait(CXX + ['-I', PCH_DIR, '-I', KERNEL_DIR, '-o', exe, src])
        if self.interrupted_at is not None:
            self.err('Interrupted (while compiling)\n')
            return False
        if rc != 0:
            return False
        self.prefix = prefix  # it compiled: these declarations are now part of the session
        rc = self.wait([exe])
        if self.interrupted_at is not None:
            self.err('Interrupted\n')
            return False
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = 'signal %d' % -rc
            self.err('coderunner: the cell\'s program was killed by %s%s\n' % (
                name, ' (out of memory?)' if -rc == signal.SIGKILL else ''))
            return False
        if rc != 0:
            self.err('coderunner: the cell\'s program exited with code %d\n' % rc)
            return False
        return True

    def serve(self, commands):
        self.event('READY\n')
        buf = b''
        while True:
            while b'\n' not in buf:
                chunk = read_some(commands)
                if not chunk:
                    return
                buf += chunk
            header, buf = buf.split(b'\n', 1)
            parts = header.decode('ascii', 'replace').split()
            if len(parts) != 3 or parts[0] != 'EXEC':
                self.err('coderunner cpp kernel: unknown command: %r\n' % header)
                continue
            cell, size = int(parts[1]), int(parts[2])
            while len(buf) < size:
                chunk = read_some(commands)
                if not chunk:
                    return
                buf += chunk
            code, buf = buf[:size].decode('utf-8', 'replace'), buf[size:]
            try:
                ok = self.run_cell(cell, code)
            except Exception as e:  # a driver bug must not kill the session
                self.err('coderunner cpp kernel: internal error: %r\n' % e)
                ok = False
            self.event('DONE %d %s\n' % (cell, 'ok' if ok else 'error'))


def read_some(fd):
    while True:
        try:
            return os.read(fd, 65536)
        except InterruptedError:
            continue


def main():
    # Commands stay readable for us on a private fd; programs get /dev/null as stdin.
    commands = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    Kernel(3).serve(commands)


if __name__ == '__main__':
    main()
