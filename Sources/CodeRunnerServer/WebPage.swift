/// The web page at `/`: a small IDE in one self-contained HTML document (no CDN, no build step; it works offline) that
/// speaks the native protocol on `/ws`. A token given as `/?token=T` is passed on to the WebSocket and the vendor files.
///
/// The editor is Debian's CodeMirror 5 (`libjs-codemirror`, served read-only by ``VendorFiles`` from
/// `/usr/share/javascript/codemirror`); when that package is missing the page keeps its own plain textarea editor
/// (line numbers, tab indentation, auto-indent) and says so in a small notice. The console is the page's own: ANSI SGR
/// colours, stderr in its own colour, terminal-like line input with local echo, Ctrl-C to stop.
/// The parts: ``style`` (CSS), ``scriptCore`` (connection, runs, REPL), ``scriptConsole`` (ANSI console and line
/// input), ``scriptEditor`` (CodeMirror or the plain editor), ``scriptFiles`` (tree, upload, download, `.tar`, storage),
/// ``scriptNotebook`` (`.ipynb` files as cells on the kernel), ``scriptComplete`` (Tab completion in the REPL),
/// ``scriptOperator`` (the operator view, `/#operator`).
enum WebPage {
    /// The page, told which vendor packages the server can serve right now (checked per request, so installing
    /// `libjs-codemirror` needs no restart).
    static func html(codemirror: Bool) -> String {
        let vendor = "{\"codemirror\": \(codemirror ? "true" : "false")}"
        return head + "<style>\n" + style + operatorStyle + "</style>\n</head>\n" + body + operatorBody
            + "<script>\n\"use strict\";\nconst VENDOR = " + vendor + ";\n" + scriptCore + scriptConsole + scriptEditor + scriptFiles
            + scriptNotebook + scriptComplete + scriptOperator + scriptStart + "</script>\n</body>\n</html>\n"
    }

    /// Whether Debian's CodeMirror is installed where ``VendorFiles`` serves it from.
    static var codemirrorInstalled: Bool {
        VendorFiles.packages["codemirror"].map { VendorFiles.resolve(root: $0, relative: "lib/codemirror.js") != nil } ?? false
    }

    static let head = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>coderunner</title>
        <link rel="icon" id="favicon" type="image/svg+xml">
        <script>
        (function () { const t = new URLSearchParams(location.search).get("token");
          document.getElementById("favicon").href = "/favicon.ico" + (t ? "?token=" + encodeURIComponent(t) : ""); })();
        </script>

