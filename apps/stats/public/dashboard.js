/* Live dashboard: Chart.js charts fed by the SSE stream and the stats API. */
'use strict';

const COLORS = ['#2f6fde', '#e4572e', '#17b890', '#f3a712', '#8e44ad', '#29335c', '#a8c256', '#d7263d', '#5f0f40', '#0b6e4f'];
const FLOW_POINTS = 120;

function lineChart(id, datasets) {
  return new Chart(document.getElementById(id), {
    type: 'line',
    data: { labels: [], datasets },
    options: { animation: false, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false }, scales: { y: { beginAtZero: true } }, elements: { point: { radius: 1.5 } } },
  });
}

function barChart(id, horizontal) {
  return new Chart(document.getElementById(id), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'submissions', data: [], backgroundColor: COLORS[0] }] },
    options: { animation: false, maintainAspectRatio: false, indexAxis: horizontal ? 'y' : 'x', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
  });
}

function receivedPersistedChart(id) {
  return new Chart(document.getElementById(id), {
    type: 'bar',
    data: {
      labels: [],
      datasets: [
        { label: 'received', data: [], backgroundColor: COLORS[0] },
        { label: 'persisted', data: [], backgroundColor: COLORS[2] },
      ],
    },
    options: { animation: false, maintainAspectRatio: false, indexAxis: 'y', scales: { x: { beginAtZero: true } } },
  });
}

const charts = {
  channels: lineChart('chart-channels', []),
  flow: lineChart('chart-flow', [
    { label: 'received /s', data: [], borderColor: COLORS[0], backgroundColor: COLORS[0] },
    { label: 'persisted /s', data: [], borderColor: COLORS[2], backgroundColor: COLORS[2] },
  ]),
  versions: barChart('chart-versions', true),
  errors: barChart('chart-errors', false),
  namespaces: receivedPersistedChart('chart-namespaces'),
  docTypes: barChart('chart-doctypes', true),
};
window.telemetryCharts = charts;

const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function onSummary(summary) {
  document.getElementById('received-rate').textContent = summary.receivedPerSecond.toFixed(2);
  document.getElementById('persisted-rate').textContent = summary.persistedPerSecond.toFixed(2);
  document.getElementById('received-total').textContent = String(summary.received);
  const errorTotal = Object.values(summary.errors).reduce((a, b) => a + b, 0);
  document.getElementById('error-total').textContent = String(errorTotal);

  const flow = charts.flow;
  flow.data.labels.push(clock(Date.now()));
  flow.data.datasets[0].data.push(summary.receivedPerSecond);
  flow.data.datasets[1].data.push(summary.persistedPerSecond);
  if (flow.data.labels.length > FLOW_POINTS) {
    flow.data.labels.shift();
    for (const dataset of flow.data.datasets) dataset.data.shift();
  }
  flow.update();

  const types = Object.keys(summary.errors).sort();
  // An empty chart reads as broken: say there were none.
  charts.errors.data.labels = types.length > 0 ? types : ['no errors'];
  charts.errors.data.datasets[0].data = types.length > 0 ? types.map((t) => summary.errors[t]) : [0];
  charts.errors.data.datasets[0].backgroundColor = COLORS[1];
  charts.errors.update();
}

async function refreshChannels() {
  const { values } = await getJson('/api/stats/dimensions/appUpdateChannel?window=30m&top=6');
  const series = await Promise.all(
    values.map((v) => getJson(`/api/stats/timeseries?dimension=appUpdateChannel&value=${encodeURIComponent(v.value)}&window=30m&step=1m`)),
  );
  const chart = charts.channels;
  chart.data.labels = series[0] ? series[0].points.map((p) => clock(p.t)) : [];
  chart.data.datasets = series.map((s, i) => ({
    label: s.value,
    data: s.points.map((p) => p.received / 60),
    borderColor: COLORS[i % COLORS.length],
    backgroundColor: COLORS[i % COLORS.length],
  }));
  chart.update();
}

async function refreshVersions() {
  const { values } = await getJson('/api/stats/dimensions/appVersion?window=1h&top=10');
  charts.versions.data.labels = values.map((v) => v.value);
  charts.versions.data.datasets[0].data = values.map((v) => v.received);
  charts.versions.update();
}

// Every submission, telemetry or Glean, has a namespace (telemetry's is "telemetry") and a docType.
async function refreshNamespaces() {
  const [{ values: namespaces }, { values: docTypes }] = await Promise.all([
    getJson('/api/stats/dimensions/namespace?window=1h&top=10'),
    getJson('/api/stats/dimensions/docType?window=1h&top=10'),
  ]);
  charts.namespaces.data.labels = namespaces.map((v) => v.value);
  charts.namespaces.data.datasets[0].data = namespaces.map((v) => v.received);
  charts.namespaces.data.datasets[1].data = namespaces.map((v) => v.persisted);
  charts.namespaces.update();
  charts.docTypes.data.labels = docTypes.map((v) => v.value);
  charts.docTypes.data.datasets[0].data = docTypes.map((v) => v.received);
  charts.docTypes.update();
  document.getElementById('empty-state').hidden = namespaces.some((v) => v.received > 0);
}

async function refreshAll() {
  await Promise.all([refreshChannels(), refreshVersions(), refreshNamespaces()]).catch((error) => console.warn(error));
}

function connect() {
  const state = document.getElementById('live-state');
  const source = new EventSource('/api/stats/stream');
  let lastRefresh = 0;
  source.onopen = () => {
    state.textContent = 'live';
    state.className = 'live on';
  };
  source.onmessage = (event) => {
    onSummary(JSON.parse(event.data));
    // The per-dimension charts follow the stream, a little less often.
    if (Date.now() - lastRefresh > 3000) {
      lastRefresh = Date.now();
      void refreshAll();
    }
  };
  source.onerror = () => {
    state.textContent = 'reconnecting…';
    state.className = 'live off';
  };
}

void refreshAll();
connect();
