extension WebPage {
    /// The editor: Debian's CodeMirror 5 when the server has it (`VENDOR.codemirror`), else (or with `/?editor=plain`)
    /// the page's plain textarea (line numbers, Tab indents, Enter keeps the indentation) with a notice saying why.
    static let scriptEditor = #"""
        /* ---------- editor: CodeMirror (libjs-codemirror) or the plain textarea ---------- */
        const CM_SCRIPTS = ["addon/edit/matchbrackets.js", "addon/dialog/dialog.js", "addon/search/searchcursor.js", "addon/search/search.js",
          "addon/search/jump-to-line.js", "addon/comment/comment.js", "addon/hint/show-hint.js", "mode/python/python.js", "mode/javascript/javascript.js",
          "mode/clike/clike.js", "mode/sql/sql.js"];
        const CM_STYLES = ["lib/codemirror.css", "addon/dialog/dialog.css", "addon/hint/show-hint.css", "theme/material-darker.css"];
        const MODES = { py: "python", js: "javascript", mjs: "javascript", cjs: "javascript", json: "application/json", ts: "text/typescript",
          c: "text/x-csrc", h: "text/x-c++src", cc: "text/x-c++src", cpp: "text/x-c++src", cxx: "text/x-c++src", hpp: "text/x-c++src", hh: "text/x-c++src",
          java: "text/x-java", sql: "text/x-mysql" };
        function modeFor(path) { const m = /\.([^./]+)$/.exec(path || ""); return (m && MODES[m[1].toLowerCase()]) || null; }
        const editor = {
          cm: null, ta: $("editor"), quiet: false,
          get value() { return this.cm ? this.cm.getValue() : this.ta.value; },
          set(text, path, readOnly) {
            this.quiet = true;
            if (this.cm) {
              this.cm.setOption("mode", modeFor(path)); this.cm.setOption("readOnly", !!readOnly);
              this.cm.setValue(text); this.cm.clearHistory();
            } else { this.ta.value = text; this.ta.readOnly = !!readOnly; updateGutter(); }
            this.quiet = false;
          },
          focus() { if (this.cm) this.cm.focus(); else this.ta.focus(); }
        };
        function notice(text) { $("notice").textContent = text; }
        function loadScript(src) {
          return new Promise((resolve, reject) => {
            const s = document.createElement("script"); s.src = withToken(src);
            s.onload = resolve; s.onerror = () => reject(new Error("could not load " + src)); document.head.appendChild(s);
          });
        }
        async function loadCodeMirror() {
          if (!VENDOR.codemirror) {
            notice("plain editor: the server has no CodeMirror (apt-get install libjs-codemirror)"); return;
          }
          if (params.get("editor") === "plain") { notice("plain editor (?editor=plain)"); return; }
          for (const css of CM_STYLES) {
            const link = document.createElement("link"); link.rel = "stylesheet"; link.href = withToken("/vendor/codemirror/" + css); document.head.appendChild(link);
          }
          try {
            await loadScript("/vendor/codemirror/lib/codemirror.js");
            await Promise.all(CM_SCRIPTS.map(f => loadScript("/vendor/codemirror/" + f)));
          } catch (e) { notice("plain editor: " + e.message); return; }
          syncEditor();
          const file = fileAt(state.active);
          const cm = CodeMirror.fromTextArea($("editor"), {
            lineNumbers: true, matchBrackets: true, indentUnit: 4, tabSize: 4, indentWithTabs: false, smartIndent: true,
            theme: "material-darker", mode: modeFor(state.active), readOnly: !!(file && file.encoding),
            extraKeys: {
              "Tab": (cm) => { if (cm.somethingSelected()) cm.indentSelection("add"); else cm.execCommand("insertSoftTab"); },
              "Shift-Tab": (cm) => cm.indentSelection("subtract"),
              "Esc": () => { $("run").focus(); },
              "Ctrl-/": "toggleComment", "Cmd-/": "toggleComment"
            }
          });
          cm.getInputField().setAttribute("aria-label", "Code editor");
          cm.on("change", () => { if (!editor.quiet) syncEditor(); });
          editor.cm = cm; $("editor-wrap").classList.add("has-cm");
          if (nb.path) { const notebook = fileAt(nb.path); hideNotebook(); showNotebook(notebook); }  // its cells as CodeMirrors too
          document.body.dataset.editor = "codemirror";
        }
        /* The editor's text into the current file, and the project into storage (soon). */
        function syncEditor() {
          const file = fileAt(state.active);
          if (!file || file.encoding) return;
          // While a notebook is shown the editor holds no file's text (after a rename nb.path is the old name).
          if (nb.path) { if (nb.path === file.path) { const text = notebookJSON(); if (file.content !== text) { file.content = text; scheduleSave(); } } return; }
          if (file && !file.encoding) { const text = editor.value; if (file.content !== text) { file.content = text; scheduleSave(); } }
        }

        /* The plain editor (no CodeMirror): line numbers, Tab indents, Enter keeps the indentation. */
        function updateGutter() {
          const lines = $("editor").value.split("\n").length;
          let text = ""; for (let i = 1; i <= lines; i++) text += i + "\n";
          $("gutter").textContent = text; $("gutter").scrollTop = $("editor").scrollTop;
        }
        $("editor").addEventListener("input", () => { syncEditor(); updateGutter(); });
        $("editor").addEventListener("scroll", () => { $("gutter").scrollTop = $("editor").scrollTop; });
        $("editor").addEventListener("keydown", (ev) => {
          const ed = ev.target;
          if (ed.readOnly) return;
          if (ev.key === "Escape") { ev.preventDefault(); $("run").focus(); return; }
          if (ev.key === "Tab") {
            ev.preventDefault();
            const start = ed.selectionStart, end = ed.selectionEnd, value = ed.value;
            const lineStart = value.lastIndexOf("\n", start - 1) + 1;
            if (start !== end && value.slice(start, end).includes("\n")) {
              const block = value.slice(lineStart, end);
              const changed = ev.shiftKey ? block.replace(/^( {1,4}|\t)/gm, "") : block.replace(/^/gm, "    ");
              ed.value = value.slice(0, lineStart) + changed + value.slice(end);
              ed.selectionStart = lineStart; ed.selectionEnd = lineStart + changed.length;
            } else if (ev.shiftKey) {
              const m = value.slice(lineStart).match(/^( {1,4}|\t)/);
              if (m) { ed.value = value.slice(0, lineStart) + value.slice(lineStart + m[0].length); ed.selectionStart = ed.selectionEnd = Math.max(lineStart, start - m[0].length); }
            } else {
              ed.value = value.slice(0, start) + "    " + value.slice(end); ed.selectionStart = ed.selectionEnd = start + 4;
            }
            syncEditor(); updateGutter();
          } else if (ev.key === "Enter" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) {
            ev.preventDefault();
            const start = ed.selectionStart, value = ed.value;
            const lineStart = value.lastIndexOf("\n", start - 1) + 1;
            let indent = value.slice(lineStart, start).match(/^[ \t]*/)[0];
            if (/[:{(\[]\s*$/.test(value.slice(lineStart, start))) indent += "    ";
            ed.value = value.slice(0, start) + "\n" + indent + value.slice(ed.selectionEnd);
            ed.selectionStart = ed.selectionEnd = start + 1 + indent.length;
            syncEditor(); updateGutter();
          }
        });

        """#
}