        """#

    static let body = #"""
        <body>
        <header>
          <h1>coderunner</h1>
          <button id="toggle-tree" aria-controls="tree" aria-expanded="false" title="Show or hide the files (Alt-1)">&#9776; Files</button>
          <select id="language" title="Language" aria-label="Language"></select>
          <button id="run" title="Run (Ctrl-Enter)">&#9654; Run</button>
          <button id="stop" disabled title="Stop the running program (Ctrl-C in the console)">&#9632; Stop</button>
          <label title="Run code on a persistent interpreter: state survives between runs"><input type="checkbox" id="repl"> REPL</label>
          <button id="clear" title="Clear the console (Ctrl-L in the console)">Clear</button>
          <button id="operator-toggle" aria-pressed="false" aria-controls="operator" title="The operator view: live sessions, pool, runs, recent errors (/#operator)">Operator</button>
          <button id="new-project" title="Start a new project from the language's example (the current one is discarded)">New project</button>
          <span class="help-wrap">
            <button id="help" aria-describedby="help-text" aria-label="Keyboard shortcuts">?</button>
            <div id="help-text" role="tooltip">
              <dl>
                <dt>Ctrl-Enter</dt><dd>run (anywhere)</dd>
                <dt>Ctrl-C</dt><dd>stop (in the console or input line, nothing selected)</dd>
                <dt>Ctrl-D</dt><dd>end of input (EOF)</dd>
                <dt>Ctrl-L</dt><dd>clear the console (in the console)</dd>
                <dt>Alt-1 / 2 / 3</dt><dd>focus the files / editor / console</dd>
                <dt>Esc</dt><dd>leave the editor (Tab then moves on)</dd>
                <dt>Tab / Shift-Tab</dt><dd>indent / dedent in the editor</dd>
                <dt>Tab</dt><dd>complete a name in the REPL (console or input line); &uarr; &darr; Enter Esc in the list</dd>
                <dt>Ctrl-F, Ctrl-G</dt><dd>find, find next (editor)</dd>
                <dt>Shift-Ctrl-F</dt><dd>replace (editor)</dd>
                <dt>Alt-G</dt><dd>jump to line (editor)</dd>
                <dt>Ctrl-/</dt><dd>comment lines (editor)</dd>
                <dt>&uarr; &darr; Enter</dt><dd>move and open in the file tree</dd>
                <dt>F2 / Delete</dt><dd>rename / delete in the file tree</dd>
                <dt>Shift-Enter</dt><dd>run a notebook cell, go to the next</dd>
              </dl>
            </div>
          </span>
          <span id="status" role="status">connecting…</span>
        </header>
        <main>
          <nav id="tree" aria-label="Project files">
            <div class="tree-bar" role="toolbar" aria-label="File actions">
              <button id="new-file" title="New file in the selected folder">+ File</button>
              <button id="new-folder" title="New folder in the selected folder">+ Folder</button>
              <button id="rename" title="Rename or move the selected file or folder (F2)">Rename</button>
              <button id="delete" title="Delete the selected file or folder (Delete)">Delete</button>
              <button id="set-entry" title="Make the selected file the entry file (the one that runs)">&#9654; Entry</button>
              <button id="upload" title="Upload files into the selected folder (.ipynb opens as a notebook)">Upload</button>
              <input type="file" id="upload-input" multiple hidden>
              <button id="download-file" title="Download the current file">&#8595; File</button>
              <button id="download-tar" title="Download the whole project as a .tar">&#8595; .tar</button>
            </div>
            <div id="tree-list" role="tree" aria-label="Files and folders"></div>
          </nav>
          <section id="left" aria-label="Editor">
            <div id="file-bar"><span id="current-path"></span><span id="notice" role="note"></span></div>
            <div id="editor-wrap">
              <div id="gutter" aria-hidden="true">1</div>
              <textarea id="editor" spellcheck="false" autocapitalize="off" autocomplete="off" wrap="off" aria-label="Code editor"></textarea>
            </div>
            <div id="notebook" aria-label="Notebook">
              <div class="nb-bar" role="toolbar" aria-label="Notebook actions">
                <button id="nb-run-all" title="Run every code cell in order (Run, Ctrl-Enter)">&#9654;&#9654; Run all</button>
                <button id="nb-add-code" title="Add a code cell at the end">+ Code</button>
                <button id="nb-add-text" title="Add a text (markdown) cell at the end">+ Text</button>
                <button id="nb-clear" title="Clear every output">Clear outputs</button>
                <button id="nb-restart" title="Restart the kernel (its state is lost)">Restart kernel</button>
                <span id="nb-kernel"></span>
              </div>
              <div id="nb-cells"></div>
            </div>
            <div class="hint">Ctrl-Enter runs · Esc leaves the editor · ? lists the shortcuts</div>
          </section>
          <section id="right" aria-label="Console">
            <div id="console" tabindex="0" role="log" aria-live="polite" aria-label="Console: type to answer the program, Enter sends, Ctrl-C stops"></div>
            <div class="bar">
              <input type="text" id="stdin" placeholder="input for the running program (Enter sends)" autocomplete="off" aria-label="Input line" disabled>
              <button id="send" disabled>Send</button>
              <button id="eof" disabled title="Close the program's stdin (Ctrl-D)">EOF</button>
            </div>
            <ul id="completions" role="listbox" aria-label="Completions" hidden></ul>
          </section>
        </main>

        """#

    static let scriptStart = #"""
        window.ide = { state, editor, makeTar, saveProject, writeStream, nb, syncEditor };
        renderTree(); updateButtons(); connect(); loadCodeMirror();

        """#
}
