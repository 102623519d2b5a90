// Live job page: a WebSocket that replays then follows, a virtual log that draws
// only the visible lines (jobs of 200,000 events stay responsive), live steps,
// host totals and state. Reconnects with backoff and resumes from the last seq.
import { AnsiUp } from "../vendor/ansi_up-6.0.6.js";

const LINE = 18;
const root = document.getElementById("job");
const logBox = document.getElementById("log");
const spacer = document.getElementById("log-spacer");
const pre = document.getElementById("log-lines");
const filterBox = document.getElementById("log-filter");
const follow = document.getElementById("log-follow");
const ansi = new AnsiUp();

const lines = [];        // {seq, html, text}
let view = null;         // indexes into lines when a filter is active
let lastSeq = 0;
let finished = false;
let drawPending = false;
let retry = 0;
const events = new Map(); // seq -> compact event, for the detail dialog

function addEvents(batch) {
  for (const e of batch) {
    if (e.seq <= lastSeq) continue;          // never draw a line twice
    lastSeq = e.seq;
    events.set(e.seq, e);
    if (!e.stdout) continue;
    for (const text of e.stdout.split("\n")) {
      const plain = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
      lines.push({ seq: e.seq, html: ansi.ansi_to_html(text), plain, text: (plain + " " + (e.host || "") + " " + (e.task || "")).toLowerCase() });
      if (view) { if (matches(lines.length - 1)) view.push(lines.length - 1); }
    }
  }
  scheduleDraw();
}

function matches(i) { return lines[i].text.includes(filterBox.value.trim().toLowerCase()); }

function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(draw);
}

function draw() {
  drawPending = false;
  const total = view ? view.length : lines.length;
  spacer.style.height = `${total * LINE}px`;
  if (follow.checked) logBox.scrollTop = logBox.scrollHeight;
  const first = Math.max(0, Math.floor(logBox.scrollTop / LINE) - 10);
  const count = Math.ceil(logBox.clientHeight / LINE) + 20;
  const parts = [];
  for (let k = first; k < Math.min(total, first + count); k++) {
    const line = lines[view ? view[k] : k];
    parts.push(`<span class="line" data-seq="${line.seq}">${line.html || " "}</span>`);
  }
  pre.style.top = `${first * LINE}px`;
  pre.innerHTML = parts.join("");
  document.getElementById("log-count").textContent = `${lines.length.toLocaleString()} lines`;
}

logBox.addEventListener("scroll", () => {
  const atBottom = logBox.scrollTop + logBox.clientHeight >= logBox.scrollHeight - LINE * 2;
  if (!atBottom && follow.checked && document.activeElement === logBox) follow.checked = false;
  scheduleDraw();
});
logBox.addEventListener("wheel", () => { follow.checked = false; }, { passive: true });
follow.addEventListener("change", scheduleDraw);
filterBox.addEventListener("input", () => {
  const q = filterBox.value.trim();
  view = q ? lines.map((_, i) => i).filter(matches) : null;
  scheduleDraw();
});

pre.addEventListener("click", async (ev) => {
  const el = ev.target.closest(".line");
  if (!el) return;
  const seq = Number(el.dataset.seq);
  const detail = document.getElementById("event-detail");
  detail.textContent = "loading…";
  document.getElementById("event-dialog").showModal();
  const resp = await fetch(`${root.dataset.eventsUrl}?after=${seq - 1}&limit=1`, { credentials: "same-origin" });
  const body = await resp.json();
  const e = body.events && body.events[0];
  detail.textContent = e ? JSON.stringify({ task: e.task, host: e.host, play: e.play, event: e.event, created: e.created, result: e.event_data.res || e.event_data }, null, 2) : "not found";
});
document.getElementById("event-close").addEventListener("click", () => document.getElementById("event-dialog").close());

