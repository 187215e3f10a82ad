/// The web page at `/`: one self-contained HTML file (no CDN, no build step; it works offline) that speaks the native
/// protocol on `/ws`. A token given as `/?token=T` is passed on to the WebSocket.
enum WebPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>coderunner</title>
        <style>
          :root { --bg:#1e1f22; --panel:#26282c; --line:#3a3d42; --text:#e6e6e6; --dim:#9aa0a6; --accent:#4f8cff; --err:#ff6b6b; --ok:#5fd38d; --sys:#e5c07b; }
          * { box-sizing: border-box; }
          html, body { height: 100%; margin: 0; background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, sans-serif; }
          body { display: flex; flex-direction: column; }
          header { display: flex; gap: 8px; align-items: center; padding: 8px 12px; background: var(--panel); border-bottom: 1px solid var(--line); flex-wrap: wrap; }
          header h1 { font-size: 16px; margin: 0 12px 0 0; font-weight: 600; }
          button, select, input[type=text] { background: #33363b; color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 5px 10px; font: inherit; }
          button:hover:not(:disabled) { border-color: var(--accent); }
          button:disabled { opacity: .45; }
          #run { background: #2c5bd1; border-color: #2c5bd1; }
          #status { margin-left: auto; color: var(--dim); font-size: 13px; }
          #status.ok { color: var(--ok); } #status.bad { color: var(--err); }
          main { flex: 1; display: flex; min-height: 0; }
          #left { flex: 1 1 55%; display: flex; flex-direction: column; min-width: 0; border-right: 1px solid var(--line); }
          #right { flex: 1 1 45%; display: flex; flex-direction: column; min-width: 0; }
          #tabs { display: flex; gap: 2px; padding: 4px 6px 0; background: var(--panel); overflow-x: auto; }
          .tab { padding: 5px 10px; border: 1px solid var(--line); border-bottom: none; border-radius: 4px 4px 0 0; cursor: pointer; color: var(--dim); white-space: nowrap; user-select: none; }
          .tab.active { background: var(--bg); color: var(--text); }
          .tab .entry { color: var(--ok); margin-right: 4px; }
          .tab .close { margin-left: 8px; color: var(--dim); }
          .tab .close:hover { color: var(--err); }
          #add-file { padding: 2px 10px; margin: 2px 0 0 4px; }
          #editor-wrap { flex: 1; display: flex; min-height: 0; font: 13px/1.5 ui-monospace, "DejaVu Sans Mono", monospace; }
          #gutter { padding: 8px 6px 8px 8px; text-align: right; color: #6b7078; background: #1a1b1e; overflow: hidden; user-select: none; white-space: pre; min-width: 3.2em; }
          #editor { flex: 1; resize: none; border: none; outline: none; padding: 8px; background: var(--bg); color: var(--text); font: inherit; white-space: pre; overflow: auto; tab-size: 4; }
          #console { flex: 1; margin: 0; padding: 8px 10px; overflow: auto; font: 13px/1.45 ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; word-break: break-word; }
          #console .stdout { color: var(--text); } #console .stderr { color: var(--err); } #console .system { color: var(--sys); } #console .stdin { color: var(--accent); }
          #console .prompt { color: var(--dim); }
          .bar { display: flex; gap: 6px; padding: 6px; border-top: 1px solid var(--line); background: var(--panel); align-items: center; }
          #stdin { flex: 1; font-family: ui-monospace, monospace; }
          .hint { color: var(--dim); font-size: 12px; padding: 0 8px; }
          label { color: var(--dim); display: flex; align-items: center; gap: 4px; }
        </style>
        </head>
        <body>
        <header>
          <h1>coderunner</h1>
          <select id="language" title="Language"></select>
          <button id="run" title="Run (Ctrl-Enter)">&#9654; Run</button>
          <button id="stop" disabled title="Stop the running program">&#9632; Stop</button>
          <label title="Run cells on a persistent interpreter: state survives between runs"><input type="checkbox" id="repl"> REPL</label>
          <button id="clear" title="Clear the console">Clear</button>
          <span id="status">connecting…</span>
        </header>
        <main>
          <section id="left">
            <div id="tabs"></div>
            <div id="editor-wrap">
              <div id="gutter">1</div>
              <textarea id="editor" spellcheck="false" autocapitalize="off" autocomplete="off" wrap="off" aria-label="Code editor"></textarea>
            </div>
            <div class="hint">Ctrl-Enter runs · Tab indents · double-click a tab to rename, right-click to make it the entry file</div>
          </section>
          <section id="right">
            <pre id="console" aria-live="polite"></pre>
            <div class="bar">
              <input type="text" id="stdin" placeholder="input for the running program (Enter sends)" autocomplete="off" disabled>
              <button id="send" disabled>Send</button>
              <button id="eof" disabled title="Close the program's stdin (Ctrl-D)">EOF</button>
            </div>
          </section>
        </main>
        <script>
        "use strict";
        const $ = (id) => document.getElementById(id);
        const state = { languages: [], files: [], active: 0, entry: 0, runId: null, runCounter: 0, ws: null, kernel: false, kernelReady: false, kernelBusy: false, cellCounter: 0, lastStream: null };
        const params = new URLSearchParams(location.search);
        const token = params.get("token");

        function setStatus(text, cls) { const s = $("status"); s.textContent = text; s.className = cls || ""; }

        function print(text, cls) {
          const con = $("console");
          const atBottom = con.scrollHeight - con.scrollTop - con.clientHeight < 40;
          const last = con.lastChild;
          if (last && last.className === cls && last.nodeType === 1) last.textContent += text;
          else { const span = document.createElement("span"); span.className = cls; span.textContent = text; con.appendChild(span); }
          if (atBottom) con.scrollTop = con.scrollHeight;
        }

        /* ---------- files and tabs ---------- */
        function currentLanguage() { return state.languages.find(l => l.name === $("language").value); }
        function saveEditor() { if (state.files[state.active]) state.files[state.active].content = $("editor").value; }
        function renderTabs() {
          const tabs = $("tabs"); tabs.textContent = "";
          state.files.forEach((file, index) => {
            const tab = document.createElement("div");
            tab.className = "tab" + (index === state.active ? " active" : "");
            tab.dataset.index = index;
            if (index === state.entry) { const e = document.createElement("span"); e.className = "entry"; e.textContent = "▶"; e.title = "entry file"; tab.appendChild(e); }
            tab.appendChild(document.createTextNode(file.path));
            if (state.files.length > 1) {
              const close = document.createElement("span"); close.className = "close"; close.textContent = "×"; close.title = "remove file";
              close.onclick = (ev) => { ev.stopPropagation(); removeFile(index); };
              tab.appendChild(close);
            }
            tab.onclick = () => selectFile(index);
            tab.ondblclick = () => renameFile(index);
            tab.oncontextmenu = (ev) => { ev.preventDefault(); state.entry = index; renderTabs(); };
            tabs.appendChild(tab);
          });
          const add = document.createElement("button"); add.id = "add-file"; add.textContent = "+"; add.title = "new file";
          add.onclick = addFile; tabs.appendChild(add);
        }
        function selectFile(index) { saveEditor(); state.active = index; $("editor").value = state.files[index].content; renderTabs(); updateGutter(); $("editor").focus(); }
        function addFile() {
          saveEditor();
          const lang = currentLanguage();
          const ext = lang && lang.extensions.length ? lang.extensions[0] : ".txt";
          let name = prompt("File name", "file" + (state.files.length + 1) + ext);
          if (!name) return;
          name = name.trim();
          if (state.files.some(f => f.path === name)) { alert("a file named " + name + " exists"); return; }
          state.files.push({ path: name, content: "" }); selectFile(state.files.length - 1);
        }
        function renameFile(index) {
          const name = prompt("Rename file", state.files[index].path);
          if (name && name.trim() && !state.files.some((f, i) => i !== index && f.path === name.trim())) { state.files[index].path = name.trim(); renderTabs(); }
        }
        function removeFile(index) {
          if (state.files.length <= 1) return;
          saveEditor(); state.files.splice(index, 1);
          if (state.entry >= state.files.length || state.entry === index) state.entry = 0; else if (state.entry > index) state.entry--;
          state.active = Math.min(state.active, state.files.length - 1); selectFile(state.active);
        }
        function loadExample() {
          const lang = currentLanguage(); if (!lang) return;
          const name = lang.exampleFile || ("main" + (lang.extensions[0] || ""));
          state.files = [{ path: name, content: lang.example || "" }]; state.active = 0; state.entry = 0;
          $("editor").value = state.files[0].content; renderTabs(); updateGutter();
        }

        /* ---------- editor: line numbers, tab indentation, Ctrl-Enter ---------- */
        function updateGutter() {
          const lines = $("editor").value.split("\n").length;
          let text = ""; for (let i = 1; i <= lines; i++) text += i + "\n";
          $("gutter").textContent = text; $("gutter").scrollTop = $("editor").scrollTop;
        }
        $("editor").addEventListener("input", () => { saveEditor(); updateGutter(); });
        $("editor").addEventListener("scroll", () => { $("gutter").scrollTop = $("editor").scrollTop; });
        $("editor").addEventListener("keydown", (ev) => {
          const ed = ev.target;
          if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); run(); return; }
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
            saveEditor(); updateGutter();
          } else if (ev.key === "Enter" && !ev.shiftKey) {
            // keep the current line's indentation
            ev.preventDefault();
            const start = ed.selectionStart, value = ed.value;
            const lineStart = value.lastIndexOf("\n", start - 1) + 1;
            let indent = value.slice(lineStart, start).match(/^[ \t]*/)[0];
            if (/[:{(\[]\s*$/.test(value.slice(lineStart, start))) indent += "    ";
            ed.value = value.slice(0, start) + "\n" + indent + value.slice(ed.selectionEnd);
            ed.selectionStart = ed.selectionEnd = start + 1 + indent.length;
            saveEditor(); updateGutter();
          }
        });

        /* ---------- connection ---------- */
        function send(message) {
          if (!state.ws || state.ws.readyState !== 1) { print("not connected to the server\n", "system"); return false; }
          state.ws.send(JSON.stringify(message)); return true;
        }
        function connect() {
          const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" + (token ? "?token=" + encodeURIComponent(token) : "");
          const ws = new WebSocket(url); state.ws = ws;
          ws.onopen = () => setStatus("connected");
          ws.onclose = (ev) => {
            setStatus("disconnected" + (ev.reason ? " (" + ev.reason + ")" : "") + " – reload to reconnect", "bad");
            runEnded(); state.kernelReady = false;
          };
          ws.onmessage = (ev) => { let m; try { m = JSON.parse(ev.data); } catch (e) { return; } handle(m); };
        }
        function handle(m) {
          switch (m.type) {
            case "hello": {
              state.languages = m.languages;
              const select = $("language"); select.textContent = "";
              for (const lang of m.languages) { const o = document.createElement("option"); o.value = lang.name; o.textContent = lang.displayName; select.appendChild(o); }
              const saved = params.get("lang"); if (saved && m.languages.some(l => l.name === saved)) select.value = saved;
              if (state.files.length === 0) loadExample();
              setStatus("ready"); break;
            }
            case "output":
              if (m.id === state.runId) print(m.data, m.stream); break;
            case "exit":
              if (m.id !== state.runId) break;
              if (m.status !== "ok" && m.message) print("\n" + m.message + "\n", "system");
              setStatus((m.status === "ok" ? "exit 0" : m.status + (m.code != null ? " (exit " + m.code + ")" : "")) + " · " + Math.round(m.timing.totalMs) + " ms", m.status === "ok" ? "ok" : "bad");
              runEnded(); break;
            case "error":
              print((m.code ? "[" + m.code + "] " : "") + m.message + "\n", "system");
              if (m.id && m.id === state.runId) { runEnded(); setStatus("error", "bad"); }
              else if (state.kernelBusy || (state.kernel && !state.kernelReady)) { state.kernelBusy = false; updateButtons(); }
              break;
            case "kernel.started": state.kernelReady = true; setStatus(m.language + " kernel ready", "ok"); print("[kernel started: " + m.language + "]\n", "system"); updateButtons(); break;
            case "kernel.output": print(m.data, m.stream); break;
            case "kernel.display": print("[" + m.mime + " output]\n", "system"); break;
            case "kernel.result":
              state.kernelBusy = false;
              setStatus("cell " + m.cell + ": " + m.status + " · " + Math.round(m.wallMs) + " ms", m.status === "ok" ? "ok" : "bad");
              if (m.status !== "ok" && m.status !== "error") print("[" + m.status + "]\n", "system");
              updateButtons(); break;
            case "kernel.exited": state.kernelBusy = false; print("[kernel exited: " + m.reason + "]\n", "system"); updateButtons(); break;
            case "kernel.restarted": print("[kernel restarted]\n", "system"); break;
            case "kernel.shutdown": state.kernelReady = false; state.kernelBusy = false; updateButtons(); break;
          }
        }

        /* ---------- run, stop, input ---------- */
        function updateButtons() {
          const running = state.runId !== null || state.kernelBusy;
          $("run").disabled = running || (state.kernel && !state.kernelReady);
          $("stop").disabled = !running;
          const inputOpen = state.runId !== null || (state.kernel && state.kernelReady && !state.kernelBusy);
          $("stdin").disabled = !inputOpen; $("send").disabled = !inputOpen; $("eof").disabled = state.runId === null;
          $("stdin").placeholder = state.kernel ? "REPL: type a line of code (Enter runs it)" : "input for the running program (Enter sends)";
        }
        function runEnded() { state.runId = null; updateButtons(); }
        function run() {
          saveEditor();
          if (state.kernel) {
            if (!state.kernelReady || state.kernelBusy) return;
            const code = $("editor").value;
            print(">>> " + code.split("\n").join("\n... ") + "\n", "prompt");
            state.kernelBusy = true; updateButtons(); setStatus("running cell…");
            send({ type: "kernel.execute", code: code, cell: ++state.cellCounter }); return;
          }
          if (state.runId !== null) return;
          const lang = currentLanguage(); if (!lang) return;
          const id = "run-" + (++state.runCounter);
          $("console").textContent = "";
          if (!send({ type: "run", id: id, language: lang.name, entry: state.files[state.entry].path, files: state.files.map(f => ({ path: f.path, content: f.content })) })) return;
          state.runId = id; setStatus("running…"); updateButtons(); $("stdin").focus();
        }
        function stop() {
          if (state.kernel && state.kernelBusy) { send({ type: "kernel.interrupt" }); return; }
          if (state.runId !== null) send({ type: "stop", id: state.runId });
        }
        function sendInput() {
          const line = $("stdin").value; $("stdin").value = "";
          if (state.kernel) {
            if (!state.kernelReady || state.kernelBusy) return;
            print(">>> " + line + "\n", "prompt"); state.kernelBusy = true; updateButtons();
            send({ type: "kernel.execute", code: line, cell: ++state.cellCounter }); setTimeout(() => $("stdin").focus(), 0); return;
          }
          if (state.runId === null) return;
          print(line + "\n", "stdin");
          send({ type: "input", id: state.runId, data: line + "\n" });
        }
        $("run").onclick = run;
        $("stop").onclick = stop;
        $("send").onclick = sendInput;
        $("eof").onclick = () => { if (state.runId !== null) send({ type: "input", id: state.runId, eof: true }); };
        $("stdin").addEventListener("keydown", (ev) => {
          if (ev.key === "Enter") { ev.preventDefault(); sendInput(); }
          else if (ev.key === "d" && ev.ctrlKey) { ev.preventDefault(); $("eof").click(); }
        });
        $("clear").onclick = () => { $("console").textContent = ""; };
        $("language").onchange = () => {
          const lang = currentLanguage();
          const untouched = state.files.length === 1 && state.languages.some(l => l.example === state.files[0].content);
          if (untouched || confirm("Replace the files with the " + lang.displayName + " example?")) loadExample();
          if (state.kernel) startKernel();
        };
        function startKernel() {
          const lang = currentLanguage();
          if (!lang.kernel) { print("[" + lang.displayName + " has no REPL kernel]\n", "system"); $("repl").checked = false; state.kernel = false; updateButtons(); return; }
          state.kernelReady = false; state.kernelBusy = false; updateButtons(); setStatus("starting " + lang.name + " kernel…");
          send({ type: "kernel.start", language: lang.name, files: state.files.filter((f, i) => i !== state.entry).map(f => ({ path: f.path, content: f.content })) });
        }
        $("repl").onchange = () => {
          state.kernel = $("repl").checked;
          if (state.kernel) startKernel(); else { send({ type: "kernel.shutdown" }); state.kernelReady = false; setStatus("ready"); }
          updateButtons();
        };
        document.addEventListener("keydown", (ev) => { if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter" && ev.target.id !== "editor") { ev.preventDefault(); run(); } });
        renderTabs(); updateButtons(); connect();
        </script>
        </body>
        </html>
        """#
}
