/* Histogram aggregates view: reads the MapReduce output served under /data/. */
'use strict';

(function histogramView() {
  const $ = (id) => document.getElementById(id);
  let index = { entries: [] };
  let current;
  const chart = new Chart($('chart-histogram'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'count', data: [], backgroundColor: '#2f6fde' }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
  window.telemetryCharts = Object.assign(window.telemetryCharts || {}, { histogram: chart });

  function fill(select, values, selected) {
    select.replaceChildren(...values.map((v) => new Option(v, v, false, v === selected)));
    if (!values.includes(select.value) && values.length > 0) select.value = values[0];
  }

  const unique = (values) => [...new Set(values)].sort();
  // What most users want to see first: the most records (not the first name in sort order).
  const most = (items, records) => items.reduce((best, item) => (best === undefined || records(item) > records(best) ? item : best), undefined);

  async function loadEntry() {
    const channel = $('histogram-channel').value;
    const version = $('histogram-version').value;
    const entry = index.entries.find((e) => e.appUpdateChannel === channel && e.appVersion === version);
    if (!entry) return;
    const response = await fetch(`/data/${entry.file}`);
    if (!response.ok) return;
    current = await response.json();
    const names = Object.keys(current.histograms).sort();
    const chosen = names.includes($('histogram-name').value) ? $('histogram-name').value : most(names, (name) => current.histograms[name].records);
    fill($('histogram-name'), names, chosen);
    draw();
  }

  function draw() {
    const histogram = current && current.histograms[$('histogram-name').value];
    if (!histogram) return;
    // Bounds are null when the revision's Histograms.json could not be fetched: label by bucket index.
    chart.data.labels = histogram.bounds ? histogram.bounds.map(String) : histogram.counts.map((_, i) => `#${i}`);
    chart.data.datasets[0].data = histogram.counts;
    chart.update();
    $('histogram-records').textContent = String(histogram.records);
  }

  function onChannel() {
    const entries = index.entries.filter((e) => e.appUpdateChannel === $('histogram-channel').value);
    fill($('histogram-version'), unique(entries.map((e) => e.appVersion)), (most(entries, (e) => e.records) || {}).appVersion);
    void loadEntry();
  }

  async function load() {
    const response = await fetch('/data/index.json');
    if (!response.ok) {
      $('histogram-empty').hidden = false;
      return;
    }
    index = await response.json();
    if (index.entries.length === 0) {
      $('histogram-empty').hidden = false;
      return;
    }
    $('histogram-view').hidden = false;
    $('histogram-generated').textContent = `generated ${new Date(index.generatedAt).toLocaleString()}`;
    fill($('histogram-channel'), unique(index.entries.map((e) => e.appUpdateChannel)), most(index.entries, (e) => e.records).appUpdateChannel);
    onChannel();
  }

  $('histogram-channel').addEventListener('change', onChannel);
  $('histogram-version').addEventListener('change', () => void loadEntry());
  $('histogram-name').addEventListener('change', draw);
  void load();
})();
