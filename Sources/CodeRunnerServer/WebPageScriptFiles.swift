extension WebPage {
    /// The project: a tree of files and folders (paths such as `src/util.py`), new/rename/delete, the entry file, upload,
    /// download of a file or of the project as a `.tar` made in the page, and the project kept in localStorage.
    static let scriptFiles = #"""
        /* ---------- project: files, folders, entry; kept in localStorage ---------- */
        const STORAGE_KEY = "coderunner.project.v1";
        let saveTimer = null;
        function scheduleSave() { clearTimeout(saveTimer); saveTimer = setTimeout(saveProject, 250); }
        function saveProject() {
          clearTimeout(saveTimer);
          const project = { language: state.language, files: state.files, folders: state.folders, entry: state.entry, active: state.active };
          try { localStorage.setItem(STORAGE_KEY, JSON.stringify(project)); } catch (e) { notice("the project is too large to keep in this browser"); }
        }
        function restoreProject() {
          let p = null;
          try { p = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null"); } catch (e) { p = null; }
          if (!p || !Array.isArray(p.files) || p.files.length === 0 || !state.languages.some(l => l.name === p.language)) return false;
          state.language = p.language; $("language").value = p.language;
          state.files = p.files.filter(f => f && typeof f.path === "string" && typeof f.content === "string");
          state.folders = Array.isArray(p.folders) ? p.folders.filter(f => typeof f === "string") : [];
          state.entry = fileAt(p.entry) ? p.entry : state.files[0].path;
          openFile(fileAt(p.active) ? p.active : state.entry, true);
          return true;
        }
        window.addEventListener("beforeunload", () => { syncEditor(); saveProject(); });
        function loadExample() {
          const lang = currentLanguage(); if (!lang) return;
          const name = lang.exampleFile || ("main" + (lang.extensions[0] || ""));
          state.language = lang.name;
          state.files = [{ path: name, content: lang.example || "" }]; state.folders = []; state.entry = name;
          openFile(name, true); saveProject();
        }
        $("new-project").onclick = () => {
          if (!confirm("Start a new project? The current files are discarded (download them first as a .tar).")) return;
          localStorage.removeItem(STORAGE_KEY); loadExample(); clearConsole(); editor.focus();
        };

        /* ---------- paths ---------- */
        function parentOf(path) { const i = path.lastIndexOf("/"); return i < 0 ? "" : path.slice(0, i); }
        function baseName(path) { return path.slice(path.lastIndexOf("/") + 1); }
        function cleanPath(path) { return String(path || "").trim().split("/").filter(p => p && p !== ".").join("/"); }
        function allFolders() {
          const set = new Set(state.folders);
          for (const f of state.files) for (let p = parentOf(f.path); p; p = parentOf(p)) set.add(p);
          return [...set].sort();
        }
        /* Why a new path cannot be used (or null): `..`, odd characters, or a clash with a file or folder. */
        function pathProblem(path, ignore) {
          if (!path) return "empty name";
          if (path.split("/").some(p => p === ".." || p.startsWith("."))) return "names may not start with '.'";
          if (/[\\\x00-\x1f]/.test(path)) return "no backslashes or control characters";
          if (state.files.some(f => f.path === path && f.path !== ignore)) return path + " exists";
          if (allFolders().some(d => d === path && d !== ignore)) return "a folder named " + path + " exists";
          for (let p = parentOf(path); p; p = parentOf(p)) if (state.files.some(f => f.path === p)) return p + " is a file";
          return null;
        }
        function targetFolder() {
          const sel = state.selected;
          if (!sel) return parentOf(state.active || "");
          return sel.kind === "folder" ? sel.path : parentOf(sel.path);
        }
        function ask(question, suggestion, ignore) {
          const answer = prompt(question, suggestion); if (answer === null) return null;
          const path = cleanPath(answer); const problem = pathProblem(path, ignore);
          if (problem) { alert(problem); return null; }
          return path;
        }

        /* ---------- the tree ---------- */
        /* Shows a file in the editor; `fresh` when the editor's text belongs to no file of the project any more. */
        function openFile(path, fresh) {
          if (!fresh) syncEditor();
          const file = fileAt(path); if (!file) return;
          if (!fresh && path === nb.path && path === state.active) { state.selected = { kind: "file", path: path }; renderTree(); return; }
          state.active = path; state.selected = { kind: "file", path: path };
          hideNotebook();
          if (isNotebook(path) && !file.encoding && showNotebook(file)) { /* shown as cells */ }
          else if (file.encoding) editor.set("(binary file, " + atob(file.content).length + " bytes: it is sent with the runs and in the .tar)", "", true);
          else editor.set(file.content, path, false);
          $("current-path").textContent = path + (path === state.entry ? "  ▶ entry" : "");
          renderTree(); scheduleSave();
        }
        function renderTree() {
          const list = $("tree-list"); list.textContent = "";
          const folders = allFolders();
          /* Depth first: in each folder its folders, then its files, each by name. */
          const nodes = [];
          const walk = (dir) => {
            const inDir = (p) => parentOf(p) === dir;
            for (const d of folders.filter(inDir)) { nodes.push({ kind: "folder", path: d }); walk(d); }
            for (const f of state.files.map(f => f.path).filter(inDir).sort()) nodes.push({ kind: "file", path: f });
          };
          walk("");
          const sel = state.selected || { kind: "file", path: state.active };
          for (const n of nodes) {
            const row = document.createElement("div");
            const isSelected = sel && sel.kind === n.kind && sel.path === n.path;
            row.className = "node " + n.kind + (isSelected ? " selected" : "") + (n.kind === "file" && n.path === state.active ? " active" : "");
            row.setAttribute("role", "treeitem"); row.dataset.path = n.path; row.dataset.kind = n.kind;
            row.setAttribute("aria-level", String(n.path.split("/").length)); row.setAttribute("aria-selected", String(isSelected));
            row.tabIndex = isSelected ? 0 : -1;
            row.style.paddingLeft = (8 + 14 * (n.path.split("/").length - 1)) + "px";
            const icon = document.createElement("span"); icon.className = "icon"; icon.textContent = n.kind === "folder" ? "▾" : "·";
            const name = document.createElement("span"); name.className = "name"; name.textContent = baseName(n.path) + (n.kind === "folder" ? "/" : "");
            row.append(icon, name);
            if (n.kind === "file" && n.path === state.entry) { const e = document.createElement("span"); e.className = "entry"; e.textContent = "▶ entry"; e.title = "the entry file: the one that runs"; row.appendChild(e); }
            row.onclick = () => { if (n.kind === "file") openFile(n.path); else { state.selected = n; renderTree(); } focusTree(); };
            list.appendChild(row);
          }
          if (!list.querySelector("[tabindex='0']") && list.firstChild) list.firstChild.tabIndex = 0;
        }
        function focusTree() { const row = $("tree-list").querySelector("[tabindex='0']"); if (row) row.focus(); }
        $("tree-list").addEventListener("keydown", (ev) => {
          const rows = [...$("tree-list").children], row = ev.target.closest(".node"); if (!row) return;
          const i = rows.indexOf(row);
          const move = (j) => { if (j < 0 || j >= rows.length) return; rows.forEach(r => r.tabIndex = -1); rows[j].tabIndex = 0; rows[j].focus(); state.selected = { kind: rows[j].dataset.kind, path: rows[j].dataset.path }; rows.forEach(r => r.classList.toggle("selected", r === rows[j])); };
          if (ev.key === "ArrowDown") { ev.preventDefault(); move(i + 1); }
          else if (ev.key === "ArrowUp") { ev.preventDefault(); move(i - 1); }
          else if (ev.key === "Home") { ev.preventDefault(); move(0); }
          else if (ev.key === "End") { ev.preventDefault(); move(rows.length - 1); }
          else if (ev.key === "Enter") { ev.preventDefault(); if (row.dataset.kind === "file") { openFile(row.dataset.path); editor.focus(); } }
          else if (ev.key === "F2") { ev.preventDefault(); renameSelected(); }
          else if (ev.key === "Delete") { ev.preventDefault(); deleteSelected(); }
        });
        function newFile() {
          const lang = currentLanguage(); const ext = lang && lang.extensions.length ? lang.extensions[0] : ".txt";
          const base = targetFolder(); let n = state.files.length + 1;
          while (fileAt((base ? base + "/" : "") + "file" + n + ext)) n++;
          const path = ask("New file (a path such as src/util" + ext + ")", (base ? base + "/" : "") + "file" + n + ext); if (!path) return;
          state.files.push({ path: path, content: "" }); openFile(path); saveProject(); editor.focus();
        }
        function newFolder() {
          const base = targetFolder();
          const path = ask("New folder", (base ? base + "/" : "") + "folder"); if (!path) return;
          state.folders.push(path); state.selected = { kind: "folder", path: path }; renderTree(); saveProject(); focusTree();
        }
        function renameSelected() {
          const sel = state.selected || { kind: "file", path: state.active }; if (!sel || !sel.path) return;
          const path = ask("Rename or move " + sel.path + " to", sel.path, sel.path); if (!path || path === sel.path) return;
          syncEditor();
          const moved = (p) => p === sel.path ? path : (sel.kind === "folder" && p.startsWith(sel.path + "/")) ? path + p.slice(sel.path.length) : p;
          for (const f of state.files) f.path = moved(f.path);
          state.folders = state.folders.map(moved); state.entry = moved(state.entry); state.active = moved(state.active);
          state.selected = { kind: sel.kind, path: path };
          openFile(state.active); state.selected = { kind: sel.kind, path: path }; renderTree(); saveProject();
        }
        function deleteSelected() {
          const sel = state.selected || { kind: "file", path: state.active }; if (!sel || !sel.path) return;
          const inside = (p) => p === sel.path || (sel.kind === "folder" && p.startsWith(sel.path + "/"));
          const left = state.files.filter(f => !inside(f.path));
          if (left.length === 0) { alert("a project keeps at least one file"); return; }
          if (!confirm("Delete " + sel.path + (sel.kind === "folder" ? " and everything in it" : "") + "?")) return;
          state.files = left; state.folders = state.folders.filter(d => !inside(d));
          if (!fileAt(state.entry)) state.entry = left[0].path;
          state.selected = null;
          openFile(fileAt(state.active) ? state.active : state.entry); saveProject(); focusTree();
        }
        function setEntry() {
          const sel = state.selected; const path = sel && sel.kind === "file" ? sel.path : state.active;
          if (!fileAt(path)) return;
          state.entry = path; $("current-path").textContent = state.active + (state.active === state.entry ? "  ▶ entry" : ""); renderTree(); saveProject();
        }
        $("new-file").onclick = newFile; $("new-folder").onclick = newFolder; $("rename").onclick = renameSelected;
        $("delete").onclick = deleteSelected; $("set-entry").onclick = setEntry;

        /* ---------- upload and download ---------- */
        function toBase64(bytes) { let s = ""; for (let i = 0; i < bytes.length; i += 32768) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768)); return btoa(s); }
        function fromBase64(text) { const s = atob(text); const b = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i); return b; }
        $("upload").onclick = () => $("upload-input").click();
        $("upload-input").onchange = async (ev) => {
          syncEditor(); const base = targetFolder(); let last = null;
          for (const file of ev.target.files) {
            const bytes = new Uint8Array(await file.arrayBuffer());
            const path = cleanPath((base ? base + "/" : "") + file.name);
            let entry;
            try { entry = { path: path, content: new TextDecoder("utf-8", { fatal: true }).decode(bytes) }; if (entry.content.includes("\0")) throw new Error("binary"); }
            catch (e) { entry = { path: path, content: toBase64(bytes), encoding: "base64" }; }
            const existing = fileAt(path);
            if (existing) Object.assign(existing, entry); else { const problem = pathProblem(path); if (problem) { alert(problem); continue; } state.files.push(entry); }
            last = path;
          }
          ev.target.value = "";
          if (last) { openFile(last, true); saveProject(); }
        };
        function download(blob, name) {
          const a = document.createElement("a"); a.href = URL.createObjectURL(blob); a.download = name;
          document.body.appendChild(a); a.click(); a.remove(); setTimeout(() => URL.revokeObjectURL(a.href), 10000);
        }
        $("download-file").onclick = () => {
          syncEditor(); const f = fileAt(state.active); if (!f) return;
          download(new Blob([f.encoding ? fromBase64(f.content) : f.content], { type: "application/octet-stream" }), baseName(f.path));
        };
        $("download-tar").onclick = () => { syncEditor(); download(new Blob([makeTar()], { type: "application/x-tar" }), "project.tar"); };
        /* A ustar archive of the project: a 512-byte header per entry (folders, then files), data padded to 512 bytes. */
        function tarHeader(path, size, type) {
          const enc = new TextEncoder(), h = new Uint8Array(512);
          let name = path, prefix = "";
          if (enc.encode(name).length > 100) {
            let cut = path.lastIndexOf("/", path.length - 1);
            while (cut > 0 && (enc.encode(path.slice(0, cut)).length > 155 || enc.encode(path.slice(cut + 1)).length > 100)) cut = path.lastIndexOf("/", cut - 1);
            if (cut <= 0) throw new Error("path too long for a tar: " + path);
            prefix = path.slice(0, cut); name = path.slice(cut + 1);
          }
          const put = (offset, length, text) => h.set(enc.encode(text).subarray(0, length), offset);
          const octal = (n, width) => n.toString(8).padStart(width - 1, "0") + "\0";
          put(0, 100, name); put(100, 8, type === "5" ? "0000755\0" : "0000644\0"); put(108, 8, "0000000\0"); put(116, 8, "0000000\0");
          put(124, 12, octal(size, 12)); put(136, 12, octal(Math.floor(Date.now() / 1000), 12)); put(148, 8, "        "); put(156, 1, type);
          put(257, 6, "ustar\0"); put(263, 2, "00"); put(265, 32, "coderunner"); put(297, 32, "coderunner"); put(345, 155, prefix);
          let sum = 0; for (const b of h) sum += b;
          put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
          return h;
        }
        function makeTar() {
          const parts = [];
          for (const d of allFolders()) parts.push(tarHeader(d + "/", 0, "5"));
          for (const f of state.files) {
            const data = f.encoding ? fromBase64(f.content) : new TextEncoder().encode(f.content);
            parts.push(tarHeader(f.path, data.length, "0"), data, new Uint8Array((512 - data.length % 512) % 512));
          }
          parts.push(new Uint8Array(1024));
          const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0;
          for (const p of parts) { out.set(p, at); at += p.length; }
          return out;
        }

        """#
}
