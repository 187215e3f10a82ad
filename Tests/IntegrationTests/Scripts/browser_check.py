#!/usr/bin/env python3
"""Drives coderunner's web page in headless Chromium (Debian's chromium + chromium-driver) with selenium:
type a program, run it, see output stream, send input, stop an endless loop, stderr in its own colour, REPL mode.
It works with either editor of the page: Debian's CodeMirror (libjs-codemirror) or the plain textarea without it.
ide_check.py checks the rest of the IDE (highlighting, ANSI colours, the file tree, reload, a small screen).

Needs: apt-get install chromium chromium-driver, and selenium (`./setup.sh test` installs it in /var/lib/coderunner/test-venv)
Usage: browser_check.py --url http://127.0.0.1:PORT/
"""
import argparse
import os
import sys
import time

from browser_support import By, Keys, Select, WebDriverWait, check, failures, start_chromium

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
args = parser.parse_args()

driver = start_chromium("1280,900")


def text(element_id):
    return driver.find_element(By.ID, element_id).text


def wait_until(predicate, timeout=90, what="condition"):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: predicate())
    except Exception:
        print("timed out waiting for %s; status=%r console=%r" % (what, text("status"), text("console")[-500:]), flush=True)
        return None


def code_field():
    """CodeMirror's input field when the page loaded it, else the plain textarea."""
    fields = driver.find_elements(By.CSS_SELECTOR, "#editor-wrap .CodeMirror textarea")
    if fields:
        driver.find_element(By.CSS_SELECTOR, "#editor-wrap .CodeMirror").click()
        return fields[0]
    editor = driver.find_element(By.ID, "editor")
    editor.click()
    return editor


def replace_code(lines):
    editor = code_field()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    for line in lines:
        editor.send_keys(*line)
    return editor


