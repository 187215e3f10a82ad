#!/usr/bin/env python3
"""Drives coderunner's web IDE in headless Chromium (Debian's chromium + chromium-driver) with selenium: CodeMirror
(Debian's libjs-codemirror) highlighting, ANSI colours in the console, answering input() in the console, Stop and
Ctrl-C, folders and a multi-file run, the .tar download, the project surviving a reload, a notebook (.ipynb upload,
cells on the kernel, an inline matplotlib image, saved as valid nbformat 4), the favicon, no SEVERE browser log
entries, a phone-sized window, and the operator view (this page's session with its container; hostile text shown as text).

Needs: apt-get install chromium chromium-driver libjs-codemirror, and selenium (`./setup.sh test` installs them)
Usage: ide_check.py --url http://127.0.0.1:PORT/ [--screenshots DIR]
"""
import argparse
import base64
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.request

from browser_support import ActionChains, By, Keys, Select, WebDriverWait, check, failures, start_chromium

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--screenshots", help="folder for ide.png, notebook.png, ide-phone.png and operator.png")
args = parser.parse_args()

if not os.path.exists("/usr/share/javascript/codemirror/lib/codemirror.js"):
    print("libjs-codemirror is missing: apt-get install libjs-codemirror", file=sys.stderr)
    sys.exit(2)
driver = start_chromium("1280,860", browser_log=True)


def text(element_id):
    return driver.find_element(By.ID, element_id).text


def js(script, *arguments):
    return driver.execute_script(script, *arguments)


def wait_until(predicate, timeout=90, what="condition"):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: predicate())
    except Exception:
        print("timed out waiting for %s; status=%r console=%r" % (what, text("status"), text("console")[-500:]), flush=True)
        return None


def status():
    return text("status")


def set_code(code):
    js("window.ide.editor.cm.setValue(arguments[0]); window.ide.editor.cm.focus();", code)


def run_and_wait(what, start="exit"):
    js("document.getElementById('run').click()")
    wait_until(lambda: status().startswith(start), 60, what)


def open_page():
    driver.get(args.url)
    wait_until(lambda: status() == "ready" and js("return document.body.dataset.editor") == "codemirror", 30, "the page")


def severe_logs():
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


