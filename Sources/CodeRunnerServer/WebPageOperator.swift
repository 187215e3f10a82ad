extension WebPage {
    /// The operator view (`/#operator`, the Operator button): what `GET /api/operator` says, refreshed every 2 s while
    /// shown. Every value from the server (session names, addresses, error messages: a client's or a program's text)
    /// goes into the page as `textContent`, never as markup.
    static let operatorBody = #"""
        <section id="operator" hidden aria-label="Operator view">
          <div class="op-bar">
            <h2>Operator view</h2>
            <button id="op-back" title="Back to the editor (Esc)">&larr; IDE</button>
            <span id="op-updated" role="status"></span>
          </div>
          <h3>Node</h3><dl id="op-node" class="op-node"></dl>
          <h3>Live sessions</h3><div class="op-wrap" id="op-sessions" tabindex="0" role="region" aria-label="Live sessions"></div>
          <h3>Pool</h3><div class="op-wrap" id="op-pool" tabindex="0" role="region" aria-label="Pool"></div>
          <h3>Runs</h3><div class="op-wrap" id="op-runs" tabindex="0" role="region" aria-label="Runs"></div>
          <h3>Recent errors</h3><div class="op-wrap" id="op-errors" tabindex="0" role="region" aria-label="Recent errors"></div>
        </section>

        """#

    static let operatorStyle = #"""
        body.operator main { display: none; }
        #operator { flex: 1; overflow: auto; padding: 8px 12px 24px; }
        #operator[hidden] { display: none; }
        .op-bar { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; }
        .op-bar h2 { font-size: 16px; margin: 0; }
        #op-updated { color: var(--dim); font-size: 13px; }
        #op-updated.bad { color: var(--err); }
        #operator h3 { font-size: 14px; margin: 14px 0 4px; color: var(--sys); }
        .op-node { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 4px 12px; margin: 0; }
        .op-node div { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 4px 8px; }
        .op-node dt { color: var(--dim); font-size: 12px; } .op-node dd { margin: 0; font-weight: 600; }
        .op-wrap { overflow-x: auto; }
        .op-wrap table { border-collapse: collapse; font-size: 13px; min-width: 100%; }
        .op-wrap th, .op-wrap td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; white-space: pre-wrap; overflow-wrap: break-word; }
        .op-wrap th { background: var(--panel); color: var(--dim); font-weight: 600; white-space: nowrap; }
        .op-wrap tr.own td:first-child { color: var(--ok); }
        .op-empty { color: var(--dim); font-size: 13px; }

        """#

    static let scriptOperator = #"""
        /* ---------- operator view ---------- */
        const op = { timer: null, busy: false };
        function opAge(seconds) {
          if (seconds == null) return "";
          const s = Math.floor(seconds); if (s < 60) return s + "s";
          const m = Math.floor(s / 60); if (m < 60) return m + "m " + (s % 60) + "s";
          return Math.floor(m / 60) + "h " + (m % 60) + "m";
        }
        const opMs = (seconds) => seconds == null ? "–" : Math.round(seconds * 1000) + " ms";
        function opTable(id, headers, rows, empty, rowClass) {
          const box = $(id); box.textContent = "";
          if (!rows.length) { const p = document.createElement("p"); p.className = "op-empty"; p.textContent = empty; box.appendChild(p); return; }
          const table = document.createElement("table"), head = table.createTHead().insertRow();
          for (const h of headers) { const th = document.createElement("th"); th.scope = "col"; th.textContent = h; head.appendChild(th); }
          const body = table.createTBody();
          rows.forEach((row, i) => {
            const tr = body.insertRow(); const cls = rowClass ? rowClass(i) : ""; if (cls) tr.className = cls;
            for (const cell of row) tr.insertCell().textContent = cell == null ? "" : String(cell);
          });
          box.appendChild(table);
        }
        function opRender(r) {
          const node = $("op-node"); node.textContent = "";
          const facts = [["instance", r.node.instance || "(unnamed)"], ["state", r.node.draining ? "draining" : "serving"],
            ["sessions", r.node.sessions + " / " + r.node.maxSessions], ["runs going", r.node.runs + " / " + r.node.maxConcurrentRuns],
            ["runs last minute", r.runs.runsLastMinute + " (" + r.runs.runsPerSecond.toFixed(2) + "/s)"], ["runs total", r.runs.total],
            ["sessions total", r.runs.sessionsTotal], ["busy refusals", r.runs.busyRejections], ["protocol errors", r.runs.protocolErrors],
            ["clean-up errors", r.runs.cleanupErrors + (r.node.cleanupsPending ? " (" + r.node.cleanupsPending + " pending)" : "")]];
          for (const [k, v] of facts) {
            const d = document.createElement("div"), dt = document.createElement("dt"), dd = document.createElement("dd");
            dt.textContent = k; dd.textContent = String(v); d.append(dt, dd); node.appendChild(d);
          }
          const own = state.session;
          opTable("op-sessions", ["session", "kind", "client", "age", "runs", "kernels", "engine", "network", "containers"],
            r.sessions.map(s => [s.name + (s.name === own ? " (this page)" : ""), s.kind, s.client, opAge(s.ageSeconds),
              s.runs + (s.runIDs.length ? " (" + s.runIDs.join(", ") + ")" : ""), s.kernels,
              s.touchedEngine ? (s.engineSession && s.engineSession !== s.name ? "yes: " + s.engineSession : "yes") : "no",
              s.network ? s.network + (s.subnet ? " " + s.subnet : "") : "",
              s.containers.map(c => c.language + " " + c.state + " " + c.name).join("\n")]),
            "no live sessions", i => r.sessions[i].name === own ? "own" : "");
          if (r.pool) {
            const rows = r.pool.pools.map(p => [p.cidr, p.capacity, p.used, p.free, p.ready, p.leased, p.creating, p.warnings.join("\n")]);
            rows.push(["total", r.pool.totalCapacity, r.pool.subnetsUsed, "", "", "", "",
              r.pool.containerCount + " containers (" + r.pool.busyContainers + " busy), " + r.pool.otherSessions + " engine sessions not this server's"]);
            opTable("op-pool", ["pool", "capacity", "used", "free", "ready", "leased", "creating", "notes"], rows, "");
          } else opTable("op-pool", [], [], r.engineError || "the engine did not answer");
          const runs = [];
          for (const lang of Object.keys(r.runs.byLanguage).sort()) {
            const statuses = r.runs.byLanguage[lang], l = r.runs.latency[lang] || {}, f = r.runs.firstRunLatency[lang] || {};
            runs.push([lang, Object.keys(statuses).sort().map(s => s + " " + statuses[s]).join(", "), opMs(l.meanSeconds),
              opMs(l.p50Seconds), opMs(l.p95Seconds), f.count ? f.count + ": p50 " + opMs(f.p50Seconds) + ", p95 " + opMs(f.p95Seconds) : "–"]);
          }
          opTable("op-runs", ["language", "runs by status", "mean", "p50 ≤", "p95 ≤", "first runs"], runs, "no runs yet");
          opTable("op-errors", ["time", "session", "client", "code", "message"],
            r.recentErrors.slice().reverse().map(e => [new Date(e.time * 1000).toLocaleTimeString(), e.session || "–", e.client || "", e.code, e.message]),
            "no errors");
        }
        async function refreshOperator() {
          if (op.busy) return; op.busy = true;
          const shown = $("op-updated");
          try {
            const response = await fetch(withToken("/api/operator"), { cache: "no-store" });
            if (!response.ok) throw new Error("HTTP " + response.status);
            opRender(await response.json());
            shown.textContent = "updated " + new Date().toLocaleTimeString() + " · every 2 s"; shown.className = "";
          } catch (e) {
            shown.textContent = "could not load /api/operator: " + e.message; shown.className = "bad";
          } finally { op.busy = false; }
        }
        function showOperator(on) {
          document.body.classList.toggle("operator", on); $("operator").hidden = !on;
          $("operator-toggle").setAttribute("aria-pressed", on ? "true" : "false");
          clearInterval(op.timer); op.timer = null;
          if (on) {
            if (location.hash !== "#operator") history.replaceState(null, "", "#operator");
            refreshOperator(); op.timer = setInterval(refreshOperator, 2000);
          } else if (location.hash === "#operator") history.replaceState(null, "", location.pathname + location.search);
        }
        $("operator-toggle").addEventListener("click", () => { showOperator(!document.body.classList.contains("operator")); });
        $("op-back").addEventListener("click", () => { showOperator(false); $("operator-toggle").focus(); });
        $("operator").addEventListener("keydown", (e) => { if (e.key === "Escape") { showOperator(false); $("operator-toggle").focus(); } });
        window.addEventListener("hashchange", () => showOperator(location.hash === "#operator"));
        if (location.hash === "#operator") showOperator(true);

        """#
}
