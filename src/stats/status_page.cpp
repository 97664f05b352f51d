// The status page's HTML, CSS and JavaScript, embedded in the binary.
#include "stats/status_page.h"

namespace t2s::stats {

namespace {

// Throughput comes from differences of the byte counters between polls (one per second),
// kept for five minutes. Text from the server is only ever set as textContent, never as HTML.
constexpr std::string_view kPage = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tun2socks</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left; }
tr:nth-child(even) { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
#counters { columns: 3 22em; } #counters div { display: flex; justify-content: space-between; padding: 1px 6px; }
canvas { border: 1px solid #ccc; width: 100%; max-width: 900px; height: 180px; }
.up { color: #c0392b; } .down { color: #2471a3; } #error { color: #c0392b; }
</style>
</head>
<body>
<h1>tun2socks <span id="uptime"></span></h1>
<div id="error"></div>
<h2>Throughput <span class="up">&#9650; <span id="rate-up">0 B/s</span></span>
<span class="down">&#9660; <span id="rate-down">0 B/s</span></span></h2>
<canvas id="chart" width="900" height="180"></canvas>
<h2>Counters</h2>
<div id="counters"></div>
<h2>Connections (<span id="connection-total">0</span>)</h2>
<table>
<thead><tr><th>protocol</th><th>source</th><th>destination</th><th>up</th><th>down</th><th>age</th><th>state</th></tr></thead>
<tbody id="connections"></tbody>
</table>
<script>
"use strict";
const historySeconds = 300;
const samples = [];
let previous = null;

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(Math.round(n))) + " " + units[i];
}

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "n";
  row.appendChild(td);
}

function draw() {
  const canvas = document.getElementById("chart");
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  const peak = Math.max(1, ...samples.map(s => Math.max(s.up, s.down)));
  const step = canvas.width / historySeconds;
  for (const [key, colour] of [["up", "#c0392b"], ["down", "#2471a3"]]) {
    context.strokeStyle = colour;
    context.beginPath();
    samples.forEach((s, i) => {
      const x = canvas.width - (samples.length - 1 - i) * step;
      const y = canvas.height - 4 - (canvas.height - 20) * s[key] / peak;
      if (i === 0) context.moveTo(x, y); else context.lineTo(x, y);
    });
    context.stroke();
  }
  context.fillStyle = "#555";
  context.fillText("peak " + bytes(peak) + "/s, last " + historySeconds / 60 + " minutes", 6, 12);
}

function showStats(stats) {
  const c = stats.counters;
  const now = { time: stats.uptime_seconds, up: c.bytes_up + c.udp_bytes_up,
                down: c.bytes_down + c.udp_bytes_down };
  if (previous && now.time > previous.time) {
    const seconds = now.time - previous.time;
    const sample = { up: (now.up - previous.up) / seconds, down: (now.down - previous.down) / seconds };
    samples.push(sample);
    if (samples.length > historySeconds) samples.shift();
    document.getElementById("rate-up").textContent = bytes(sample.up) + "/s";
    document.getElementById("rate-down").textContent = bytes(sample.down) + "/s";
  }
  previous = now;
  document.getElementById("uptime").textContent = "up " + Math.floor(stats.uptime_seconds) + " s";
  const box = document.getElementById("counters");
  box.replaceChildren();
  for (const group of [stats.counters, stats.gauges]) {
    for (const [name, value] of Object.entries(group)) {
      const line = document.createElement("div");
      line.dataset.counter = name;
      const label = document.createElement("span");
      label.textContent = name;
      const number = document.createElement("span");
      number.className = "value";
      number.textContent = String(value);
      line.append(label, number);
      box.appendChild(line);
    }
  }
  draw();
}

function showConnections(page) {
  document.getElementById("connection-total").textContent = String(page.total);
  const body = document.getElementById("connections");
  body.replaceChildren();
  for (const c of page.connections) {
    const row = document.createElement("tr");
    row.className = "connection";
    cell(row, c.protocol); cell(row, c.source); cell(row, c.destination);
    cell(row, bytes(c.bytes_up), true); cell(row, bytes(c.bytes_down), true);
    cell(row, Math.floor(c.age_seconds) + " s", true); cell(row, c.state);
    body.appendChild(row);
  }
}

async function poll() {
  try {
    const [stats, page] = await Promise.all([
      fetch("stats", { cache: "no-store" }).then(r => r.json()),
      fetch("connections?limit=100", { cache: "no-store" }).then(r => r.json())]);
    showStats(stats);
    showConnections(page);
    document.getElementById("error").textContent = "";
  } catch (error) {
    document.getElementById("error").textContent = "cannot reach the tunnel: " + error;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view status_page() {
  return kPage;
}

}  // namespace t2s::stats