function setState(state, result) {
  const badge = document.getElementById("job-state");
  badge.textContent = state.replaceAll("_", " "); // as the page renders it: "awaiting approval"
  badge.className = `ferry-badge ${state}`;
  finished = ["succeeded", "failed", "canceled", "lost", "denied", "expired"].includes(state);
  const waiting = state === "waiting";
  // Approving or denying only makes sense while the job awaits approval.
  document.getElementById("approval-form")?.toggleAttribute("hidden", state !== "awaiting_approval");
  // A job waiting at a gate is continued or aborted, not canceled.
  document.getElementById("cancel-form")?.toggleAttribute("hidden", finished || waiting);
  document.getElementById("gate-form")?.toggleAttribute("hidden", !waiting);
  if (result !== undefined && result !== null) {
    const box = document.getElementById("job-result");
    box.textContent = result;
    box.hidden = !result;  // continue clears what the gate said
  }
}

function setStep(s) {
  const li = document.querySelector(`#steps li[data-step="${s.id}"]`);
  if (!li) return;
  const badge = li.querySelector('[data-role="state"]');
  badge.textContent = s.state;
  badge.className = `ferry-badge ${s.state}`;
  if (s.rc !== undefined && s.rc !== null) li.querySelector('[data-role="rc"]').textContent = `rc ${s.rc}`;
  const all = document.querySelectorAll("#steps li:not(.ferry-muted)");
  const done = [...all].filter((x) => x.querySelector('[data-role="state"]').textContent === "succeeded").length;
  document.getElementById("step-bar").value = done;
  document.getElementById("step-progress").textContent = `${done} of ${all.length} done`;
}

function setHosts(hosts) {
  const body = document.querySelector("#hosts tbody");
  for (const h of hosts) {
    let row = body.querySelector(`tr[data-host="${CSS.escape(h.host)}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.host = h.host;
      row.innerHTML = "<td></td><td></td><td></td><td></td><td></td><td></td>";
      body.appendChild(row);
    }
    const cells = row.children;
    cells[0].textContent = h.host;
    ["ok", "changed", "failed", "unreachable", "skipped"].forEach((k, i) => {
      cells[i + 1].textContent = h[k];
      cells[i + 1].className = (k === "failed" || k === "unreachable") && h[k] ? "ferry-bad" : "";
    });
  }
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}${root.dataset.ws}?after=${lastSeq}`);
  const status = document.getElementById("log-connection");
  status.textContent = "connecting…";
  ws.onmessage = (msg) => {
    const m = JSON.parse(msg.data);
    if (m.kind === "events") addEvents(m.events);
    else if (m.kind === "snapshot") { setState(m.state, m.result); m.steps.forEach(setStep); setHosts(m.hosts); document.getElementById("current-task").textContent = m.current_task || "—"; }
    else if (m.kind === "live") { status.textContent = finished ? "complete" : "live"; retry = 0; }
    else if (m.kind === "job") { setState(m.state, m.result); (m.steps || []).forEach(setStep); }
    else if (m.kind === "step") setStep(m);
    else if (m.kind === "hosts") setHosts(m.hosts);
    else if (m.kind === "error") status.textContent = `refused: ${m.reason}`;
    const last = m.kind === "events" && m.events.length ? m.events[m.events.length - 1] : null;
    if (last && last.task) document.getElementById("current-task").textContent = last.task;
  };
  ws.onclose = (ev) => {
    if (ev.code === 4403) { status.textContent = `refused: ${ev.reason || "no access"}`; return; }
    if (finished) { status.textContent = "finished"; return; }
    retry = Math.min(retry + 1, 6);
    const wait = Math.round(250 * 2 ** retry);
    status.textContent = `reconnecting in ${wait} ms…`;
    setTimeout(connect, wait);
  };
}

window.ferryLog = { lines, get lastSeq() { return lastSeq; } };
// The page brings the log's first events; the socket replays from after them.
addEvents(JSON.parse(document.getElementById("log-initial").textContent));
connect();