def check_page(url, plain):
    """The whole tour on one editor: CodeMirror, or (plain) the page's own textarea."""
    driver.get(url)
    wait_until(lambda: "plain" in text("notice") if plain else driver.execute_script("return document.body.dataset.editor") == "codemirror",
               30, "the editor")
    check(bool(driver.find_elements(By.CSS_SELECTOR, "#editor-wrap .CodeMirror")) != plain,
          "plain textarea editor with a notice" if plain else "CodeMirror editor")
    wait_until(lambda: text("status") == "ready", 30, "the page to connect")
    check(text("status") == "ready", "page connected over /ws")
    Select(driver.find_element(By.ID, "language")).select_by_value("python")
    driver.execute_script("localStorage.clear(); window.confirm = () => true;")
    driver.find_element(By.ID, "new-project").click()
    check(len(driver.find_elements(By.CSS_SELECTOR, "#tree-list .node.file")) == 1, "one file with the example")

    # Type a program: auto-indent after ':' and Shift-Tab to dedent are the editor's own.
    editor = replace_code([
        ("import time\n",),
        ("for i in range(3):\n",),
        ("print('tick', i, flush=True)\n",),
        ("time.sleep(0.8)\n",),
        (Keys.SHIFT, Keys.TAB),
        ("name = input('name? ')\n",),
        ("print('hello', name)",),
    ])
    code = driver.execute_script("return window.ide.editor.value")
    check("for i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.8)\nname = input" in code, "typed program with indentation: %r" % code)
    numbers = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".CodeMirror-linenumber")] or text("gutter").split()
    check(numbers[-1] == "6", "line numbers follow the text")
    driver.find_element(By.ID, "run").click()
    wait_until(lambda: "tick 0" in text("console"), 60, "the first tick")
    first_tick_status = text("status")
    check("tick 0" in text("console") and "tick 2" not in text("console"), "output streams while the program runs")
    check(first_tick_status.startswith("running"), "status says running while output streams (%s)" % first_tick_status)
    wait_until(lambda: "name?" in text("console"), 30, "the prompt")
    stdin = driver.find_element(By.ID, "stdin")
    check(stdin.is_enabled(), "input line enabled while running")
    stdin.send_keys("Grace", Keys.ENTER)
    wait_until(lambda: "hello Grace" in text("console"), 30, "the greeting")
    check("hello Grace" in text("console"), "input reached the program")
    wait_until(lambda: text("status").startswith("exit 0"), 30, "exit")
    check(text("status").startswith("exit 0"), "status shows the exit (%s)" % text("status"))

    # stderr in another colour.
    editor = replace_code([("import sys\n",), ("print('to out')\n",), ("print('to err', file=sys.stderr)",)])
    editor.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_until(lambda: text("status").startswith("exit"), 60, "the stderr run")
    spans = driver.find_elements(By.CSS_SELECTOR, "#console span.stderr")
    outs = driver.find_elements(By.CSS_SELECTOR, "#console span.stdout")
    check(len(spans) == 1 and "to err" in spans[0].text, "stderr shown as stderr")
    check(len(outs) == 1 and spans and outs[0].value_of_css_property("color") != spans[0].value_of_css_property("color"),
          "stdout and stderr have different colours")

    # Stop an endless loop (started with Ctrl-Enter).
    editor = replace_code([("import time\n",), ("while True:\n",), ("print('spin', flush=True)\n",), ("time.sleep(0.02)",)])
    editor.send_keys(Keys.CONTROL, Keys.ENTER)
    wait_until(lambda: "spin" in text("console"), 60, "the loop's output")
    check(driver.find_element(By.ID, "stop").is_enabled(), "Stop enabled while running")
    driver.find_element(By.ID, "stop").click()
    wait_until(lambda: text("status").startswith("stopped"), 20, "the stop")
    check(text("status").startswith("stopped"), "Stop ended the endless loop (%s)" % text("status"))
    check(driver.find_element(By.ID, "run").is_enabled(), "Run enabled again")

    # Several files: a second file imported by the entry.
    entry = driver.execute_script("return window.ide.state.entry")
    driver.execute_script("window.prompt = () => 'helper.py';")
    driver.find_element(By.ID, "new-file").click()
    replace_code([("VALUE = 'from helper'",)])
    driver.find_element(By.CSS_SELECTOR, "#tree-list .node.file[data-path='%s']" % entry).click()
    replace_code([("import helper\n",), ("print(helper.VALUE)",)])
    driver.find_element(By.ID, "run").click()
    wait_until(lambda: text("status").startswith("exit"), 60, "the two-file run")
    check("from helper" in text("console"), "two files, the entry imports the other")

    # REPL mode: state survives between inputs.
    driver.find_element(By.ID, "clear").click()
    driver.find_element(By.ID, "repl").click()
    wait_until(lambda: "kernel ready" in text("status"), 60, "the kernel")
    check("kernel ready" in text("status"), "REPL kernel started (%s)" % text("status"))
    stdin = driver.find_element(By.ID, "stdin")
    wait_until(lambda: stdin.is_enabled(), 10, "the REPL input")
    stdin.send_keys("x = 21", Keys.ENTER)
    wait_until(lambda: text("status").startswith("cell 1"), 30, "cell 1")
    wait_until(lambda: stdin.is_enabled(), 10, "the REPL input again")
    stdin.send_keys("print(x * 2)", Keys.ENTER)
    wait_until(lambda: "42" in text("console"), 30, "cell 2 output")
    check("42" in text("console"), "REPL state survived between cells")
    driver.find_element(By.ID, "repl").click()


try:
    check_page(args.url, plain=False)
    print("--- again with the page's plain editor (what it falls back to without libjs-codemirror)", flush=True)
    check_page(args.url.rstrip("/") + "/?editor=plain", plain=True)
finally:
    driver.quit()

if failures:
    print("%d check(s) failed" % len(failures), file=sys.stderr)
    sys.exit(1)
print("all browser checks passed")

