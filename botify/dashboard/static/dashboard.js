// The botify dashboard: polls /api/state and draws tables and inline SVG charts. No dependencies.
"use strict";

const COLORS = ["#374151", "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2",
  "#ca8a04", "#db2777", "#4d7c0f", "#7c3aed", "#0f766e"];
let interval = 2000;
let chosen = "";  // the experiment asked for ("" = the latest)
let timer = null;

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function fixed(x, digits) { return x === null || x === undefined ? "–" : x.toFixed(digits); }
function signed(x) { return x === null || x === undefined ? "–" : (x > 0 ? "+" : "") + x.toFixed(2) + "%"; }
function pvalue(x) {
  if (x === null || x === undefined) return "–";
  return x < 0.0001 ? x.toExponential(1) : x.toFixed(4);
}
function count(n) { return n.toLocaleString("en-US"); }
function colorOf(treatments, name) {
  const index = treatments.findIndex((t) => t.treatment === name);
  return COLORS[(index < 0 ? 0 : index) % COLORS.length];
}

function renderStatus(data) {
  document.getElementById("experiment").textContent = data.experiment || "…";
  const select = document.getElementById("experiments");
  const options = [["", "latest"], ...data.experiments.map((name) => [name, name])];
  const wanted = options.map((o) => o[0]).join("\n");
  if (select.dataset.options !== wanted) {
    select.innerHTML = options.map(([value, label]) =>
      `<option value="${esc(value)}">${esc(label)}</option>`).join("");
    select.dataset.options = wanted;
    select.value = chosen;
  }
  const parts = [];
  if (data.events !== undefined) parts.push(`${count(data.events)} events`);
  if (data.last_timestamp) parts.push(`newest ${new Date(data.last_timestamp).toLocaleTimeString()}`);
  parts.push(`look ${data.refresh_seconds.toFixed(2)} s`);
  parts.push(`updated ${new Date().toLocaleTimeString()}`);
  parts.push(esc(data.logs));
  const status = document.getElementById("status");
  status.textContent = parts.join(" · ");
  status.dataset.refreshes = data.refreshes;
}

function renderWarnings(data) {
  const items = [...(data.warnings || [])];
  if (data.message) items.unshift(data.message);
  if (data.malformed_lines) items.push(`${data.malformed_lines} line(s) that are not events skipped`);
  document.getElementById("warnings").innerHTML = items.map((w) =>
    `<li class="${w.startsWith("SAMPLE RATIO MISMATCH") ? "loud" : ""}">${esc(w)}</li>`).join("");
}

function intervalSvg(row, low, high) {
  const width = 300, height = 18, pad = 6;
  const x = (v) => pad + ((v - low) / (high - low)) * (width - 2 * pad);
  let svg = `<svg width="100%" height="${height}" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none">`;
  svg += `<line x1="${x(0)}" x2="${x(0)}" y1="0" y2="${height}" stroke="#9ca3af" stroke-dasharray="2,2"/>`;
  if (!row.control && row.lower !== null && row.upper !== null) {
    const color = row.significant ? (row.effect > 0 ? "#16a34a" : "#dc2626") : "#6b7280";
    svg += `<line x1="${x(row.lower)}" x2="${x(row.upper)}" y1="9" y2="9" stroke="${color}" stroke-width="3"/>`;
    svg += `<circle cx="${x(row.effect)}" cy="9" r="4" fill="${color}"/>`;
  } else if (!row.control && row.effect !== null && row.effect !== undefined) {
    svg += `<circle cx="${x(row.effect)}" cy="9" r="4" fill="#9ca3af"/>`;
  }
  return svg + "</svg>";
}

function renderTreatments(data) {
  const rows = data.treatments || [];
  let low = 0, high = 0;
  for (const row of rows) {
    for (const v of [row.lower, row.upper, row.effect]) {
      if (v !== null && v !== undefined) { low = Math.min(low, v); high = Math.max(high, v); }
    }
  }
  const span = Math.max(high - low, 1);
  low -= span * 0.05; high += span * 0.05;
  document.getElementById("level").textContent = String(Math.round((1 - data.alpha) * 100));
  document.querySelector("#treatments tbody").innerHTML = rows.map((row) => {
    const direction = row.effect > 0 ? "up" : row.effect < 0 ? "down" : "";
    const significance = row.significant ? (row.effect > 0 ? "sig-up" : "sig-down") : "";
    const effect = row.control ? "control" : signed(row.effect);
    const ci = row.control ? "" : row.reason ? esc(row.reason) :
      `${signed(row.lower)} … ${signed(row.upper)}`;
    return `<tr data-treatment="${esc(row.treatment)}">` +
      `<td data-field="treatment"><span class="swatch" style="background:${colorOf(rows, row.treatment)}"></span>${esc(row.treatment)}</td>` +
      `<td data-field="recommender">${esc(row.recommender)}</td>` +
      `<td class="n" data-field="users">${count(row.users)}</td>` +
      `<td class="n" data-field="sessions">${count(row.sessions)}</td>` +
      `<td class="n" data-field="events">${count(row.events)}</td>` +
      `<td class="n" data-field="mean">${fixed(row.mean, 4)}</td>` +
      `<td class="n ${direction}" data-field="effect">${effect}</td>` +
      `<td class="n ${significance}" data-field="interval">${ci}</td>` +
      `<td class="n" data-field="p_value">${row.control ? "" : pvalue(row.p_value)}</td>` +
      `<td class="n" data-field="p_value_holm">${row.control ? "" : pvalue(row.p_value_holm)}</td>` +
      `<td class="chart">${intervalSvg(row, low, high)}</td></tr>`;
  }).join("");
}

