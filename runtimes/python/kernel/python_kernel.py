"""coderunner kernel driver for Python (hosted by `coderunner-agent kernel`).

Protocol (see the agent's KernelCommand.swift):
  fd 0  commands from the agent: b"EXEC <cell> <nbytes>\\n" + <nbytes> bytes of UTF-8 code; between cells also
        b"COMPLETE <request> <nbytes>\\n" + the line before the cursor, answered on fd 3 (READY says `complete`)
  fd 1  the cells' stdout, fd 2 their stderr
  fd 3  events to the agent: READY complete, DONE <cell> ok|error, COMPLETIONS <request> <nbytes> + names one per
        line, DISPLAY <cell> <mime> <nbytes> + bytes; a cell's traceback
        is a display of type text/vnd.coderunner.traceback, so clients can show it as an error rather than as stderr
  $CODERUNNER_CELL_STDIN  a FIFO the agent makes fresh for every cell: the cell's fd 0 (and sys.stdin) while it runs,
        fed with what the user types (or, piped, the lines after the cell); /dev/null between cells

Cells run like the interactive interpreter: one namespace (a fresh ``__main__`` module) shared by all cells, the value
of a final expression statement goes through ``sys.displayhook`` (repr, ``None`` not shown, ``_`` set), tracebacks
are printed without this driver's frames and the kernel stays alive. SIGINT (the agent's interrupt) raises
KeyboardInterrupt only while user code runs; between cells it is ignored, so a late interrupt cannot kill the driver.
Open matplotlib figures are sent as image/png after every cell and then closed (backend Agg, no windows).
"""

import ast
import builtins
import io
import linecache
import os
import signal
import sys
import traceback
import types
import warnings

DRIVER_FILE = os.path.abspath(__file__)

# Take the protocol fds away from fd 0 and fd 3 (os.dup makes them non-inheritable), so user code and the programs
# it starts see an empty stdin and cannot write into the event stream.
_commands = os.fdopen(os.dup(0), "rb")
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
_events_fd = os.dup(3)
os.close(3)
sys.stdin = open(0, "r", closefd=False)
_cell_stdin_path = os.environ.pop("CODERUNNER_CELL_STDIN", None)

os.environ.setdefault("MPLBACKEND", "Agg")
# plt.show() is a no-op with Agg: the figures are shown after the cell instead, so its warning is only noise.
warnings.filterwarnings("ignore", message=".*non-GUI backend.*")
warnings.filterwarnings("ignore", message=".*FigureCanvasAgg is non-interactive.*")

_executing = False


def _on_sigint(signum, frame):
    if _executing:
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)


