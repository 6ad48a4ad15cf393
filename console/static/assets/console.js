// Preflight console: plain JavaScript, no framework, no build step.
// The key is kept in sessionStorage: this tab only, gone when it closes.
"use strict";
(function () {
  const $ = (sel) => document.querySelector(sel);
  const KEY = "preflight.key";
  const key = () => sessionStorage.getItem(KEY) || "";

  const REASONS = {
    invalid_syntax: "The address is not written correctly.",
    domain_not_found: "The domain does not exist.",
    no_mail_server: "The domain has no mail server.",
    mailbox_not_found: "The mail server says this mailbox does not exist.",
    mailbox_disabled: "The mailbox exists but is disabled.",
    mailbox_full: "The mailbox is full; it exists, so this is not a hard bounce.",
    accepted: "The mail server accepted the address.",
    catch_all: "The domain accepts every address, so this one cannot be confirmed.",
    disposable: "A disposable (throw-away) address.",
    role_account: "A role account (info@, admin@…) rather than a person.",
    greylisted: "The server asked us to try again later (greylisting).",
    rate_limited: "The server is limiting how fast we may ask; try again later.",
    blocked: "The server refused our checker, which says nothing about the address.",
    timeout: "The server did not answer in time.",
    connection_failed: "The mail server could not be reached.",
    dns_error: "DNS did not answer; try again later.",
    smtp_rejected: "The server refused without saying why.",
    suppressed: "The address bounced before and is on your suppression list.",
    complained: "The recipient marked your mail as spam.",
  };

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "style") e.style.cssText = v; // CSSOM: allowed by the CSP, unlike a style attribute
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }

  function show(msg) {
    const m = $("#message");
    m.textContent = msg;
    m.hidden = !msg;
  }

  // api calls the API with the key and turns every failure into a
  // sentence that says what to do.
  async function api(method, path, body, type) {
    if (!key()) throw new Error("Set your API key first (top of the page).");
    const opts = { method, headers: { Authorization: "Bearer " + key() } };
    if (body !== undefined) { opts.body = body; opts.headers["Content-Type"] = type || "application/json"; }
    let res;
    try { res = await fetch(path, opts); } catch (e) { throw new Error("Preflight cannot be reached. Check that the server is running."); }
    if (res.ok) return res;
    let code = "", msg = res.statusText;
    try { const j = await res.json(); code = j.error.code; msg = j.error.message; } catch (e) { /* not JSON */ }
    if (res.status === 401) throw new Error("Your API key was refused (" + code + "). Check it, or create one with: preflight keys create --name console");
    if (res.status === 403) throw new Error("This key may not do that: " + msg + ". Use a secret key (sk_…).");
    if (res.status === 429) {
      const wait = res.headers.get("Retry-After");
      throw new Error("Too many requests: " + msg + (wait ? ". Try again in " + wait + " seconds." : "."));
    }
    throw new Error(msg + " (" + res.status + (code ? " " + code : "") + ")");
  }

  async function guard(fn) {
    show("");
    try { await fn(); } catch (e) { show(e.message); }
  }

  // The key.
  function keyState() {
    $("#key-state").textContent = key() ? "Key set for this tab (…" + key().slice(-4) + ")." : "No key set. Paste a secret key (it stays in this tab only).";
  }
  $("#key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("#key").value.trim());
    $("#key").value = "";
    keyState();
    show("");
    loadJobs();
  });
  $("#key-forget").addEventListener("click", () => { sessionStorage.removeItem(KEY); keyState(); });

  // One address.
  function renderResult(r) {
    const box = el("div", { class: "card", id: "result-card" },
      el("p", {}, el("span", { class: "badge v-" + r.verdict, id: "verdict" }, r.verdict), " ",
        el("strong", {}, r.normalized || r.email), " · risk ", el("strong", { id: "risk" }, String(r.risk)), "/100"),
      el("p", { id: "reason" }, REASONS[r.reason] || r.reason, " ", el("span", { class: "muted" }, "(" + r.reason + ")")));
    if (r.suggestion) {
      box.append(el("p", {}, "Did you mean ",
        el("button", { type: "button", class: "link", id: "suggestion", onclick: () => { $("#email").value = r.suggestion; verifyOne(); } }, r.suggestion), "?"));
    }
    const dl = el("dl");
    dl.append(el("dt", {}, "Mail servers (MX)"), el("dd", { id: "mx" }, (r.mx && r.mx.length) ? r.mx.join(", ") : "none"));
    dl.append(el("dt", {}, "SMTP reply"), el("dd", { id: "smtp" }, r.smtp ? r.smtp.code + " " + r.smtp.enhanced + " " + r.smtp.message + " (" + r.smtp.host + ")" : "none needed or obtained"));
    const flags = Object.entries(r.flags || {}).filter(([, v]) => v).map(([k]) => k);
    dl.append(el("dt", {}, "Flags"), el("dd", {}, flags.length ? flags.join(", ") : "none"));
    if (r.detail) dl.append(el("dt", {}, "Detail"), el("dd", {}, r.detail));
    box.append(dl);
    $("#result").replaceChildren(box);
  }
  async function verifyOne() {
    await guard(async () => {
      const email = $("#email").value.trim();
      if (!email) return;
      $("#result").textContent = "Checking…";
      try {
        const res = await api("POST", "/v1/verify?timeout=10s", JSON.stringify({ email }));
        renderResult(await res.json());
      } catch (e) { $("#result").textContent = ""; throw e; }
    });
  }
  $("#verify-form").addEventListener("submit", (ev) => { ev.preventDefault(); verifyOne(); });

  // Upload.
  const drop = $("#drop"), file = $("#file");
  drop.addEventListener("click", () => file.click());
  drop.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); file.click(); } });
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => { ev.preventDefault(); drop.classList.remove("over"); if (ev.dataTransfer.files.length) upload(ev.dataTransfer.files[0]); });
  file.addEventListener("change", () => { if (file.files.length) upload(file.files[0]); file.value = ""; });

  function eta(s) {
    if (s == null) return "estimating…";
    if (s < 60) return s + " s left";
    if (s < 3600) return Math.round(s / 60) + " min left";
    return (s / 3600).toFixed(1) + " h left";
  }

  let watching = 0;
  async function upload(f) {
    await guard(async () => {
      $("#upload-state").textContent = "Uploading " + f.name + "…";
      const fd = new FormData();
      fd.append("file", f, f.name);
      let res;
      try {
        const q = $("#preview").checked ? "?sample=" + encodeURIComponent($("#preview-n").value) : "";
        res = await fetch("/v1/jobs" + q, { method: "POST", body: fd, headers: { Authorization: "Bearer " + key() } });
      } catch (e) { throw new Error("Preflight cannot be reached. Check that the server is running."); }
      if (!res.ok) {
        let msg = res.statusText;
        try { msg = (await res.json()).error.message; } catch (e) { /* not JSON */ }
        $("#upload-state").textContent = "";
        if (res.status === 401) throw new Error("Your API key was refused. Check it, or create one with: preflight keys create --name console");
        throw new Error("The upload was refused: " + msg);
      }
      const job = await res.json();
      watch(job.id, f.name);
    });
  }

  async function watch(id, name) {
    const me = ++watching;
    const bar = $("#progress");
    bar.hidden = false;
    for (;;) {
      if (me !== watching) return;
      let st;
      try { st = await (await api("GET", "/v1/jobs/" + encodeURIComponent(id))).json(); } catch (e) { show(e.message); return; }
      const pct = st.total ? Math.floor(100 * st.processed / st.total) : 0;
      bar.value = pct;
      bar.setAttribute("aria-valuetext", pct + "%");
      $("#upload-state").textContent = name + ": " + st.status + ", " + st.processed + " of " + st.total + " rows (" + pct + "%)" +
        (st.status === "running" || st.status === "queued" ? ", " + eta(st.eta_seconds) : "");
      $("#upload-state").dataset.status = st.status;
      if (st.status !== "queued" && st.status !== "running") {
        loadJobs();
        if (st.status === "done") showJob(st);
        return;
      }
      await new Promise((r) => setTimeout(r, 700));
    }
  }

  // Jobs.
  function pctText(r) { return r == null ? "–" : (100 * r).toFixed(2) + "%"; }
  async function loadJobs() {
    if (!key()) return;
    await guard(async () => {
      const page = await (await api("GET", "/v1/jobs?limit=50")).json();
      const rows = page.jobs.map((j) => el("tr", {},
        el("td", {}, new Date(j.created_at).toLocaleString()), el("td", {}, j.status),
        el("td", {}, String(j.total)), el("td", {}, String(j.processed)), el("td", {}, pctText(j.projected_bounce_rate)),
        el("td", {}, el("button", { type: "button", class: "secondary", "data-job": j.id, onclick: () => showJob(j) }, "Open"))));
      $("#jobs tbody").replaceChildren(...rows);
    });
  }
  $("#jobs-refresh").addEventListener("click", loadJobs);

  function bars(title, counts, id) {
    const entries = Object.entries(counts || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    const max = Math.max(1, ...entries.map(([, n]) => n));
    const g = el("div", { class: "bars", id, role: "img", "aria-label": title + ": " + entries.map(([k, n]) => k + " " + n).join(", ") });
    for (const [k, n] of entries) {
      g.append(el("span", {}, k), el("div", { class: "bar", style: "width:" + (100 * n / max) + "%" }), el("span", {}, String(n)));
    }
    return el("div", {}, el("h3", {}, title), g);
  }

  function rateChart(rate) {
    if (rate == null) return el("p", {}, "No projected bounce rate yet.");
    const scale = Math.max(0.04, rate * 1.25);
    const at = (r) => (100 * r / scale).toFixed(2) + "%";
    const fill = el("div", { class: "fill " + (rate > 0.02 ? "bad" : rate > 0.005 ? "warn" : ""), style: "width:" + at(rate) });
    return el("div", {},
      el("h3", {}, "Projected bounce rate: ", el("span", { id: "rate" }, pctText(rate))),
      el("div", { class: "rate", id: "rate-chart", role: "img", "aria-label": "Projected bounce rate " + pctText(rate) + " against the 0.5% healthy line and the 2% throttling line" },
        fill, el("span", { class: "line", style: "left:" + at(0.005) }, "0.5%"), el("span", { class: "line", style: "left:" + at(0.02) }, "2%")),
      el("p", { class: "muted" }, "Under 0.5% is healthy; above 2% Gmail and Outlook throttle and providers warn or suspend."));
  }

  async function download(id, verdicts) {
    await guard(async () => {
      const q = verdicts ? "?verdict=" + verdicts.join(",") : "";
      const blob = await (await api("GET", "/v1/jobs/" + encodeURIComponent(id) + "/results" + q)).blob();
      const a = el("a", { href: URL.createObjectURL(blob), download: "preflight-" + id + (verdicts ? "-" + verdicts.join("-") : "") + ".csv" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    });
  }

  function showJob(j) {
    const box = el("div", { class: "card", id: "job-card", "data-job": j.id },
      el("h3", {}, "List " + j.id + " · " + j.status), el("p", {}, j.advice || ""));
    if (j.sample) {
      const s = j.sample, iv = (i) => i ? pctText(i.estimate) + " (95%: " + pctText(i.low) + " to " + pctText(i.high) + ")" : "–";
      const p = el("div", { id: "preview-result" }, el("h3", {}, "Preview of " + s.size + " addresses, of " + (s.exact ? "" : "about ") + s.population_addresses + " in " + s.population_rows + " rows"),
        el("p", {}, "Projected bounce rate of the whole list as it is: ", el("strong", {}, iv(s.projected_bounce_rate))));
      const ul = el("ul", {});
      for (const [v, i] of Object.entries(s.verdicts || {})) ul.append(el("li", {}, v + ": " + iv(i)));
      p.append(ul);
      box.append(p);
    }
    if (j.status === "done") {
      box.append(rateChart(j.projected_bounce_rate), bars("Verdicts", j.counts, "chart-verdicts"), bars("Reasons", j.reasons, "chart-reasons"));
      const sel = el("select", { id: "filter", "aria-label": "Rows to download" },
        el("option", { value: "deliverable,risky" }, "Safe to send (deliverable and risky)"),
        el("option", { value: "deliverable" }, "Deliverable only"),
        el("option", { value: "undeliverable" }, "Undeliverable (to remove)"),
        el("option", { value: "unknown" }, "Unknown"));
      box.append(el("div", { class: "row" },
        el("button", { type: "button", id: "download-all", onclick: () => download(j.id) }, "Download the full list"),
        sel, el("button", { type: "button", id: "download-filtered", onclick: () => download(j.id, sel.value.split(",")) }, "Download filtered")));
    }
    $("#job").replaceChildren(box);
  }

  // Suppressions.
  let supRows = null;
  function parseCSV(text) {
    const rows = [];
    let row = [], f = "", q = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (q) { if (c === '"') { if (text[i + 1] === '"') { f += '"'; i++; } else q = false; } else f += c; }
      else if (c === '"') q = true;
      else if (c === ",") { row.push(f); f = ""; }
      else if (c === "\n") { row.push(f.replace(/\r$/, "")); rows.push(row); row = []; f = ""; }
      else f += c;
    }
    if (f || row.length) { row.push(f); rows.push(row); }
    return rows;
  }
  async function searchSup() {
    await guard(async () => {
      const qv = $("#sup-q").value.trim().toLowerCase();
      if (!supRows) supRows = parseCSV(await (await api("GET", "/v1/suppressions")).text());
      const [head, ...rows] = supRows.length ? supRows : [[]];
      const hits = rows.filter((r) => r.join(" ").toLowerCase().includes(qv)).slice(0, 50);
      if (!hits.length) { $("#sup").textContent = "No suppressed address matches."; return; }
      const ei = Math.max(0, head.indexOf("email"));
      const list = el("ul", {});
      for (const r of hits) {
        const reason = el("input", { type: "text", placeholder: "why it may be mailed again", "aria-label": "Reason to remove " + r[ei] });
        list.append(el("li", { class: "row" }, el("span", {}, r.join(" · ")), reason,
          el("button", { type: "button", class: "secondary", onclick: () => removeSup(r[ei], reason.value) }, "Remove")));
      }
      $("#sup").replaceChildren(el("p", { class: "muted" }, hits.length + " shown"), list);
    });
  }
  async function removeSup(email, reason) {
    await guard(async () => {
      if (!reason.trim()) throw new Error("Say why the address may be mailed again before removing it.");
      await api("DELETE", "/v1/suppressions/" + encodeURIComponent(email) + "?reason=" + encodeURIComponent(reason));
      supRows = null;
      await searchSup();
    });
  }
  $("#sup-form").addEventListener("submit", (ev) => { ev.preventDefault(); supRows = null; searchSup(); });

  // Sender health.
  $("#health-load").addEventListener("click", () => guard(async () => {
    const h = await (await api("GET", "/v1/sender-health")).json();
    const win = (name, w) => {
      const c = w.classes;
      const box = el("div", { class: "card" }, el("h3", {}, name + (w.flagged ? " · blocks seen" : "")),
        el("p", {}, w.events + " bounce events: " + c.hard.count + " hard, " + c.soft.count + " soft, " + c.block.count + " blocks, " + c.unknown.count + " unknown; " + w.suppressed + " addresses suppressed."));
      for (const s of w.signals || []) box.append(el("p", {}, "⚠ " + s.advice));
      return box;
    };
    $("#health").replaceChildren(el("p", { class: "muted" }, h.note), win("Last 7 days", h.last_7_days), win("Last 30 days", h.last_30_days));
  }));

  keyState();
  loadJobs();
})();