try:
    open_page()
    js("localStorage.clear()")
    open_page()
    check(status() == "ready", "page connected over /ws")
    check(js("return document.body.dataset.editor") == "codemirror", "CodeMirror (libjs-codemirror) loaded from /vendor")
    Select(driver.find_element(By.ID, "language")).select_by_value("python")

    # Type a program: CodeMirror's python mode indents after ':'; Shift-Tab dedents.
    driver.find_element(By.CSS_SELECTOR, "#editor-wrap .CodeMirror").click()
    field = driver.find_element(By.CSS_SELECTOR, "#editor-wrap .CodeMirror textarea")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    for line in ["import time\n", "for i in range(3):\n", "print('tick', i, flush=True)\n", "time.sleep(0.6)\n"]:
        field.send_keys(line)
    field.send_keys(Keys.SHIFT, Keys.TAB)
    field.send_keys("name = input('name? ')\n")
    field.send_keys("print('\\x1b[31mred\\x1b[0m', '\\x1b[1;32mbold green\\x1b[0m', 'hello', name)")
    code = js("return window.ide.editor.value")
    check("for i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.6)\nname = input" in code, "typed with auto-indent: %r" % code)
    keywords = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#editor-wrap .cm-keyword")]
    check("import" in keywords and "for" in keywords, "syntax highlighting: .cm-keyword spans %r" % keywords[:6])
    check(len(driver.find_elements(By.CSS_SELECTOR, "#editor-wrap .CodeMirror-linenumber")) >= 6, "line numbers")

    # Run: output streams, the console answers input() like a terminal, ANSI colours are rendered.
    field.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_until(lambda: "tick 0" in text("console"), 60, "the first tick")
    check("tick 0" in text("console") and "tick 2" not in text("console"), "output streams while the program runs")
    check(status().startswith("running"), "status says running (%s)" % status())
    wait_until(lambda: "name?" in text("console"), 30, "the prompt")
    console = driver.find_element(By.ID, "console")
    check(js("return document.activeElement.id") == "console", "the console has the focus while the program runs")
    console.send_keys("Gracf", Keys.BACKSPACE, "e")
    check(text("console").endswith("Grace"), "typed input echoed locally before Enter")
    console.send_keys(Keys.ENTER)
    wait_until(lambda: "hello Grace" in text("console"), 30, "the greeting")
    check("hello Grace" in text("console"), "the line typed in the console reached the program")
    wait_until(lambda: status().startswith("exit 0"), 30, "exit")
    check("[31m" not in text("console") and "\x1b" not in text("console"), "no escape codes shown")
    red = js("""return [...document.querySelectorAll('#console span')].filter(s => s.textContent === 'red')
                  .map(s => getComputedStyle(s).color)[0] || null""")
    check(red == "rgb(205, 49, 49)", "\\x1b[31m renders red (%s)" % red)
    bold = js("""const s = [...document.querySelectorAll('#console span')].find(s => s.textContent === 'bold green');
                 return s ? getComputedStyle(s).fontWeight + ' ' + getComputedStyle(s).color : null""")
    check(bold is not None and bold.startswith("700"), "\\x1b[1;32m renders bold green (%s)" % bold)
    if args.screenshots:
        driver.save_screenshot(os.path.join(args.screenshots, "ide.png"))

    # stderr in its own colour.
    set_code("import sys\nprint('to out')\nprint('to err', file=sys.stderr)")
    run_and_wait("the stderr run")
    err = driver.find_elements(By.CSS_SELECTOR, "#console span.stderr")
    out = driver.find_elements(By.CSS_SELECTOR, "#console span.stdout")
    check(len(err) == 1 and "to err" in err[0].text and out and
          out[0].value_of_css_property("color") != err[0].value_of_css_property("color"), "stderr in another colour")

    # A progress bar: each "\r" starts the line again (one update per chunk, and "\r\n" split across two chunks).
    set_code("import sys, time\nfor i in range(4):\n    sys.stdout.write('\\rprogress %d%%' % (25 * i)); sys.stdout.flush(); time.sleep(0.1)\n"
             "sys.stdout.write('\\r'); sys.stdout.flush(); time.sleep(0.1)\nprint('\\ndone')")
    run_and_wait("the progress bar")
    lines = text("console").split("\n")
    check("progress 75%" in lines and "progress 0%" not in text("console") and "done" in lines,
          "a carriage return rewrites the line: %r" % lines[-6:])

    # An endless loop: stopped with the Stop button, then with Ctrl-C in the console.
    set_code("import time\nwhile True:\n    print('spin', flush=True)\n    time.sleep(0.02)")
    js("document.getElementById('run').click()")
    wait_until(lambda: "spin" in text("console"), 60, "the loop")
    driver.find_element(By.ID, "stop").click()
    wait_until(lambda: status().startswith("stopped"), 20, "the stop")
    check(status().startswith("stopped"), "Stop button ended the endless loop (%s)" % status())
    js("document.getElementById('run').click()")
    wait_until(lambda: "spin" in text("console"), 60, "the loop again")
    console.click()
    console.send_keys(Keys.CONTROL, "c")
    wait_until(lambda: status().startswith("stopped"), 20, "Ctrl-C")
    check(status().startswith("stopped") and "^C" in text("console"), "Ctrl-C in the console ended it (%s)" % status())

    # Folders and a second file: main.py imports lib/helper.py.
    main_path = js("return window.ide.state.entry")
    js("window.prompt = () => 'lib'")
    driver.find_element(By.ID, "new-folder").click()
    js("window.prompt = () => 'lib/helper.py'")
    driver.find_element(By.ID, "new-file").click()
    check(js("return window.ide.state.active") == "lib/helper.py", "new file lib/helper.py is open")
    set_code("VALUE = 'from helper'\n")
    driver.find_element(By.CSS_SELECTOR, "#tree-list .node.file[data-path='%s']" % main_path).click()
    check("entry" in driver.find_element(By.CSS_SELECTOR, "#tree-list .node.file[data-path='%s']" % main_path).text,
          "the entry file is marked in the tree")
    set_code("from lib import helper\nprint(helper.VALUE)\n")
    run_and_wait("the two-file run")
    check("from helper" in text("console"), "multi-file run: the entry imports lib/helper.py (%s)" % text("console")[-200:])
    paths = [e.get_attribute("data-path") for e in driver.find_elements(By.CSS_SELECTOR, "#tree-list .node")]
    check(paths == ["lib", "lib/helper.py", main_path], "tree shows the folder and its file: %r" % paths)

    # The project as a .tar made in the page.
    archive = js("const b = window.ide.makeTar(); let s = ''; for (const x of b) s += String.fromCharCode(x); return btoa(s);")
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(archive))) as tar:
        names = tar.getnames()
        helper = tar.extractfile("lib/helper.py").read().decode()
    check(set(names) == {"lib", "lib/helper.py", main_path} and "from helper" in helper, "the .tar holds the project: %r" % names)

    # Reload: the project comes back from localStorage.
    js("window.ide.saveProject()")
    open_page()
    paths = [e.get_attribute("data-path") for e in driver.find_elements(By.CSS_SELECTOR, "#tree-list .node")]
    check("lib/helper.py" in paths and "from lib import helper" in js("return window.ide.editor.value"),
          "the project survived a reload: %r" % paths)
    run_and_wait("the run after the reload")
    check("from helper" in text("console"), "and still runs")

    # Highlighting modes of the other languages (the language's example replaces the project when asked).
    js("window.confirm = () => true")
    for language, mode in [("javascript", "javascript"), ("cpp", "text/x-c++src"), ("java", "text/x-java"),
                           ("sql", "text/x-mysql")]:
        if js("return [...document.querySelectorAll('#language option')].some(o => o.value === arguments[0])", language):
            Select(driver.find_element(By.ID, "language")).select_by_value(language)
            got = js("return window.ide.editor.cm.getOption('mode')")
            spans = len(driver.find_elements(By.CSS_SELECTOR, "#editor-wrap .CodeMirror-code span[class^='cm-']"))
            check(got == mode and spans > 0, "%s example highlighted as %s (%d tokens)" % (language, got, spans))
    Select(driver.find_element(By.ID, "language")).select_by_value("python")

    # REPL mode: lines typed in the console run on the kernel; state survives.
    driver.find_element(By.ID, "clear").click()
    driver.find_element(By.ID, "repl").click()
    wait_until(lambda: "kernel ready" in status(), 60, "the kernel")
    check("kernel ready" in status(), "REPL kernel started (%s)" % status())
    console = driver.find_element(By.ID, "console")
    console.click()
    console.send_keys("x = 21", Keys.ENTER)
    wait_until(lambda: status().startswith("cell 1"), 30, "cell 1")
    console.send_keys("print(x * 2)", Keys.ENTER)
    wait_until(lambda: "42" in text("console"), 30, "cell 2")
    check("42" in text("console"), "REPL state survived between cells")

    # Tab completion in the REPL: several matches insert their common prefix and open a list; one match is inserted.
    console.send_keys("import os", Keys.ENTER)
    wait_until(lambda: status().startswith("cell 3"), 30, "cell 3")
    console.send_keys("os.pa", Keys.TAB)
    wait_until(lambda: driver.find_element(By.ID, "completions").is_displayed(), 15, "the completion list")
    offered = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#completions li")]
    check("os.path" in offered, "Tab after os.pa offers os.path: %r" % offered)
    console.send_keys(*([Keys.ARROW_DOWN] * offered.index("os.path") if "os.path" in offered else []), Keys.ENTER)
    check(js("return window.ide.state.line") == "os.path" and not driver.find_element(By.ID, "completions").is_displayed(),
          "arrows and Enter take os.path from the list (%r)" % js("return window.ide.state.line"))
    console.send_keys(Keys.CONTROL, "u")
    console.send_keys("os.pat", Keys.TAB)
    wait_until(lambda: js("return window.ide.state.line") == "os.path", 15, "the common prefix")
    check(js("return window.ide.state.line") == "os.path" and driver.find_element(By.ID, "completions").is_displayed(),
          "Tab after os.pat inserts the common prefix os.path and lists the matches")
    console.send_keys(Keys.ESCAPE)
    check(not driver.find_element(By.ID, "completions").is_displayed(), "Esc closes the list")
    console.send_keys(Keys.CONTROL, "u")
    console.send_keys("answer_value = 1", Keys.ENTER)
    wait_until(lambda: status().startswith("cell 4"), 30, "cell 4")
    console.send_keys("answer_v", Keys.TAB)
    wait_until(lambda: js("return window.ide.state.line") == "answer_value", 15, "the completion")
    check(js("return window.ide.state.line") == "answer_value", "Tab completes answer_v to answer_value")
    console.send_keys(Keys.CONTROL, "u")

    # The operator view (Operator button, /#operator): this page's session with its run history, kernel and container.
    own = js("return window.ide.state.session")
    js("window.ide.state.ws.send(JSON.stringify({type: 'stop', id: '<img src=x onerror=window.pwned=1>'}))")
    driver.find_element(By.ID, "operator-toggle").click()
    wait_until(lambda: own and own in text("op-sessions") and "unknown-run" in text("op-errors"), 15, "the operator view")
    row = js("return [...document.querySelectorAll('#op-sessions tr.own td')].map(c => c.textContent)")
    check(bool(own) and len(row) == 9 and row[0].startswith(own) and row[5] == "1" and row[6].startswith("yes") and "python" in row[8],
          "the operator view lists this page's session %s with its kernel and python container: %r" % (own, row))
    check("#operator" in driver.current_url and not driver.find_element(By.ID, "left").is_displayed(), "/#operator replaces the IDE")
    check("ok" in text("op-runs") and "serving" in text("op-node"), "runs by status and the node's state are shown")
    check("<img src=x" in text("op-errors") and not js("return window.pwned || document.querySelector('#operator img')"),
          "an error message with markup is shown as text")
    before = text("op-updated")
    wait_until(lambda: text("op-updated") != before, 6, "a refresh")
    check(text("op-updated") != before, "the view refreshes by itself (%s)" % text("op-updated"))
    if args.screenshots:
        driver.save_screenshot(os.path.join(args.screenshots, "operator.png"))
    driver.find_element(By.ID, "op-back").send_keys(Keys.ESCAPE)
    check(driver.find_element(By.ID, "left").is_displayed() and js("return document.activeElement.id") == "operator-toggle"
          and "#operator" not in driver.current_url, "Esc goes back to the IDE, the focus on the Operator button")
    driver.find_element(By.ID, "repl").click()

    # A notebook: uploaded, run on the kernel (text, an image, state between cells), edited, saved as nbformat 4.
    notebook = {"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                "language": "python"}}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# A plot\n", "Runs on coderunner's kernel."]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["x = 6 * 7\n", "print(x)"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["import matplotlib.pyplot as plt\n", "plt.plot([1, 3, 2])\n", "plt.title('coderunner')"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["print('\\rwait', end='', flush=True)\n", "print('\\r' + str(x + 1))"]}]}
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "plot.ipynb")
    with open(path, "w") as handle:
        json.dump(notebook, handle)
    driver.find_element(By.CSS_SELECTOR, "#tree-list .node.file").click()
    driver.find_element(By.ID, "upload-input").send_keys(path)
    wait_until(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-cell")) == 4, 10, "the notebook's cells")
    check(driver.find_element(By.ID, "notebook").is_displayed(), "an uploaded .ipynb opens as a notebook")
    sources = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-src")]
    check("x = 6 * 7" in sources[1] and "# A plot" in sources[0], "the cells show their sources: %r" % sources)
    driver.find_element(By.ID, "nb-run-all").click()
    counts = lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-count")]
    wait_until(lambda: all(c not in ("[ ]", "[*]") for c in counts()), 90, "the cells to run")
    outs = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-out")]
    check(outs[1] == "42" and outs[3] == "43", "cells ran on one kernel (a carriage return rewrites the line): %r, counts %r" % (outs, counts()))
    width = js("const i = document.querySelector('#nb-cells .nb-cell:nth-child(3) .nb-out img'); return i ? i.naturalWidth : 0")
    check(width > 100, "the matplotlib figure is shown inline (%d px wide)" % width)
    cell = driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-cell.code")[2]
    cell.find_element(By.CSS_SELECTOR, ".CodeMirror").click()
    field = cell.find_element(By.CSS_SELECTOR, ".CodeMirror textarea")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("print((x + 1) * 10)", Keys.SHIFT, Keys.ENTER)
    wait_until(lambda: "430" in driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-out")[3].text, 30, "the edited cell")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-cell")) == 5, "Shift-Enter ran the cell and added one")
    last = "const c = window.ide.nb.cells[window.ide.nb.cells.length - 1].cm; "
    new_cell = driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-cell")[-1]
    new_cell.find_element(By.CSS_SELECTOR, ".CodeMirror").click()
    new_cell.find_element(By.CSS_SELECTOR, ".CodeMirror textarea").send_keys("x.bit_le", Keys.TAB)
    wait_until(lambda: js(last + "return c.getValue()").startswith("x.bit_length"), 15, "the cell's completion")
    check(js(last + "return c.getValue()").startswith("x.bit_length"), "Tab in a cell completes from the kernel: %r" % js(last + "return c.getValue()"))
    js(last + "c.setValue('')")
    if args.screenshots:
        js("document.querySelector('#nb-cells .nb-cell:nth-child(2)').scrollIntoView()")
        driver.save_screenshot(os.path.join(args.screenshots, "notebook.png"))
    js("window.ide.syncEditor()")
    saved = js("return window.ide.state.files.find(f => f.path === 'plot.ipynb').content")
    document = json.loads(saved)
    try:
        import nbformat
        nbformat.validate(nbformat.reads(saved, as_version=4))
        valid = "valid nbformat 4"
    except ImportError:
        valid = "nbformat is missing: JSON checked only"
    code = [c for c in document["cells"] if c["cell_type"] == "code"]
    check(document["nbformat"] == 4 and all(isinstance(c["execution_count"], int) for c in code[:3])
          and code[1]["outputs"][-1]["data"]["image/png"].startswith("iVBOR")
          and "430" in "".join(code[2]["outputs"][0]["text"]) and "print((x + 1) * 10)" in "".join(code[2]["source"]),
          "saved notebook has outputs, counts and the image (%s)" % valid)
    open_page()
    check(js("return window.ide.nb.path") == "plot.ipynb" and "430" in text("nb-cells"), "the notebook and its outputs survive a reload")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#nb-cells .CodeMirror")) == 5 and "x = 6 * 7" in text("nb-cells"),
          "after the reload its cells are CodeMirror editors showing their sources")
    js("window.prompt = () => 'notes/plot2.ipynb'")
    driver.find_element(By.CSS_SELECTOR, "#tree-list .node.file[data-path='plot.ipynb']").click()
    driver.find_element(By.ID, "rename").click()
    moved = js("return window.ide.state.files.find(f => f.path === 'notes/plot2.ipynb').content")
    check(len(json.loads(moved)["cells"]) == 5 and len(driver.find_elements(By.CSS_SELECTOR, "#nb-cells .nb-cell")) == 5,
          "a renamed notebook keeps its cells")
    driver.find_element(By.CSS_SELECTOR, "#tree-list .node.file:not([data-path$='ipynb'])").click()
    check(not driver.find_element(By.ID, "notebook").is_displayed(), "another file leaves the notebook view")

    # Keyboard only: Alt-2 to the editor, Esc out of it, visible focus, the shortcuts on ?, Alt-1 and arrows in the tree.
    def press(*keys, alt=False):
        chain = ActionChains(driver)
        if alt:
            chain = chain.key_down(Keys.ALT)
        chain = chain.send_keys(*keys)
        if alt:
            chain = chain.key_up(Keys.ALT)
        chain.perform()

    press("2", alt=True)
    check(js("return document.activeElement === window.ide.editor.cm.getInputField()"), "Alt-2 focuses the editor")
    press(Keys.ESCAPE)
    check(js("return document.activeElement.id") == "run", "Esc leaves the editor for the Run button")
    check(js("return getComputedStyle(document.activeElement).outlineStyle") != "none", "the focus is visible")
    press(Keys.TAB)
    check(js("return document.activeElement.id") == "repl", "Tab moves on in order (Run, then REPL: a disabled Stop is skipped)")
    js("document.getElementById('help').focus()")
    check(driver.find_element(By.ID, "help-text").is_displayed() and "Ctrl-Enter" in text("help-text"),
          "the shortcuts show while ? has the focus")
    press("1", alt=True)
    in_tree = js("return document.activeElement.classList.contains('node')")
    press(Keys.HOME)
    first = js("return document.activeElement.dataset.path")
    press(Keys.ARROW_DOWN)
    second = js("return document.activeElement.dataset.path")
    check(in_tree and first and second and first != second, "Alt-1 focuses the tree, Home and arrows move in it (%s, %s)" % (first, second))
    press("3", alt=True)
    check(js("return document.activeElement.id") == "console", "Alt-3 focuses the console")

    # The favicon and the vendor route answer; nothing went wrong in the browser console.
    base = args.url.rstrip("/")
    with urllib.request.urlopen(base + "/favicon.ico") as answer:
        check(answer.status == 200 and answer.headers["Content-Type"].startswith("image/"), "/favicon.ico answers 200")
    try:
        urllib.request.urlopen(base + "/vendor/codemirror/lib/..%2F..%2F..%2F..%2Fetc/passwd")
        check(False, "/vendor refuses a path out of its folder")
    except urllib.error.HTTPError as error:
        check(error.code == 404, "/vendor refuses a path out of its folder (%d)" % error.code)
    severe = severe_logs()
    check(not severe, "no SEVERE entries in the browser log: %r" % severe)

    # A phone-sized window: editor and console stacked, both usable.
    driver.set_window_size(390, 844)
    wait_until(lambda: js("return window.innerWidth") <= 400, 5, "the small window")
    boxes = js("""const r = (s) => { const b = document.querySelector(s).getBoundingClientRect();
                  return [b.left, b.top, b.width, b.height]; };
                  return { editor: r('#editor-wrap .CodeMirror'), console: r('#console'), run: r('#run'), width: innerWidth };""")
    ed, co = boxes["editor"], boxes["console"]
    check(ed[2] <= boxes["width"] and co[2] <= boxes["width"] and ed[3] >= 150 and co[3] >= 100 and co[1] >= ed[1] + ed[3] - 1,
          "390x844: editor above console, both visible: %r" % boxes)
    set_code("print('small screen')")
    driver.find_element(By.ID, "run").click()
    wait_until(lambda: status().startswith("exit"), 60, "the run on a small screen")
    check("small screen" in text("console"), "runs on a small screen")
    driver.find_element(By.ID, "toggle-tree").click()
    check(driver.find_element(By.ID, "tree").is_displayed(), "the Files button shows the tree")
    if args.screenshots:
        driver.save_screenshot(os.path.join(args.screenshots, "ide-phone.png"))
    driver.find_element(By.ID, "operator-toggle").click()
    wait_until(lambda: "this page" in text("op-sessions"), 15, "the operator view on a phone")
    wide = js("return [document.documentElement.scrollWidth, innerWidth]")
    check("this page" in text("op-sessions") and wide[0] <= wide[1], "the operator view fits a phone (tables scroll inside): %r" % wide)
    driver.find_element(By.ID, "operator-toggle").click()
    severe = severe_logs()
    check(not severe, "still no SEVERE entries in the browser log: %r" % severe)
finally:
    driver.quit()

if failures:
    print("%d check(s) failed" % len(failures), file=sys.stderr)
    sys.exit(1)
print("all IDE checks passed")
