extension WebPage {
    /// The console: output with ANSI SGR colours (16, 256 and RGB colours, bold, dim, italic, underline, inverse; other
    /// escape sequences dropped), stderr in its own colour, a carriage return starting the line again (progress bars),
    /// and a terminal-like line input with local echo (typing in the focused console; Enter sends the line, Backspace
    /// edits it, Ctrl-C stops, Ctrl-D closes stdin, Ctrl-L clears).
    /// Not xterm.js: Debian's `libjs-xterm` (3.8.1, bookworm) ships as `xterm.js` only a 288-byte CommonJS stub that
    /// requires `./public/Terminal`, which the package does not contain, so no `Terminal` exists in a browser.
    static let scriptConsole = #"""
        /* ---------- console: ANSI colours and line input ---------- */
        const PALETTE = ["#4d4d4d", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
                         "#808080", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff"];
        const streams = {};
        function streamState(name) { return streams[name] || (streams[name] = { pending: "", sgr: {} }); }
        function colour256(n) {
          if (n < 16) return PALETTE[n];
          if (n >= 232) { const v = 8 + (n - 232) * 10; return "rgb(" + v + "," + v + "," + v + ")"; }
          const i = n - 16, level = (x) => x === 0 ? 0 : 55 + x * 40;
          return "rgb(" + level(Math.floor(i / 36)) + "," + level(Math.floor(i / 6) % 6) + "," + level(i % 6) + ")";
        }
        function applySGR(sgr, text) {
          const codes = text === "" ? [0] : text.split(";").map(n => parseInt(n || "0", 10));
          for (let i = 0; i < codes.length; i++) {
            const c = codes[i];
            if (c === 0) { for (const k of Object.keys(sgr)) delete sgr[k]; }
            else if (c === 1) sgr.bold = true; else if (c === 2) sgr.dim = true; else if (c === 3) sgr.italic = true;
            else if (c === 4) sgr.underline = true; else if (c === 7) sgr.inverse = true; else if (c === 9) sgr.strike = true;
            else if (c === 22) { sgr.bold = false; sgr.dim = false; } else if (c === 23) sgr.italic = false;
            else if (c === 24) sgr.underline = false; else if (c === 27) sgr.inverse = false; else if (c === 29) sgr.strike = false;
            else if (c >= 30 && c <= 37) sgr.fg = PALETTE[c - 30]; else if (c >= 90 && c <= 97) sgr.fg = PALETTE[c - 82];
            else if (c >= 40 && c <= 47) sgr.bg = PALETTE[c - 40]; else if (c >= 100 && c <= 107) sgr.bg = PALETTE[c - 92];
            else if (c === 39) sgr.fg = null; else if (c === 49) sgr.bg = null;
            else if (c === 38 || c === 48) {
              let value = null;
              if (codes[i + 1] === 5 && codes[i + 2] !== undefined) { value = colour256(codes[i + 2] & 255); i += 2; }
              else if (codes[i + 1] === 2 && codes[i + 4] !== undefined) { value = "rgb(" + codes.slice(i + 2, i + 5).map(v => v & 255).join(",") + ")"; i += 4; }
              if (c === 38) sgr.fg = value; else sgr.bg = value;
            }
          }
        }
        function cssOf(sgr) {
          let fg = sgr.fg, bg = sgr.bg, css = "";
          if (sgr.inverse) { fg = bg || "var(--bg)"; bg = sgr.fg || "var(--text)"; }
          if (fg) css += "color:" + fg + ";"; if (bg) css += "background:" + bg + ";";
          if (sgr.bold) css += "font-weight:bold;"; if (sgr.dim) css += "opacity:.7;"; if (sgr.italic) css += "font-style:italic;";
          if (sgr.underline || sgr.strike) css += "text-decoration:" + (sgr.underline ? "underline " : "") + (sgr.strike ? "line-through" : "") + ";";
          return css;
        }
        const ESCAPE = /\x1b(?:\[([0-?]*)([ -\/]*)([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
        const COMPLETE = /^\x1b(?:\[[0-?]*[ -\/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/;
        /* Program output: colours from the escape sequences, held back when a sequence is split between messages. */
        function writeStream(stream, data) {
          const st = streamState(stream === "stderr" ? "stderr" : "stdout");
          let text = st.pending + data; st.pending = "";
          const esc = text.lastIndexOf("\x1b");
          if (esc >= 0 && text.length - esc < 64 && !COMPLETE.test(text.slice(esc))) { st.pending = text.slice(esc); text = text.slice(0, esc); }
          let last = 0, m; ESCAPE.lastIndex = 0;
          while ((m = ESCAPE.exec(text)) !== null) {
            emit(text.slice(last, m.index), stream, cssOf(st.sgr));
            if (m[3] === "m" && !m[2]) applySGR(st.sgr, m[1]);
            last = ESCAPE.lastIndex;
          }
          emit(text.slice(last), stream, cssOf(st.sgr));
        }
        function flushStreams() {
          for (const name of Object.keys(streams)) { const st = streams[name]; if (st.pending) { const p = st.pending; st.pending = ""; emit(p.replace(/\x1b/g, ""), name, cssOf(st.sgr)); } }
        }
        function pendingSpan() {
          let span = $("pending-line");
          if (!span) { span = document.createElement("span"); span.id = "pending-line"; span.className = "pending"; $("console").appendChild(span); }
          return span;
        }
        function appendNode(node) {
          const con = $("console");
          const atBottom = con.scrollHeight - con.scrollTop - con.clientHeight < 40;
          con.insertBefore(node, pendingSpan());
          if (atBottom) con.scrollTop = con.scrollHeight;
        }
        /* A carriage return (progress bars: "\r 40%") starts the current line again, as in a terminal: what the line
           shows so far goes. One that ends a chunk waits for the next, which may begin with the "\n" of a "\r\n". */
        const carriageReturnPending = {};
        function emit(text, cls, css) {
          if (carriageReturnPending[cls]) { carriageReturnPending[cls] = false; text = "\r" + text; }
          text = text.replace(/\r\n/g, "\n");
          if (text.endsWith("\r")) { carriageReturnPending[cls] = true; text = text.slice(0, -1); }
          const parts = text.split("\r");
          for (let i = 0; i < parts.length; i++) {
            if (i > 0) eraseCurrentLine();
            emitLine(parts[i], cls, css);
          }
        }
        function eraseCurrentLine() {
          let node = pendingSpan().previousSibling;
          while (node && node.nodeType === 1 && node.tagName === "SPAN") {
            const cut = node.textContent.lastIndexOf("\n");
            if (cut >= 0) { node.textContent = node.textContent.slice(0, cut + 1); return; }
            const before = node.previousSibling; node.remove(); node = before;
          }
        }
        function emitLine(text, cls, css) {
          if (!text) return;
          const last = pendingSpan().previousSibling;
          if (last && last.nodeType === 1 && last.tagName === "SPAN" && last.className === cls && (last.getAttribute("style") || "") === (css || "")) {
            last.textContent += text;
            const con = $("console"); if (con.scrollHeight - con.scrollTop - con.clientHeight < 80) con.scrollTop = con.scrollHeight;
            return;
          }
          const span = document.createElement("span"); span.className = cls; if (css) span.setAttribute("style", css); span.textContent = text;
          appendNode(span);
        }
        function print(text, cls) { emit(text, cls, ""); }
        function clearConsole() {
          $("console").textContent = "";
          for (const k of Object.keys(streams)) delete streams[k];
          renderPending();
        }
        function renderPending() { pendingSpan().textContent = state.line; }
        $("console").addEventListener("keydown", (ev) => {
          if (ev.ctrlKey && !ev.altKey && !ev.metaKey) {
            const key = ev.key.toLowerCase();
            if (key === "c" && !String(window.getSelection())) { ev.preventDefault(); print(state.line + "^C\n", "prompt"); state.line = ""; renderPending(); stop(); }
            else if (key === "d") { ev.preventDefault(); sendEOF(); }
            else if (key === "l") { ev.preventDefault(); clearConsole(); }
            else if (key === "u") { ev.preventDefault(); state.line = ""; renderPending(); }
            return;
          }
          if (ev.metaKey || ev.altKey) return;
          if (ev.key === "Enter") { ev.preventDefault(); const line = state.line; state.line = ""; renderPending(); submitLine(line); }
          else if (ev.key === "Backspace") { ev.preventDefault(); state.line = state.line.slice(0, -1); renderPending(); }
          else if (ev.key.length === 1) { ev.preventDefault(); state.line += ev.key; renderPending(); }
        });
        $("console").addEventListener("paste", (ev) => {
          ev.preventDefault();
          const lines = (state.line + (ev.clipboardData.getData("text") || "")).replace(/\r\n?/g, "\n").split("\n");
          state.line = lines.pop();
          for (const line of lines) submitLine(line);
          renderPending();
        });

        """#
}
