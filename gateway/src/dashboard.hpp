// SPDX-License-Identifier: Apache-2.0
#pragma once

/// The dashboard, served from the binary by admin_http: one page, one script, one style sheet,
/// no CDN (the machines of our users are often offline). The page logs in with POST
/// /api/v1/login (session cookie), follows /api/v1/events (server-sent events, a `stats` event
/// every 2 s) and refreshes the clients, devices, Modbus and bridges tables on each event. The chart is a plain
/// canvas.

#include <string_view>

namespace edgemq::app {

inline constexpr std::string_view dashboard_html = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgemq dashboard</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header><h1>edgemq</h1><span id="version"></span><span id="uptime"></span>
<button id="logout" hidden>Log out</button></header>
<main>
<form id="login" hidden>
  <h2>Log in</h2>
  <label>User <input id="username" name="username" autocomplete="username" required></label>
  <label>Password <input id="password" name="password" type="password"
         autocomplete="current-password" required></label>
  <button type="submit">Log in</button>
  <p id="login-error" class="error"></p>
</form>
<div id="dashboard" hidden>
  <section class="counters">
    <div><span class="value" id="clients-connected">-</span><span>clients connected</span></div>
    <div><span class="value" id="messages-received">-</span><span>messages received</span></div>
    <div><span class="value" id="messages-sent">-</span><span>messages sent</span></div>
    <div><span class="value" id="messages-dropped">-</span><span>messages dropped</span></div>
    <div><span class="value" id="subscriptions">-</span><span>subscriptions</span></div>
    <div><span class="value" id="retained-messages">-</span><span>retained messages</span></div>
  </section>
  <section>
    <h2>Message rate <small>(messages/s, last 10 minutes:
      <span class="in">received</span>, <span class="out">sent</span>)</small></h2>
    <canvas id="rate" width="900" height="180"></canvas>
  </section>
  <section>
    <h2>Clients</h2>
    <table id="clients"><thead><tr><th>Client ID</th><th>Peer</th><th>Listener</th>
      <th>User</th><th>Subscriptions</th><th>Connected since</th></tr></thead>
      <tbody></tbody></table>
  </section>
  <section>
    <h2>Devices</h2>
    <table id="devices"><thead><tr><th>Device</th><th>Availability</th><th>Port</th>
      <th>Last values</th><th>Frames</th><th>Errors</th><th>Last seen</th></tr></thead>
      <tbody></tbody></table>
  </section>
  <section>
    <h2>Modbus</h2>
    <table id="modbus"><thead><tr><th>Bus</th><th>Port</th><th>Slave</th><th>Availability</th>
      <th>Polls</th><th>Failed</th><th>Last exception</th><th>Last seen</th></tr></thead>
      <tbody></tbody></table>
  </section>
  <section>
    <h2>Bridges</h2>
    <table id="bridges"><thead><tr><th>Bridge</th><th>State</th><th>Remote</th>
      <th>Queued</th><th>Sent</th><th>Acked</th><th>Dropped</th></tr></thead>
      <tbody></tbody></table>
  </section>
</div>
</main>
</body>
</html>
)html";

inline constexpr std::string_view dashboard_css = R"css(
[hidden] { display: none !important; }
body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2733; background: #f3f5f8; }
header { display: flex; gap: 1em; align-items: baseline; padding: .6em 1.2em;
         background: #1d2733; color: #fff; }
header h1 { font-size: 1.3em; margin: 0; }
header button { margin-left: auto; }
main { padding: 1em 1.2em; max-width: 1000px; }
h2 { font-size: 1.05em; margin: 1.2em 0 .5em; }
form#login { display: grid; gap: .6em; max-width: 320px; background: #fff; padding: 1em;
             border-radius: 6px; }
