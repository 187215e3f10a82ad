extension WebPage {
    /// Notebooks: an `.ipynb` file of the project opens as cells (CodeMirror per code cell, or a textarea without it)
    /// that run on the session's kernel (`kernel.start`, `kernel.execute` with the cell's id as `cell`, then
    /// `kernel.output`, `kernel.display` images inline, `kernel.result`), and is written back as nbformat 4.5 with
    /// outputs, execution counts and images whenever it changes (so "↓ File" downloads it).
    static let scriptNotebook = #"""
        /* ---------- notebooks (.ipynb) ---------- */
        const nb = { path: null, doc: null, cells: [], queue: [], running: null, owns: false, starting: false, ready: false, language: null };
        const isNotebook = (path) => /\.ipynb$/i.test(path || "");
        const joinSource = (s) => Array.isArray(s) ? s.join("") : String(s || "");
        const splitLines = (text) => text ? text.match(/[^\n]*\n|[^\n]+$/g) : [];
        /* What a terminal would show of each line: the text after its last carriage return (progress bars). */
        const collapseCarriageReturns = (text) => text.replace(/\r\n/g, "\n").split("\n").map(line => {
          const shown = line.replace(/\r+$/, ""); return shown.slice(shown.lastIndexOf("\r") + 1); }).join("\n");
        const stripAnsi = (text) => String(text).replace(/\x1b(?:\[[0-?]*[ -\/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g, "");
        const newCellId = () => Math.random().toString(16).slice(2, 10) + Math.random().toString(16).slice(2, 6);
        function emptyNotebook() {
          return { cells: [{ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source: [] }], metadata: {
            kernelspec: { name: "python3", display_name: "Python 3", language: "python" }, language_info: { name: "python" } }, nbformat: 4, nbformat_minor: 5 };
        }
        /* Opens the file as a notebook; false when it is not one (then it opens in the editor). */
        function showNotebook(file) {
          let doc;
          try { doc = file.content.trim() ? JSON.parse(file.content) : emptyNotebook(); } catch (e) { return false; }
          if (!doc || !Array.isArray(doc.cells)) return false;
          nb.path = file.path; nb.doc = doc; nb.queue = [];
          const meta = doc.metadata || {};
          nb.language = (meta.kernelspec && meta.kernelspec.language) || (meta.language_info && meta.language_info.name) || "python";
          $("nb-cells").textContent = ""; nb.cells = [];
          $("left").classList.add("nb-open");  // before the cells: a CodeMirror made in a hidden element shows nothing
          for (const cell of doc.cells) addCell(cell, null);
          $("nb-kernel").textContent = nb.language + " kernel";
          return true;
        }
        function hideNotebook() {
          if (!nb.path) return;
          nb.path = null; nb.doc = null; nb.cells = []; nb.queue = []; $("nb-cells").textContent = "";
          $("left").classList.remove("nb-open"); if (editor.cm) setTimeout(() => editor.cm.refresh(), 0);
        }
        function cellText(c) { return c.cm ? c.cm.getValue() : c.input.value; }
        function addCell(cell, after) {
          if (!cell.id) cell.id = newCellId();
          if (!cell.metadata) cell.metadata = {};
          const c = { cell: cell, el: document.createElement("div"), out: document.createElement("div"), count: document.createElement("span") };
          c.el.className = "nb-cell " + (cell.cell_type === "code" ? "code" : "text"); c.el.dataset.id = cell.id;
          const side = document.createElement("div"); side.className = "nb-side";
          if (cell.cell_type === "code") {
            const run = document.createElement("button"); run.className = "nb-run"; run.textContent = "▶"; run.title = "Run the cell (Shift-Enter)";
            run.onclick = () => queueCells([c]); side.append(run, c.count);
          }
          const del = document.createElement("button"); del.className = "nb-del"; del.textContent = "×"; del.title = "Delete the cell";
          del.onclick = () => { if (nb.cells.length > 1) { nb.cells.splice(nb.cells.indexOf(c), 1); c.el.remove(); notebookChanged(); } };
          side.appendChild(del);
          const main = document.createElement("div"); main.className = "nb-main";
          const src = document.createElement("div"); src.className = "nb-src"; main.append(src, c.out); c.out.className = "nb-out";
          c.el.append(side, main);
          const index = after ? nb.cells.indexOf(after) + 1 : nb.cells.length;
          nb.cells.splice(index, 0, c);
          $("nb-cells").insertBefore(c.el, after ? after.el.nextSibling : null);
          const text = joinSource(cell.source);
          if (window.CodeMirror && editor.cm) {
            c.cm = CodeMirror(src, { value: text, mode: cell.cell_type === "code" ? nb.language : null, lineWrapping: cell.cell_type !== "code",
              indentUnit: 4, matchBrackets: true, viewportMargin: Infinity, theme: "material-darker",
              extraKeys: { "Shift-Enter": () => runAndNext(c), "Ctrl-Enter": () => queueCells([c]), "Esc": () => c.el.querySelector("button").focus(),
                "Tab": (cm) => { if (cm.somethingSelected()) cm.indentSelection("add"); else if (!completeCell(cm)) cm.execCommand("insertSoftTab"); } } });
            c.cm.getInputField().setAttribute("aria-label", cell.cell_type + " cell");
            c.cm.on("change", notebookChanged);
          } else {
            c.input = document.createElement("textarea"); c.input.value = text; c.input.rows = Math.max(2, text.split("\n").length);
            c.input.spellcheck = false; c.input.setAttribute("aria-label", cell.cell_type + " cell"); src.appendChild(c.input);
            c.input.addEventListener("input", notebookChanged);
            c.input.addEventListener("keydown", (ev) => {
              if (ev.key === "Enter" && (ev.shiftKey || ev.ctrlKey)) { ev.preventDefault(); if (ev.shiftKey) runAndNext(c); else queueCells([c]); }
            });
          }
          renderOutputs(c);
          return c;
        }
        function runAndNext(c) {
          queueCells([c]);
          const next = nb.cells[nb.cells.indexOf(c) + 1] || addCell({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source: [] }, c);
          if (next.cm) next.cm.focus(); else next.input.focus();
        }
        function renderOutputs(c) {
          const cell = c.cell; c.out.textContent = "";
          if (cell.cell_type !== "code") return;
          c.count.className = "nb-count"; c.count.textContent = "[" + (nb.running === c ? "*" : cell.execution_count == null ? " " : cell.execution_count) + "]";
          for (const o of cell.outputs || []) {
            const data = o.data || {};
            if (o.output_type === "stream") { const pre = document.createElement("pre"); pre.className = o.name === "stderr" ? "stderr" : "stdout"; pre.textContent = collapseCarriageReturns(stripAnsi(joinSource(o.text))); c.out.appendChild(pre); }
            else if (data["image/png"] || data["image/jpeg"]) {
              const mime = data["image/png"] ? "image/png" : "image/jpeg"; const img = document.createElement("img");
              img.src = "data:" + mime + ";base64," + joinSource(data[mime]).replace(/\s/g, ""); img.alt = "output image"; c.out.appendChild(img);
            } else if (o.output_type === "error") { const pre = document.createElement("pre"); pre.className = "stderr"; pre.textContent = stripAnsi((o.traceback || []).join("\n")); c.out.appendChild(pre); }
            else if (data["text/plain"] !== undefined) { const pre = document.createElement("pre"); pre.className = "stdout"; pre.textContent = joinSource(data["text/plain"]); c.out.appendChild(pre); }
          }
        }
        /* The notebook as nbformat 4.5 JSON: sources as lists of lines, every cell with an id. */
        function notebookJSON() {
          const doc = nb.doc;
          doc.cells = nb.cells.map(c => {
            const cell = c.cell; cell.source = splitLines(cellText(c));
            if (cell.cell_type === "code") { if (!Array.isArray(cell.outputs)) cell.outputs = []; if (cell.execution_count === undefined) cell.execution_count = null; }
            else { delete cell.outputs; delete cell.execution_count; }
            return cell;
          });
          doc.nbformat = 4; doc.nbformat_minor = Math.max(5, doc.nbformat_minor || 0); if (!doc.metadata) doc.metadata = {};
          return JSON.stringify(doc, null, 1) + "\n";
        }
        function notebookChanged() { clearTimeout(nb.timer); nb.timer = setTimeout(syncEditor, 300); }
        function queueCells(cells) {
          for (const c of cells) if (c.cell.cell_type === "code" && !nb.queue.includes(c) && nb.running !== c) nb.queue.push(c);
          nextCell();
        }
        function nextCell() {
          if (nb.running || nb.queue.length === 0 || !nb.path) return;
          if (!nb.owns || !nb.ready) {
            if (nb.starting) return;
            nb.owns = true; nb.starting = true; nb.ready = false; state.kernel = false; $("repl").checked = false;
            $("nb-kernel").textContent = "starting the " + nb.language + " kernel…";
            send({ type: "kernel.start", language: nb.language, files: state.files.filter(f => !isNotebook(f.path) && !f.encoding).map(f => ({ path: f.path, content: f.content })) });
            return;
          }
          const c = nb.queue.shift(); nb.running = c;
          c.cell.outputs = []; renderOutputs(c);
          state.kernelBusy = true; updateButtons(); setStatus("running a cell…");
          send({ type: "kernel.execute", code: cellText(c), cell: c.cell.id });
        }
        function addOutput(c, output) {
          const outs = c.cell.outputs, last = outs[outs.length - 1];
          if (output.output_type === "stream" && last && last.output_type === "stream" && last.name === output.name) last.text = joinSource(last.text) + output.text;
          else outs.push(output);
          renderOutputs(c);
        }
        /* Kernel messages while the notebook owns the kernel; false leaves them to the REPL console. */
        function notebookHandles(m) {
          if (!nb.owns) return false;
          const c = nb.running;
          switch (m.type) {
            case "kernel.started": nb.starting = false; nb.ready = true; $("nb-kernel").textContent = m.language + " kernel ready"; setStatus(m.language + " kernel ready", "ok"); nextCell(); return true;
            case "kernel.output": if (c) addOutput(c, { output_type: "stream", name: m.stream === "stderr" ? "stderr" : "stdout", text: m.data }); return true;
            case "kernel.display":
              if (c) {
                const data = {}; data[m.mime] = m.data;
                if (/json$/.test(m.mime)) { try { data[m.mime] = JSON.parse(m.data); } catch (e) { data[m.mime] = {}; } }
                if (data["text/plain"] === undefined) data["text/plain"] = "<" + m.mime + ">";
                addOutput(c, { output_type: "display_data", data: data, metadata: {} });
              }
              return true;
            case "kernel.result":
              if (c && m.ref === c.cell.id) {
                nb.running = null; c.cell.execution_count = m.cell;
                if (m.status !== "ok" && m.status !== "error") addOutput(c, { output_type: "stream", name: "stderr", text: "[" + m.status + "]\n" });
                if (m.status !== "ok") nb.queue = [];
                renderOutputs(c); syncEditor();
              }
              state.kernelBusy = false; updateButtons();
              setStatus("cell [" + m.cell + "]: " + m.status + " · " + Math.round(m.wallMs) + " ms", m.status === "ok" ? "ok" : "bad");
              nextCell(); return true;
            case "kernel.exited": nb.ready = false; nbFailed("[kernel exited: " + m.reason + "]\n"); return true;
            case "kernel.shutdown": if (!nb.starting) { nb.ready = false; nb.owns = false; } return true;
            case "kernel.restarted": $("nb-kernel").textContent = nb.language + " kernel restarted"; return true;
            case "kernel.interrupted": return true;
          }
          return false;
        }
        function nbFailed(text) {
          const c = nb.running; nb.running = null; nb.queue = []; nb.starting = false;
          if (c) { addOutput(c, { output_type: "stream", name: "stderr", text: text }); syncEditor(); }
          state.kernelBusy = false; updateButtons();
        }
        $("nb-run-all").onclick = () => queueCells(nb.cells);
        $("nb-add-code").onclick = () => { const c = addCell({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source: [] }, nb.cells[nb.cells.length - 1]); notebookChanged(); if (c.cm) c.cm.focus(); else c.input.focus(); };
        $("nb-add-text").onclick = () => { const c = addCell({ cell_type: "markdown", metadata: {}, source: [] }, nb.cells[nb.cells.length - 1]); notebookChanged(); if (c.cm) c.cm.focus(); else c.input.focus(); };
        $("nb-clear").onclick = () => { for (const c of nb.cells) if (c.cell.cell_type === "code") { c.cell.outputs = []; c.cell.execution_count = null; renderOutputs(c); } syncEditor(); };
        $("nb-restart").onclick = () => { if (nb.owns && nb.ready && !nb.running) send({ type: "kernel.restart" }); };

        """#
}
