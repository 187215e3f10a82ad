extension WebPage {
    /// The page's core script: state, the `/ws` connection, runs (stop, input) and the REPL kernel.
    static let scriptCore = #"""
        const $ = (id) => document.getElementById(id);
        const params = new URLSearchParams(location.search);
        const token = params.get("token");
        const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
        const state = {
          languages: [], language: null, files: [], folders: [], entry: null, active: null, selected: null,
          runId: null, runCounter: 0, ws: null, kernel: false, kernelReady: false, kernelBusy: false, cellCounter: 0,
          line: "", restored: false
        };

        function setStatus(text, cls) { const s = $("status"); s.textContent = text; s.className = cls || ""; }
        function currentLanguage() { return state.languages.find(l => l.name === $("language").value); }
        function fileAt(path) { return state.files.find(f => f.path === path); }

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
          if (m.type === "kernel.completions") { completionsArrived(m); return; }
          if (m.type.startsWith("kernel.") && notebookHandles(m)) return;
          switch (m.type) {
            case "hello": {
              state.languages = m.languages; state.session = m.session;
              const select = $("language"); select.textContent = "";
              for (const lang of m.languages) { const o = document.createElement("option"); o.value = lang.name; o.textContent = lang.displayName; select.appendChild(o); }
              if (!state.restored) {
                state.restored = true;
                if (!restoreProject()) {
                  const wanted = params.get("lang"); if (wanted && m.languages.some(l => l.name === wanted)) select.value = wanted;
                  loadExample();
                }
              }
              if (state.language) select.value = state.language;
              setStatus("ready"); break;
            }
            case "output":
              if (m.id === state.runId) writeStream(m.stream, m.data); break;
            case "exit":
              if (m.id !== state.runId) break;
              flushStreams();
              if (m.status !== "ok" && m.message) print("\n" + m.message + "\n", "system");
              setStatus((m.status === "ok" ? "exit 0" : m.status + (m.code != null ? " (exit " + m.code + ")" : "")) + " · " + Math.round(m.timing.totalMs) + " ms", m.status === "ok" ? "ok" : "bad");
              runEnded(); break;
            case "error":
              if (nb.owns && (nb.running || nb.starting) && !m.id) { nbFailed("[" + m.code + "] " + m.message + "\n"); break; }
              print((m.code ? "[" + m.code + "] " : "") + m.message + "\n", "system");
              if (m.id && m.id === state.runId) { runEnded(); setStatus("error", "bad"); }
              else if (state.kernelBusy || (state.kernel && !state.kernelReady)) { state.kernelBusy = false; updateButtons(); }
              break;
            case "kernel.started": state.kernelReady = true; setStatus(m.language + " kernel ready", "ok"); print("[kernel started: " + m.language + "]\n", "system"); updateButtons(); break;
            case "kernel.output": writeStream(m.stream, m.data); break;
            case "kernel.display": showDisplay(m); break;
            case "kernel.result":
              flushStreams(); state.kernelBusy = false;
              setStatus("cell " + m.cell + ": " + m.status + " · " + Math.round(m.wallMs) + " ms", m.status === "ok" ? "ok" : "bad");
              if (m.status !== "ok" && m.status !== "error") print("[" + m.status + "]\n", "system");
              updateButtons(); break;
            case "kernel.exited": state.kernelBusy = false; print("[kernel exited: " + m.reason + "]\n", "system"); updateButtons(); break;
            case "kernel.restarted": print("[kernel restarted]\n", "system"); break;
            case "kernel.shutdown": state.kernelReady = false; state.kernelBusy = false; updateButtons(); break;
          }
        }
        function showDisplay(m) {
          if (/^image\/(png|jpeg|gif)$/.test(m.mime)) {
            const img = document.createElement("img"); img.src = "data:" + m.mime + ";base64," + m.data; img.alt = "cell " + m.cell + " image";
            appendNode(img);
          } else if (m.mime === "image/svg+xml") {
            const img = document.createElement("img"); img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(m.data); img.alt = "cell " + m.cell + " image";
            appendNode(img);
          } else if (m.mime.startsWith("text/") && m.mime !== "text/html") { print(String(m.data).replace(/\n?$/, "\n"), "stdout"); }
          else print("[" + m.mime + " output]\n", "system");
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
        function executeCell(code, echo) {
          if (!state.kernelReady || state.kernelBusy) return;
          print(">>> " + echo.split("\n").join("\n... ") + "\n", "prompt");
          state.kernelBusy = true; updateButtons(); setStatus("running cell…");
          send({ type: "kernel.execute", code: code, cell: ++state.cellCounter });
        }
        function run() {
          syncEditor();
          if (nb.path) { queueCells(nb.cells); return; }
          if (state.kernel) { executeCell(editor.value, editor.value); return; }
          if (state.runId !== null) return;
          const lang = currentLanguage(); if (!lang) return;
          if (!fileAt(state.entry)) { print("no entry file: select a file and press ▶ Entry\n", "system"); return; }
          const id = "run-" + (++state.runCounter);
          clearConsole();
          const files = state.files.map(f => f.encoding ? { path: f.path, content: f.content, encoding: f.encoding } : { path: f.path, content: f.content });
          if (!send({ type: "run", id: id, language: lang.name, entry: state.entry, files: files })) return;
          state.runId = id; setStatus("running…"); updateButtons(); $("console").focus();
        }
        function stop() {
          if (state.kernelBusy) { send({ type: "kernel.interrupt" }); return; }
          if (state.runId !== null) send({ type: "stop", id: state.runId });
        }
        function sendEOF() { if (state.runId !== null) { print("^D\n", "prompt"); send({ type: "input", id: state.runId, eof: true }); } }
        /* A line typed in the console or the input line: the program's input, or a REPL cell. */
        function submitLine(line) {
          if (state.kernel) { if (state.kernelReady && !state.kernelBusy) executeCell(line, line); return; }
          if (state.runId === null) return;
          print(line + "\n", "stdin");
          send({ type: "input", id: state.runId, data: line + "\n" });
        }
        function sendInput() {
          const line = $("stdin").value; $("stdin").value = "";
          submitLine(line);
          if (state.kernel) setTimeout(() => $("stdin").focus(), 0);
        }
        $("run").onclick = run;
        $("stop").onclick = stop;
        $("send").onclick = sendInput;
        $("eof").onclick = sendEOF;
        $("stdin").addEventListener("keydown", (ev) => {
          const el = ev.target;
          if (ev.key === "Enter" && !ev.ctrlKey) { ev.preventDefault(); sendInput(); }
          else if (ev.key === "d" && ev.ctrlKey) { ev.preventDefault(); sendEOF(); }
          else if (ev.key === "c" && ev.ctrlKey && el.selectionStart === el.selectionEnd) { ev.preventDefault(); print("^C\n", "prompt"); stop(); }
        });
        $("clear").onclick = clearConsole;
        $("language").onchange = () => {
          const lang = currentLanguage();
          const untouched = state.files.length === 1 && state.languages.some(l => l.example === state.files[0].content);
          if (untouched || confirm("Replace the files with the " + lang.displayName + " example?")) loadExample();
          state.language = lang.name; saveProject();
          if (state.kernel) startKernel();
        };
        function startKernel() {
          const lang = currentLanguage();
          if (!lang.kernel) { print("[" + lang.displayName + " has no REPL kernel]\n", "system"); $("repl").checked = false; state.kernel = false; updateButtons(); return; }
          nb.owns = false; nb.ready = false;
          state.kernelReady = false; state.kernelBusy = false; updateButtons(); setStatus("starting " + lang.name + " kernel…");
          send({ type: "kernel.start", language: lang.name, files: state.files.filter(f => f.path !== state.entry).map(f => ({ path: f.path, content: f.content })) });
        }
        $("repl").onchange = () => {
          state.kernel = $("repl").checked;
          if (state.kernel) startKernel(); else { send({ type: "kernel.shutdown" }); state.kernelReady = false; setStatus("ready"); }
          updateButtons();
        };
        $("help").onclick = () => $("help-text").classList.toggle("open");
        $("help").onkeydown = (ev) => { if (ev.key === "Escape") $("help-text").classList.remove("open"); };
        $("toggle-tree").onclick = () => {
          const open = document.body.classList.toggle("tree-open");
          $("toggle-tree").setAttribute("aria-expanded", String(open));
          if (open) focusTree();
        };
        document.addEventListener("keydown", (ev) => {
          if (ev.defaultPrevented) return;
          if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") { ev.preventDefault(); run(); return; }
          if (ev.altKey && !ev.ctrlKey && ["1", "2", "3"].includes(ev.key)) {
            ev.preventDefault();
            if (ev.key === "1") { if (!document.body.classList.contains("tree-open") && getComputedStyle($("tree")).display === "none") $("toggle-tree").click(); else focusTree(); }
            else if (ev.key === "2") editor.focus(); else $("console").focus();
          }
        });

        """#
}