function renderSrm(data) {
  const srm = data.srm;
  const element = document.getElementById("srm");
  if (!srm) { element.textContent = ""; return; }
  const observed = Object.entries(srm.observed).map(([t, n]) => `${esc(t)} ${count(n)}`).join(", ");
  const verdict = srm.reason ? `<span>${esc(srm.reason)}</span>` : srm.mismatch
    ? `<span class="srm-bad" data-field="srm-verdict">MISMATCH</span>`
    : `<span class="srm-ok" data-field="srm-verdict">OK</span>`;
  element.innerHTML = `${verdict} users: ${observed}; chi-square ` +
    `<span data-field="srm-chi2">${fixed(srm.chi2, 3)}</span>, p = ` +
    `<span data-field="srm-p">${pvalue(srm.p_value)}</span> (mismatch below ${srm.threshold})`;
}

function renderOverTime(data) {
  const series = data.over_time || [];
  const element = document.getElementById("over-time");
  const points = series.flatMap((s) => s.points.filter((p) => p[1] !== null));
  if (!points.length) { element.innerHTML = "<p>no closed session yet</p>"; return; }
  const width = 900, height = 260, left = 48, right = 12, top = 10, bottom = 28;
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  const y0 = 0, y1 = Math.max(...ys) * 1.1 || 1;
  const x = (v) => left + ((v - x0) / (x1 - x0)) * (width - left - right);
  const y = (v) => top + (1 - (v - y0) / (y1 - y0)) * (height - top - bottom);
  let svg = `<svg width="100%" viewBox="0 0 ${width} ${height}" role="img">`;
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    svg += `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`;
    svg += `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`;
  }
  for (let i = 0; i <= 4; i++) {
    const v = x0 + ((x1 - x0) * i) / 4;
    svg += `<text x="${x(v)}" y="${height - 8}" text-anchor="middle">${new Date(v).toLocaleTimeString()}</text>`;
  }
  const rows = data.treatments || [];
  for (const s of series) {
    const path = s.points.filter((p) => p[1] !== null)
      .map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    const dashed = s.treatment === data.control ? ' stroke-dasharray="6,4"' : "";
    svg += `<polyline fill="none" stroke="${colorOf(rows, s.treatment)}" stroke-width="2"${dashed} points="${path}"/>`;
  }
  svg += "</svg>";
  const legend = series.map((s) => {
    const row = rows.find((r) => r.treatment === s.treatment);
    return `<span><span class="swatch" style="background:${colorOf(rows, s.treatment)}"></span>` +
      `${esc(s.treatment)} ${esc(row ? row.recommender : "")}</span>`;
  }).join("");
  element.innerHTML = svg + `<div class="legend">${legend}</div>`;
}

function renderLatency(data) {
  const rows = data.latency || [];
  const high = Math.max(...rows.map((r) => r.p99_ms || 0), 0.001);
  document.querySelector("#latency tbody").innerHTML = rows.map((r) => {
    const x = (v) => (v / high) * 290 + 5;
    const bar = `<svg width="100%" height="14" viewBox="0 0 300 14" preserveAspectRatio="none">` +
      `<rect x="${x(r.p50_ms)}" y="3" width="${Math.max(x(r.p99_ms) - x(r.p50_ms), 1)}" height="8" fill="#93c5fd"/>` +
      `<line x1="${x(r.mean_ms)}" x2="${x(r.mean_ms)}" y1="0" y2="14" stroke="#1d4ed8" stroke-width="2"/></svg>`;
    return `<tr data-recommender="${esc(r.recommender)}"><td>${esc(r.recommender)}</td>` +
      `<td class="n" data-field="events">${count(r.events)}</td>` +
      `<td class="n" data-field="mean_ms">${fixed(r.mean_ms, 2)}</td>` +
      `<td class="n">${fixed(r.p50_ms, 2)}</td><td class="n">${fixed(r.p95_ms, 2)}</td>` +
      `<td class="n">${fixed(r.p99_ms, 2)}</td><td class="chart">${bar}</td></tr>`;
  }).join("");
}

function render(data) {
  interval = Math.max(500, (data.refresh_interval || 2) * 1000);
  renderStatus(data);
  renderWarnings(data);
  renderTreatments(data);
  renderSrm(data);
  renderOverTime(data);
  renderLatency(data);
  document.body.dataset.version = String(Number(document.body.dataset.version || 0) + 1);
}

async function poll() {
  try {
    const query = chosen ? `?experiment=${encodeURIComponent(chosen)}` : "";
    const response = await fetch(`/api/state${query}`, {cache: "no-store"});
    if (response.ok) render(await response.json());
    else document.getElementById("status").textContent = `the dashboard answered ${response.status}`;
  } catch (error) {
    document.getElementById("status").textContent = `the dashboard is not answering (${error.message})`;
  }
  clearTimeout(timer);
  timer = setTimeout(poll, interval);
}

document.getElementById("experiments").addEventListener("change", (event) => {
  chosen = event.target.value;
  clearTimeout(timer);
  poll();
});
poll();
