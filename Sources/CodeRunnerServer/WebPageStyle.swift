extension WebPage {
    /// The page's CSS: a dark IDE layout (file tree, editor, console) that stacks below 700px.
    static let style = #"""
        :root { --bg:#1e1f22; --panel:#26282c; --line:#3a3d42; --text:#e6e6e6; --dim:#9aa0a6; --accent:#4f8cff; --err:#ff6b6b; --ok:#5fd38d; --sys:#e5c07b; --sel:#2f3b55; }
        * { box-sizing: border-box; }
        html, body { height: 100%; margin: 0; background: var(--bg); color: var(--text); font: 14px/1.4 system-ui, sans-serif; }
        body { display: flex; flex-direction: column; }
        header { display: flex; gap: 6px; align-items: center; padding: 6px 10px; background: var(--panel); border-bottom: 1px solid var(--line); flex-wrap: wrap; }
        header h1 { font-size: 16px; margin: 0 8px 0 0; font-weight: 600; }
        button, select, input[type=text] { background: #33363b; color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 4px 9px; font: inherit; }
        button:hover:not(:disabled) { border-color: var(--accent); }
        button:disabled { opacity: .45; }
        :focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
        #run { background: #2c5bd1; border-color: #2c5bd1; }
        #status { margin-left: auto; color: var(--dim); font-size: 13px; }
        #status.ok { color: var(--ok); } #status.bad { color: var(--err); }
        label { color: var(--dim); display: flex; align-items: center; gap: 4px; }
        .help-wrap { position: relative; }
        #help { border-radius: 50%; width: 28px; padding: 4px 0; }
        #help-text { display: none; position: absolute; top: 110%; left: 0; z-index: 20; width: 330px; max-width: 90vw; background: #111214; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; font-size: 13px; box-shadow: 0 4px 16px #0008; }
        #help:hover + #help-text, #help:focus + #help-text, #help-text.open { display: block; }
        #help-text dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; }
        #help-text dt { font-family: ui-monospace, monospace; color: var(--sys); white-space: nowrap; }
        #help-text dd { margin: 0; }
        #toggle-tree { display: none; }
        main { flex: 1; display: flex; min-height: 0; }
        #tree { flex: 0 0 220px; display: flex; flex-direction: column; min-width: 0; border-right: 1px solid var(--line); background: var(--panel); }
        .tree-bar { display: flex; flex-wrap: wrap; gap: 3px; padding: 5px; border-bottom: 1px solid var(--line); }
        .tree-bar button { padding: 2px 6px; font-size: 12px; }
        #tree-list { flex: 1; overflow: auto; padding: 4px 0; font-size: 13px; }
        .node { display: flex; align-items: center; gap: 4px; padding: 2px 8px; cursor: pointer; white-space: nowrap; user-select: none; }
        .node:hover { background: #2d3035; }
        .node.selected { background: var(--sel); }
        .node.active .name { color: #fff; font-weight: 600; }
        .node .icon { width: 14px; color: var(--dim); text-align: center; }
        .node.folder .icon { color: var(--sys); }
        .node .entry { color: var(--ok); margin-left: auto; font-size: 11px; }
        #left { flex: 1 1 55%; display: flex; flex-direction: column; min-width: 0; border-right: 1px solid var(--line); }
        #right { flex: 1 1 40%; display: flex; flex-direction: column; min-width: 0; }
        #file-bar { display: flex; gap: 8px; align-items: center; padding: 4px 8px; background: var(--panel); border-bottom: 1px solid var(--line); font-size: 13px; min-height: 28px; }
        #current-path { font-family: ui-monospace, monospace; }
        #notice { color: var(--sys); font-size: 12px; }
        #notice:empty { display: none; }
        #editor-wrap { flex: 1; display: flex; min-height: 0; font: 13px/1.5 ui-monospace, "DejaVu Sans Mono", monospace; }
        #gutter { padding: 8px 6px 8px 8px; text-align: right; color: #6b7078; background: #1a1b1e; overflow: hidden; user-select: none; white-space: pre; min-width: 3.2em; }
        #editor { flex: 1; resize: none; border: none; outline: none; padding: 8px; background: var(--bg); color: var(--text); font: inherit; white-space: pre; overflow: auto; tab-size: 4; }
        #editor-wrap .CodeMirror { flex: 1; height: auto; min-width: 0; font: inherit; background: var(--bg); }
        #editor-wrap .CodeMirror-focused { outline: 2px solid var(--accent); outline-offset: -2px; }
        #editor-wrap.has-cm #gutter { display: none; }
        #console { flex: 1; margin: 0; padding: 8px 10px; overflow: auto; font: 13px/1.45 ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; word-break: break-word; outline-offset: -2px; }
        #console .stdout { color: var(--text); } #console .stderr { color: var(--err); } #console .system { color: var(--sys); } #console .stdin { color: var(--accent); }
        #console .prompt { color: var(--dim); }
        #console .pending { color: var(--accent); }
        #console:focus .pending::after { content: "\2588"; color: var(--dim); animation: blink 1s step-end infinite; }
        @keyframes blink { 50% { opacity: 0; } }
        #console img { display: block; max-width: 100%; background: #fff; margin: 4px 0; }
        .bar { display: flex; gap: 6px; padding: 6px; border-top: 1px solid var(--line); background: var(--panel); align-items: center; }
        #stdin { flex: 1; min-width: 0; font-family: ui-monospace, monospace; }
        .hint { color: var(--dim); font-size: 12px; padding: 2px 8px; }
        #notebook { display: none; flex: 1; flex-direction: column; min-height: 0; }
        #left.nb-open #notebook { display: flex; }
        #left.nb-open #editor-wrap { display: none; }
        .nb-bar { display: flex; flex-wrap: wrap; gap: 4px; padding: 5px 8px; border-bottom: 1px solid var(--line); align-items: center; }
        .nb-bar button { padding: 2px 8px; font-size: 12px; }
        #nb-kernel { color: var(--dim); font-size: 12px; margin-left: auto; }
        #nb-cells { flex: 1; overflow: auto; padding: 8px; }
        .nb-cell { display: flex; gap: 6px; margin-bottom: 10px; }
        .nb-side { flex: 0 0 52px; display: flex; flex-direction: column; align-items: flex-end; gap: 3px; font: 12px ui-monospace, monospace; color: var(--dim); }
        .nb-side button { padding: 1px 7px; font-size: 12px; }
        .nb-main { flex: 1; min-width: 0; }
        .nb-src { border: 1px solid var(--line); border-radius: 4px; font: 13px/1.45 ui-monospace, "DejaVu Sans Mono", monospace; }
        .nb-src .CodeMirror { height: auto; background: #191a1d; font: inherit; border-radius: 4px; }
        .nb-cell.text .nb-src .CodeMirror { background: var(--panel); }
        .nb-src textarea { width: 100%; background: #191a1d; color: var(--text); border: none; font: inherit; padding: 6px; resize: vertical; }
        .nb-out pre { margin: 4px 0 0; white-space: pre-wrap; word-break: break-word; font: 13px/1.4 ui-monospace, monospace; }
        .nb-out pre.stderr { color: var(--err); }
        .nb-out img { display: block; max-width: 100%; background: #fff; margin-top: 4px; }
        #right { position: relative; }
        #completions { position: absolute; left: 8px; bottom: 44px; z-index: 15; margin: 0; padding: 2px 0; list-style: none; max-height: 40%; max-width: calc(100% - 16px); overflow: auto; background: #111214; border: 1px solid var(--line); border-radius: 4px; font: 13px/1.4 ui-monospace, monospace; box-shadow: 0 4px 16px #0008; }
        #completions[hidden] { display: none; }
        #completions li { padding: 1px 10px; cursor: pointer; white-space: pre; }
        #completions li[aria-selected=true] { background: var(--sel); color: #fff; }
        @media (max-width: 700px) {
          header { gap: 4px; padding: 4px 6px; }
          header h1 { display: none; }
          #toggle-tree { display: inline-block; }
          main { flex-direction: column; }
          #tree { display: none; flex: 0 0 auto; max-height: 40vh; border-right: none; border-bottom: 1px solid var(--line); }
          body.tree-open #tree { display: flex; }
          #left { flex: 1 1 50%; min-height: 200px; border-right: none; border-bottom: 1px solid var(--line); }
          #right { flex: 1 1 40%; min-height: 160px; }
          .hint { display: none; }
          #status { margin-left: 0; width: 100%; }
        }
        """#
}
