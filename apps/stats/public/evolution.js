/*
 * Evolution view: reads the dashboard job's files (the telemetry-dashboard
 * layout, served under /data/dashboard/; docs/MAPREDUCE.md) — a measure's
 * evolution over build dates or submission dates (mean, 5/25/50/75/95th
 * percentiles interpolated within buckets, submissions), filtered by reason,
 * appName, OS, osVersion and arch, and its histogram over a date range.
 * Opens on the channel/version with the most submissions and its most
 * submitted histogram.
 */
'use strict';

(function evolutionView() {
  const BASE = '/data/dashboard/';
  const LEVELS = ['reason', 'appName', 'OS', 'osVersion', 'arch'];
  const PERCENTILES = [5, 25, 50, 75, 95];
  const COLORS = ['#2f6fde', '#8e44ad', '#17b890', '#29335c', '#17b890', '#8e44ad', '#f3a712'];
  const $ = (id) => document.getElementById(id);
  const state = { versions: {}, folder: '', definitions: {}, tree: undefined, counts: {}, data: { build: {}, submission: {} }, bounds: [] };
  const view = { ready: false, state };
  window.telemetryEvolution = view;

  const evolution = new Chart($('chart-evolution'), {
    type: 'line',
    data: { labels: [], datasets: [] },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, title: { display: true, text: 'value' } }, submissions: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'submissions' } } },
    },
  });
  const histogram = new Chart($('chart-evolution-histogram'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'count', data: [], backgroundColor: COLORS[0] }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } },
  });
  window.telemetryCharts = Object.assign(window.telemetryCharts || {}, { evolution, evolutionHistogram: histogram });

  async function getJson(file) {
    const response = await fetch(BASE + file);
    if (!response.ok) throw new Error(`${file}: ${response.status}`);
    return response.json();
  }

  // Bucket lower bounds from a definition's fields, as the 2013 dashboard computed them.
  function linear(low, high, n) {
    return Array.from({ length: n }, (_, i) => (i === 0 ? 0 : Math.floor((low * (n - 1 - i) + high * (i - 1)) / (n - 2) + 0.5)));
  }
  function exponential(low, high, n) {
    const bounds = [0, low];
    let current = low;
    for (let i = 2; i < n; i += 1) {
      const next = Math.floor(Math.exp(Math.log(current) + (Math.log(high) - Math.log(current)) / (n - i)) + 0.5);
      current = next > current ? next : current + 1;
      bounds.push(current);
    }
    return bounds;
  }
  function boundsOf(spec) {
    const low = spec.low === undefined ? 1 : parseFloat(spec.low);
    switch (spec.kind) {
      case 'boolean':
      case 'flag':
      case 'count':
        return linear(1, 2, 3);
      case 'enumerated':
        return linear(1, parseInt(spec.n_values, 10), parseInt(spec.n_values, 10) + 1);
      case 'linear':
        return linear(low, parseFloat(spec.high), parseInt(spec.n_buckets, 10));
      default:
        return exponential(low, parseFloat(spec.high), parseInt(spec.n_buckets, 10));
    }
  }

  function fill(select, options, selected) {
    select.replaceChildren(...options.map(([value, label]) => new Option(label, value, false, value === selected)));
    if (!options.some(([value]) => value === select.value) && options.length > 0) select.value = options[0][0];
  }
  const children = (node) => Object.keys(node).filter((key) => key !== '_id' && key !== 'name');

  // Filter options at each level given the choices above it ('' = all); leaf ids of the whole choice.
  function filterChoice() {
    let nodes = [state.tree];
    LEVELS.forEach((level) => {
      const select = $(`ev-filter-${level}`);
      const values = [...new Set(nodes.flatMap(children))].sort();
      fill(select, [['', 'all'], ...values.map((v) => [v, v])], select.value);
      nodes = nodes.flatMap((node) => children(node).filter((key) => select.value === '' || key === select.value).map((key) => node[key]));
    });
    return new Set(nodes.map((leaf) => leaf._id));
  }

  // Adds values (counts…, 5 statistics, submissions) into a total; a statistic of -1 is absent, null (NaN) stays.
  function add(total, values) {
    const stats = values.length - 6;
    values.forEach((value, i) => {
      const [a, b] = [total[i], value === null ? NaN : value];
      total[i] = i >= stats && i < values.length - 1 ? (a === -1 ? b : b === -1 ? a : a + b) : a + b;
    });
    return total;
  }

  // The arrays of one date under the chosen leaves, summed (undefined when none).
  function sumArrays(arrays, ids) {
    let total;
    for (const array of arrays) {
      if (!ids.has(array[array.length - 1])) continue;
      const values = array.slice(0, -1);
      total = total === undefined ? values.map((v) => (v === null ? NaN : v)) : add(total, values);
    }
    return total;
  }

  // Mean and percentiles of summed values; within a bucket the values are taken as spread evenly.
  function describe(total) {
    const buckets = total.length - 6;
    const counts = total.slice(0, buckets);
    const count = counts.reduce((a, b) => a + b, 0);
    const sum = total[buckets];
    const bounds = state.bounds.length === buckets ? state.bounds : counts.map((_, i) => i);
    const percentile = (p) => {
      if (count === 0) return null;
      const target = (count * p) / 100;
      let before = 0;
      for (let i = 0; i < buckets; i += 1) {
        if (counts[i] > 0 && before + counts[i] >= target) {
          const low = bounds[i];
          const high = i + 1 < buckets ? bounds[i + 1] : low + (i > 0 ? low - bounds[i - 1] : 1);
          return low + ((target - before) / counts[i]) * (high - low);
        }
        before += counts[i];
      }
      return bounds[buckets - 1];
    };
    return { count, submissions: total[total.length - 1], mean: sum === -1 || count === 0 ? null : sum / count, percentiles: PERCENTILES.map(percentile) };
  }

  const dateLabel = (d) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}`;

  function draw() {
    const ids = filterChoice();
    const dataset = state.data[$('ev-over').value] || {};
    const dates = Object.keys(dataset).sort();
    const rows = dates.map((date) => [date, sumArrays(dataset[date], ids)]).filter(([, total]) => total !== undefined);
    const described = rows.map(([, total]) => describe(total));
    evolution.data.labels = rows.map(([date]) => dateLabel(date));
    evolution.data.datasets = [
      { label: 'mean', data: described.map((d) => d.mean), borderColor: COLORS[0], backgroundColor: COLORS[0] },
      ...PERCENTILES.map((p, i) => ({ label: `p${p}`, data: described.map((d) => d.percentiles[i]), borderColor: COLORS[i + 1], backgroundColor: COLORS[i + 1], borderDash: p === 50 ? [] : [4, 3], pointRadius: 1 })),
      { label: 'submissions', type: 'bar', yAxisID: 'submissions', data: described.map((d) => d.submissions), backgroundColor: 'rgba(243, 167, 18, 0.35)' },
    ];
    evolution.update();

    const from = $('ev-from');
    const to = $('ev-to');
    const available = rows.map(([date]) => [date, dateLabel(date)]);
    const has = (value) => available.some(([date]) => date === value);
    fill(from, available, has(from.value) ? from.value : (available[0] || [''])[0]);
    fill(to, available, has(to.value) ? to.value : (available[available.length - 1] || [''])[0]);
    if (to.value < from.value) to.value = from.value;
    const inRange = rows.filter(([date]) => date >= from.value && date <= to.value).map(([, total]) => total);
    const range = inRange.length === 0 ? undefined : inRange.slice(1).reduce((sum, total) => add(sum, total), inRange[0].slice());
    const buckets = range ? range.length - 6 : 0;
    const bounds = state.bounds.length === buckets ? state.bounds : undefined;
    histogram.data.labels = Array.from({ length: buckets }, (_, i) => (bounds ? (i + 1 < buckets ? `${bounds[i]}–${bounds[i + 1]}` : `≥ ${bounds[i]}`) : `#${i}`));
    histogram.data.datasets[0].data = range ? range.slice(0, buckets) : [];
    histogram.update();
    const summary = range ? describe(range) : undefined;
    $('ev-range-summary').textContent = summary
      ? `${summary.submissions} submissions, ${summary.count} values; mean ${summary.mean === null ? '–' : summary.mean.toPrecision(4)}, median ${summary.percentiles[2] === null ? '–' : summary.percentiles[2].toPrecision(4)}`
      : 'no data for this choice';
    view.ready = true;
  }

  async function openMeasure() {
    view.ready = false;
    const measure = $('ev-measure').value;
    const [build, submission] = await Promise.all([getJson(`${state.folder}/${measure}-by-build-date.json`), getJson(`${state.folder}/${measure}-by-submission-date.json`)]);
    state.data = { build, submission };
    state.bounds = boundsOf(state.definitions[measure] || {});
    $('ev-description').textContent = (state.definitions[measure] || {}).description || '';
    $('ev-from').value = '';
    $('ev-to').value = '';
    draw();
  }

  // The most submitted measure, histograms before simple measures; ties in name order.
  function commonMeasure(measures) {
    const rank = (name) => [name.startsWith('SIMPLE_MEASURES_') ? 1 : 0, -(state.counts[name] || 0), name];
    return [...measures].sort((a, b) => {
      const [x, y] = [rank(a), rank(b)];
      return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : 1);
    })[0];
  }

  async function openVersion(keepMeasure) {
    view.ready = false;
    state.folder = state.versions[$('ev-version').value];
    const [definitions, tree, submissions] = await Promise.all([getJson(`${state.folder}/histograms.json`), getJson(`${state.folder}/filter-tree.json`), getJson(`${state.folder}/submissions.json`).catch(() => ({ measures: {} }))]);
    Object.assign(state, { definitions, tree, counts: submissions.measures || {} });
    const measures = Object.keys(definitions).sort();
    const current = $('ev-measure').value;
    fill($('ev-measure'), measures.map((m) => [m, m]), keepMeasure && measures.includes(current) ? current : commonMeasure(measures));
    await openMeasure();
  }

  async function load() {
    try {
      state.versions = await getJson('versions.json');
    } catch {
      $('evolution-empty').hidden = false;
      return;
    }
    const keys = Object.keys(state.versions).sort();
    if (keys.length === 0) {
      $('evolution-empty').hidden = false;
      return;
    }
    const records = await Promise.all(keys.map((key) => getJson(`${state.versions[key]}/submissions.json`).then((s) => s.records || 0, () => 0)));
    // The channel/version most submissions came from (on a tie, the later one).
    const best = keys.reduce((chosen, key, i) => (records[i] >= records[keys.indexOf(chosen)] ? key : chosen), keys[0]);
    fill($('ev-version'), keys.map((key, i) => [key, `${key} (${records[i]} submissions)`]), best);
    $('evolution-view').hidden = false;
    await openVersion(false);
  }

  const redraw = () => {
    view.ready = false;
    draw();
  };
  $('ev-version').addEventListener('change', () => void openVersion(true));
  $('ev-measure').addEventListener('change', () => void openMeasure());
  for (const id of ['ev-over', 'ev-from', 'ev-to', ...LEVELS.map((level) => `ev-filter-${level}`)]) $(id).addEventListener('change', redraw);
  void load();
})();