.counters { display: grid; grid-template-columns: repeat(6, 1fr); gap: .6em; }
.counters div { background: #fff; border-radius: 6px; padding: .6em; display: grid; }
.counters .value { font-size: 1.5em; font-weight: 600; }
canvas { background: #fff; border-radius: 6px; width: 100%; }
table { border-collapse: collapse; width: 100%; background: #fff; border-radius: 6px; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #e4e8ee; }
.badge { padding: .1em .5em; border-radius: 1em; font-size: .9em; }
.badge.online { background: #dcf5e3; color: #1a7f37; }
.badge.offline { background: #fde2e1; color: #b3261e; }
.muted { color: #8391a2; }
.error { color: #b3261e; }
.in { color: #1f6feb; } .out { color: #d97706; }
)css";

inline constexpr std::string_view dashboard_js = R"js('use strict';
const $ = (id) => document.getElementById(id);
let events = null;
let points = []; // {time, received, sent} totals, oldest first

async function api(path, options) {
  const res = await fetch('/api/v1/' + path, Object.assign({credentials: 'same-origin'}, options));
  if (res.status === 401) { show_login(); throw new Error('unauthorized'); }
  return res;
}

function show_login() {
  if (events) { events.close(); events = null; }
  $('dashboard').hidden = true; $('logout').hidden = true; $('login').hidden = false;
}

function cell(row, text) { const td = row.insertCell(); td.textContent = text; }

function show_counters(c) {
  $('clients-connected').textContent = c.clients_connected;
  $('messages-received').textContent = c.messages_received;
  $('messages-sent').textContent = c.messages_sent;
  $('messages-dropped').textContent = c.messages_dropped;
  $('subscriptions').textContent = c.subscriptions;
  $('retained-messages').textContent = c.retained_messages;
  const s = c.uptime_seconds;
  $('uptime').textContent = 'up ' + Math.floor(s / 3600) + 'h ' + Math.floor(s / 60) % 60 + 'm';
}

async function refresh_clients() {
  const body = await (await api('clients?limit=1000')).json();
  const tbody = $('clients').tBodies[0];
  tbody.replaceChildren();
  for (const c of body.data) {
    const row = tbody.insertRow();
    cell(row, c.client_id); cell(row, c.peer); cell(row, c.listener);
    cell(row, c.username === null ? '' : c.username); cell(row, c.subscriptions);
    // In-process clients (serial devices, bridges) have no connection time.
    cell(row, c.internal ? 'internal'
              : c.connected_at ? new Date(c.connected_at * 1000).toLocaleString() : 'offline');
  }
  if (body.data.length === 0) {
    const row = tbody.insertRow(); cell(row, 'No clients.'); row.className = 'muted';
  }
}

// Last values as `temp=25.1  hum=60`; `ts` is left out, the last-seen column has the time.
function values_text(v) {
  if (v === null || typeof v !== 'object') return v === null ? '' : JSON.stringify(v);
  return Object.entries(v).filter(([k]) => k !== 'ts')
    .map(([k, x]) => k + '=' + (typeof x === 'object' ? JSON.stringify(x) : x)).join('  ');
}

// The device's port, with the USB identity libserialport reports for it:
// "/dev/ttyUSB0 (1a86:7523 A9 at 1-1.2)", the manufacturer and product in its title.
function port_cell(row, d) {
  const p = d.port_details;
  const usb = p && p.vid ? [p.vid + ':' + p.pid, p.serial, p.location && 'at ' + p.location]
    .filter(Boolean).join(' ') : '';
  cell(row, d.port ? d.port + (usb ? ' (' + usb + ')' : '') : '-');
  if (p && (p.manufacturer || p.product)) {
    row.cells[row.cells.length - 1].title = [p.manufacturer, p.product].filter(Boolean).join(' ');
  }
}

async function refresh_devices() {
  const body = await (await api('devices?limit=1000')).json();
  const tbody = $('devices').tBodies[0];
  tbody.replaceChildren();
  for (const d of body.data) {
    const row = tbody.insertRow();
    row.dataset.device = d.id;
    cell(row, d.id);
    const badge = document.createElement('span');
    badge.className = 'badge ' + d.availability; badge.textContent = d.availability;
    const availability = row.insertCell(); availability.appendChild(badge);
    if (d.last_error) availability.title = d.last_error;
    port_cell(row, d); cell(row, values_text(d.values)); cell(row, d.stats.frames);
    cell(row, d.stats.parse_errors + d.stats.dropped);
    cell(row, d.last_seen_ms ? new Date(d.last_seen_ms).toLocaleTimeString() : 'never');
  }
  if (body.data.length === 0) {
    const row = tbody.insertRow(); cell(row, 'No serial devices.'); row.className = 'muted';
  }
}

// One row per slave; the bus's port (and why it is closed) in the port cell.
async function refresh_modbus() {
  const body = await (await api('modbus?limit=1000')).json();
  const tbody = $('modbus').tBodies[0];
  tbody.replaceChildren();
  for (const b of body.data) {
    for (const s of b.slaves) {
      const row = tbody.insertRow();
      row.dataset.slave = s.name;
      cell(row, b.name);
      cell(row, b.open ? b.port + ' (' + b.baud + ' ' + b.line + ')' : 'closed');
      if (!b.open && b.last_error) row.cells[1].title = b.last_error;
      cell(row, s.name + ' (id ' + s.id + ')');
      const badge = document.createElement('span');
      badge.className = 'badge ' + s.availability; badge.textContent = s.availability;
      const availability = row.insertCell(); availability.appendChild(badge);
      if (s.last_error) availability.title = s.last_error;
      cell(row, s.stats.polls); cell(row, s.stats.failed_polls);
      cell(row, s.last_exception === null ? '' : s.last_exception);
      cell(row, s.last_seen_ms ? new Date(s.last_seen_ms).toLocaleTimeString() : 'never');
    }
  }
  if (tbody.rows.length === 0) {
    const row = tbody.insertRow(); cell(row, 'No Modbus buses.'); row.className = 'muted';
  }
}

async function refresh_bridges() {
  const body = await (await api('bridges?limit=1000')).json();
  const tbody = $('bridges').tBodies[0];
  tbody.replaceChildren();
  for (const b of body.data) {
    const row = tbody.insertRow();
    row.dataset.bridge = b.name;
    cell(row, b.name);
    const badge = document.createElement('span');
    badge.className = 'badge ' + (b.state === 'connected' ? 'online' : 'offline');
    badge.textContent = b.state;
    const state = row.insertCell(); state.appendChild(badge);
    if (b.last_error) state.title = b.last_error;
    cell(row, b.address); cell(row, b.queue.messages); cell(row, b.stats.sent);
    cell(row, b.stats.acked); cell(row, b.stats.dropped);
  }
  if (body.data.length === 0) {
    const row = tbody.insertRow(); cell(row, 'No bridges.'); row.className = 'muted';
  }
}

function draw() {
  const canvas = $('rate');
  const g = canvas.getContext('2d');
  const w = canvas.width, h = canvas.height, pad = 30;
  g.clearRect(0, 0, w, h);
  // The x axis spans the history there is, from one to ten minutes.
  const now = Date.now() / 1000;
  const span = Math.min(600, Math.max(60, now - (points.length ? points[0].time : now)));
  const rates = [];
  for (let i = 1; i < points.length; i++) {
    const dt = points[i].time - points[i - 1].time;
    if (dt <= 0) continue;
    rates.push({time: points[i].time,
                received: (points[i].received - points[i - 1].received) / dt,
                sent: (points[i].sent - points[i - 1].sent) / dt});
  }
  const top = Math.max(1, ...rates.map(r => Math.max(r.received, r.sent)));
  g.strokeStyle = '#e4e8ee'; g.fillStyle = '#8391a2'; g.font = '11px sans-serif';
  for (let k = 0; k <= 4; k++) {
    const y = h - pad / 2 - (h - pad) * k / 4;
    g.beginPath(); g.moveTo(pad, y); g.lineTo(w, y); g.stroke();
    g.fillText((top * k / 4).toFixed(top < 10 ? 1 : 0), 2, y + 4);
  }
  const x = (t) => pad + (w - pad) * (1 - (now - t) / span);
  const y = (v) => h - pad / 2 - (h - pad) * v / top;
  for (const [key, color] of [['received', '#1f6feb'], ['sent', '#d97706']]) {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    rates.forEach((r, i) => i ? g.lineTo(x(r.time), y(r[key])) : g.moveTo(x(r.time), y(r[key])));
    g.stroke();
  }
}

function on_stats(c) {
  show_counters(c);
  points.push({time: c.time, received: c.messages_received, sent: c.messages_sent});
  points = points.filter(p => p.time > c.time - 600);
  draw();
  refresh_clients().catch(() => {});
  refresh_devices().catch(() => {});
  refresh_modbus().catch(() => {});
  refresh_bridges().catch(() => {});
}

async function start() {
  const res = await api('status');
  const status = await res.json();
  $('version').textContent = 'version ' + status.version;
  show_counters(status.counters);
  const rates = await (await api('rates')).json();
  points = rates.data;
  $('login').hidden = true; $('dashboard').hidden = false; $('logout').hidden = false;
  await refresh_clients();
  await refresh_devices();
  await refresh_modbus();
  await refresh_bridges();
  draw();
  events = new EventSource('/api/v1/events');
  events.addEventListener('stats', (e) => on_stats(JSON.parse(e.data)));
  events.onerror = () => { api('status').catch(() => {}); };
}

$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  const res = await fetch('/api/v1/login', {
    method: 'POST', headers: {'Content-Type': 'application/json'}, credentials: 'same-origin',
    body: JSON.stringify({username: $('username').value, password: $('password').value})});
  if (!res.ok) {
    $('login-error').textContent = (await res.json()).message;
    return;
  }
  $('password').value = '';
  start().catch(() => {});
});

$('logout').addEventListener('click', async () => {
  await fetch('/api/v1/logout', {method: 'POST', credentials: 'same-origin'});
  show_login();
});

start().catch(() => show_login());
)js";

} // namespace edgemq::app
