extension WebPage {
    /// Tab completion in the REPL (the console's line and the input line): Tab asks the kernel (`kernel.complete` with
    /// the text before the cursor); one match replaces the word before the cursor, several insert their common prefix
    /// and open a list (arrows move, Enter or Tab takes one, Escape closes it). An empty line keeps Tab for moving the
    /// focus. In notebook cells Tab after a name does the same through CodeMirror's show-hint addon. Matches are the
    /// kernel's (a program's) text: shown as text only.
    static let scriptComplete = #"""
        /* ---------- REPL tab completion ---------- */
        const comp = { counter: 0, pending: null, open: null };
        const WORD = /[\w.]*$/;
        function commonPrefix(words) {
          let prefix = words[0] || "";
          for (const w of words) while (!w.startsWith(prefix)) prefix = prefix.slice(0, -1);
          return prefix;
        }
        function completionTarget(element) {
          if (element === $("stdin")) {
            const before = element.value.slice(0, element.selectionStart), after = element.value.slice(element.selectionEnd);
            return { element, before, after, set(text) { element.value = text + after; element.selectionStart = element.selectionEnd = text.length; } };
          }
          return { element, before: state.line, after: "", set(text) { state.line = text; renderPending(); } };
        }
        function closeCompletions() {
          comp.open = null; const list = $("completions"); list.hidden = true; list.textContent = "";
          for (const id of ["console", "stdin"]) $(id).removeAttribute("aria-activedescendant");
        }
        function takeCompletion(index) {
          const open = comp.open; if (!open) return;
          open.target.set(open.target.before.replace(WORD, "") + open.matches[index]); closeCompletions();
        }
        function markCompletion(index) {
          const open = comp.open; open.index = (index + open.matches.length) % open.matches.length;
          [...$("completions").children].forEach((li, i) => li.setAttribute("aria-selected", String(i === open.index)));
          const li = $("completions").children[open.index]; li.scrollIntoView({ block: "nearest" });
          open.target.element.setAttribute("aria-activedescendant", li.id);
        }
        function completionsArrived(m) {
          if (!comp.pending || m.id !== comp.pending.id) return;
          if (comp.pending.cm) { const asked = comp.pending; comp.pending = null; cellCompletions(asked, m.matches); return; }
          const asked = comp.pending.target; comp.pending = null;
          const target = completionTarget(asked.element);
          if (target.before !== asked.before) return;  // typed on meanwhile
          const matches = [...new Set((m.matches || []).map(String))];
          if (!matches.length) { setStatus("no completions"); return; }
          const word = target.before.match(WORD)[0], prefix = commonPrefix(matches);
          if (matches.length === 1 || prefix.length > word.length) {
            target.set(target.before.replace(WORD, "") + (matches.length === 1 ? matches[0] : prefix));
            target.before = target.element === $("stdin") ? target.element.value.slice(0, target.element.selectionStart) : state.line;
          }
          if (matches.length === 1) return;
          const list = $("completions"); list.textContent = "";
          matches.slice(0, 200).forEach((match, i) => {
            const li = document.createElement("li"); li.id = "completion-" + i; li.setAttribute("role", "option"); li.textContent = match;
            li.addEventListener("mousedown", (ev) => { ev.preventDefault(); takeCompletion(i); });
            list.appendChild(li);
          });
          comp.open = { target, matches: matches.slice(0, 200), index: 0 };
          list.hidden = false; markCompletion(0);
        }
        $("right").addEventListener("keydown", (ev) => {
          const element = ev.target;
          if (element !== $("console") && element !== $("stdin")) return;
          if (comp.open) {
            const keys = { ArrowDown: 1, ArrowUp: -1 };
            if (ev.key in keys) markCompletion(comp.open.index + keys[ev.key]);
            else if ((ev.key === "Enter" || ev.key === "Tab") && !ev.shiftKey) takeCompletion(comp.open.index);
            else if (ev.key === "Escape") closeCompletions();
            else { closeCompletions(); return; }
            ev.preventDefault(); ev.stopPropagation(); return;
          }
          if (ev.key !== "Tab" || ev.shiftKey || ev.ctrlKey || ev.altKey || ev.metaKey) return;
          if (!state.kernel || !state.kernelReady || state.kernelBusy || nb.owns) return;
          const target = completionTarget(element);
          if (!/[\w.]$/.test(target.before)) return;
          ev.preventDefault(); ev.stopPropagation();
          comp.pending = { id: "complete-" + (++comp.counter), target };
          send({ type: "kernel.complete", code: target.before, id: comp.pending.id });
        }, true);
        /* Notebook cells (CodeMirror): Tab after a name asks the notebook's kernel; CodeMirror's show-hint addon (from
           libjs-codemirror, text nodes only) inserts a single match or lists several. */
        function completeCell(cm) {
          if (!window.CodeMirror || !CodeMirror.showHint || !nb.owns || !nb.ready || nb.running) return false;
          const cursor = cm.getCursor(), before = cm.getLine(cursor.line).slice(0, cursor.ch);
          if (!/[\w.]$/.test(before)) return false;
          comp.pending = { id: "complete-" + (++comp.counter), cm, before, cursor };
          send({ type: "kernel.complete", code: before, id: comp.pending.id });
          return true;
        }
        function cellCompletions(asked, matches) {
          const cm = asked.cm, cursor = cm.getCursor(), list = [...new Set((matches || []).map(String))];
          if (cursor.line !== asked.cursor.line || cm.getLine(cursor.line).slice(0, cursor.ch) !== asked.before || !list.length) return;
          const from = CodeMirror.Pos(cursor.line, cursor.ch - asked.before.match(WORD)[0].length);
          cm.showHint({ hint: () => ({ list, from, to: cursor }), completeSingle: true });
        }
        $("stdin").addEventListener("blur", closeCompletions);
        $("console").addEventListener("blur", closeCompletions);

        """#
}