def _event(data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(_events_fd, view)
        view = view[written:]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


def _without_driver_frames(te: traceback.TracebackException, seen: set) -> None:
    """Drops this driver's frames (the exec call, the SIGINT handler) from a traceback and its chained ones."""
    if id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list(
        [frame for frame in te.stack if os.path.abspath(frame.filename) != DRIVER_FILE])
    for chained in (te.__cause__, te.__context__):
        if chained is not None:
            _without_driver_frames(chained, seen)


def _send_traceback(cell: int, text: str) -> None:
    """The cell's error as a traceback display, after what the cell printed (flushed first, so it comes before)."""
    _flush()
    data = text.encode("utf-8", errors="replace")
    _event(f"DISPLAY {cell} text/vnd.coderunner.traceback {len(data)}\n".encode() + data)


def _print_exception(cell: int, exc: BaseException) -> None:
    """Reports a traceback like the REPL prints it, without this driver's frames."""
    try:
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
        _without_driver_frames(te, set())
        text = "".join(te.format())
    except Exception:
        text = f"{type(exc).__name__}: {exc}\n"
    _send_traceback(cell, text)


_main = types.ModuleType("__main__")
_main.__dict__["__builtins__"] = builtins
sys.modules["__main__"] = _main
_namespace = _main.__dict__
# Like `python3` in a terminal: the working directory is importable.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(DRIVER_FILE):
    sys.path[0] = ""

_loop = None


def _run_code(code, namespace):
    global _loop
    result = eval(code, namespace)
    if code.co_flags & 0x80 and result is not None:  # CO_COROUTINE: the cell used top-level await
        import asyncio

        if _loop is None:
            _loop = asyncio.new_event_loop()
            asyncio.set_event_loop(_loop)
        _loop.run_until_complete(result)


def _execute(cell: int, source: str) -> bool:
    """Runs one cell; returns False when it raised (the traceback is already printed)."""
    global _executing
    filename = f"<cell {cell}>"
    # Register the source so tracebacks show the offending lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    flags = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)
    try:
        tree = ast.parse(source, filename=filename, mode="exec")
        body, last = tree.body, None
        if body and isinstance(body[-1], ast.Expr):
            body, last = body[:-1], body[-1]
        codes = []
        if body:
            codes.append(compile(ast.Module(body=body, type_ignores=[]), filename, "exec", flags=flags))
        if last is not None:
            # "single" mode sends the value through sys.displayhook, exactly like the REPL.
            codes.append(compile(ast.Interactive(body=[last]), filename, "single", flags=flags))
    except (SyntaxError, ValueError, OverflowError) as exc:
        if isinstance(exc, SyntaxError):
            _send_traceback(cell, "".join(traceback.format_exception_only(type(exc), exc)))
        else:
            _print_exception(cell, exc)
        return False
    try:
        _executing = True
        for code in codes:
            _run_code(code, _namespace)
        _executing = False
    except SystemExit as exc:
        _executing = False
        # exit() in a cell does not end the session; a non-zero status is reported like an error.
        if exc.code in (None, 0):
            return True
        _send_traceback(cell, f"SystemExit: {exc.code}\n")
        return False
    except BaseException as exc:
        _executing = False
        _print_exception(cell, exc)
        return False
    return True


def _send_figures(cell: int) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    try:
        for number in pyplot.get_fignums():
            figure = pyplot.figure(number)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", bbox_inches="tight")
            data = buffer.getvalue()
            _event(f"DISPLAY {cell} image/png {len(data)}\n".encode() + data)
        pyplot.close("all")
    except Exception as exc:
        sys.stderr.write(f"coderunner: could not render the figure: {exc}\n")


def _set_stdin(fd: int) -> None:
    """Makes `fd` the cells' fd 0 (inherited by the programs they start) and gives sys.stdin a new reader on it, so
    nothing an earlier cell left in a buffer is read by a later one."""
    os.dup2(fd, 0)
    os.close(fd)
    sys.stdin = open(0, "r", closefd=False)


def _attach_cell_stdin() -> None:
    """The agent's FIFO for this cell as stdin: input() reads what the user types while the cell runs."""
    if not _cell_stdin_path:
        return
    try:
        # Non-blocking open: the agent may already have closed its end (input ended), and then this must not wait.
        fd = os.open(_cell_stdin_path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.set_blocking(fd, True)
    _set_stdin(fd)


def _detach_cell_stdin() -> None:
    _set_stdin(os.open(os.devnull, os.O_RDONLY))


def _read_command():
    """(kind, number, text) of the next EXEC (cell, source) or COMPLETE (request, line), or None when the agent
    closed the pipe."""
    while True:
        header = _commands.readline()
        if not header:
            return None
        parts = header.split()
        if len(parts) == 3 and parts[0] in (b"EXEC", b"COMPLETE"):
            number, size = int(parts[1]), int(parts[2])
            data = b""
            while len(data) < size:
                chunk = _commands.read(size - len(data))
                if not chunk:
                    return None
                data += chunk
            return parts[0].decode(), number, data.decode("utf-8", errors="replace")


_MODULE_NAMES = None


def _completions(line: str) -> list:
    """What Python's REPL offers on Tab for the word before the cursor: names of the namespace, builtins and keywords,
    attributes after a dot (rlcompleter evaluates the part before the dot, as the REPL does), module names after
    `import` or `from`."""
    global _MODULE_NAMES
    import re
    import rlcompleter

    statement = re.match(r"\s*(import|from)\s+([\w.]*)$", line)
    if statement:
        if _MODULE_NAMES is None:
            import pkgutil

            _MODULE_NAMES = sorted(set(sys.builtin_module_names) | {m.name for m in pkgutil.iter_modules()})
        prefix = statement.group(2)
        return [name for name in _MODULE_NAMES if name.startswith(prefix)][:500]
    word = re.search(r"[A-Za-z_][\w.]*$", line)
    text = word.group(0) if word else ""
    if not text:
        return []
    completer = rlcompleter.Completer(_namespace)
    names = []
    try:
        while len(names) < 500:
            name = completer.complete(text, len(names))
            if name is None:
                break
            names.append(name)
    except Exception:
        pass
    return sorted(set(names))


def _answer_completion(request: int, line: str) -> None:
    try:
        names = _completions(line)
    except BaseException:  # an attribute that raises, or an interrupt: no names rather than no driver
        names = []
    data = "\n".join(n for n in names if "\n" not in n).encode("utf-8", errors="replace")
    _event(f"COMPLETIONS {request} {len(data)}\n".encode() + data)


def main() -> None:
    global _executing
    _event(b"READY complete\n")
    while True:
        command = _read_command()
        if command is None:
            return
        kind, cell, source = command
        if kind == "COMPLETE":
            _answer_completion(cell, source)
            continue
        try:
            _attach_cell_stdin()
            ok = _execute(cell, source)
        except KeyboardInterrupt:
            # The interrupt landed in driver code right around the cell: report it like the cell's own.
            _executing = False
            _send_traceback(cell, "KeyboardInterrupt\n")
            ok = False
        _detach_cell_stdin()
        _send_figures(cell)
        _flush()
        _event(f"DONE {cell} {'ok' if ok else 'error'}\n".encode())


if __name__ == "__main__":
    main()
