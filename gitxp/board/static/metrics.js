// Metric charts of one run (one chart, a colour per metric) or of several (compare: one
// chart per metric, a colour per run, and a table of each run's last, min and max with
// the best marked). The server sends each series cut to the chart's width (min/max
// buckets); a drag-zoom asks again for that range at full resolution. The chosen
// metrics and the chart settings are in the URL.

import { el, clear, api, toast, fmtNumber, hashParams, setHashParams } from "./util.js";
import { LineChart, chartControls, PALETTE } from "./chart.js";

const LOWER_IS_BETTER = /loss|err|mse|mae|rmse|perplexity|nll|wer|cer/i;

export function lowerIsBetter(name) {
  return LOWER_IS_BETTER.test(name);
}

function settingsFromUrl() {
  const p = hashParams();
  return {
    xType: p.get("x") === "time" ? "time" : "step",
    logY: p.get("log") === "1",
    smoothing: Math.min(0.99, Math.max(0, Number(p.get("smooth")) || 0)),
  };
}

// options: {compare: bool, poll: () => bool (whether to refresh now), height}
export function metricPanel(panel, runIds, labels, view, options = {}) {
  const compare = !!options.compare;
  const settings = settingsFromUrl();
  const picker = el("div", { class: "metric-picker" });
  const holder = el("div", { class: compare ? "charts-grid" : "chart-holder" });
  const summaryBox = el("div", { class: "summary-box" });
  panel.append(el("div", { class: "toolbar" }, picker, el("div", { class: "spacer" }),
    chartControls(settings, () => changed())),
  el("p", { class: "muted small", text: "Drag across a chart to zoom (at full resolution); double-click to reset." }),
  holder, summaryBox);
  const charts = new Map(); // key (metric name, or "all") → {chart, range, data}
  let data = null; // the full-range answer
  const fromUrl = hashParams().get("metrics");
  let chosen = fromUrl ? new Set(fromUrl.split(",").filter(Boolean)) : null;
  view.cleanups.push(() => { for (const c of charts.values()) c.chart.destroy(); });

  function saveUrl() {
    setHashParams({
      metrics: chosen ? [...chosen].join(",") : null,
      x: settings.xType === "time" ? "time" : null,
      log: settings.logY,
      smooth: settings.smoothing ? settings.smoothing.toFixed(2) : null,
    });
  }

  // x by step or time: every chart fetched again (a zoom range is in the old units);
  // log scale or smoothing: redrawn from what it has.
  let xType = settings.xType;
  function changed() {
    saveUrl();
    if (settings.xType !== xType) {
      xType = settings.xType;
      for (const entry of charts.values()) entry.range = entry.chart.range = null;
      fetchData(false, true);
      return;
    }
    for (const [key, entry] of charts) if (entry.data) entry.chart.set(seriesOf(entry.data, key), settings);
  }

  function names() {
    const all = new Set();
    for (const id of runIds) for (const name of Object.keys(data.runs[id] || {})) all.add(name);
    return [...all].sort();
  }

  function seriesOf(answer, metric) {
    if (!compare) {
      return [...chosen].filter((n) => names().includes(n)).sort().map((name) => ({
        label: name, color: PALETTE[names().indexOf(name) % PALETTE.length], ...answer.runs[runIds[0]][name],
      }));
    }
    return runIds.map((id, r) => ({ id, s: (answer.runs[id] || {})[metric], r }))
      .filter((d) => d.s)
      .map((d) => ({ label: labels[d.id], color: PALETTE[d.r % PALETTE.length], ...d.s }));
  }

  function points(chart) {
    return Math.max(100, Math.round(chart.width()));
  }

  async function fetchRange(entry, key) {
    const chart = entry.chart;
    const params = { runs: runIds.join(","), points: points(chart), x: settings.xType };
    if (entry.range) Object.assign(params, { lo: entry.range.lo, hi: entry.range.hi });
    let answer;
    try {
      answer = await api("/api/metrics", params);
    } catch (err) {
      toast(err.message, "error");
      return;
    }
    if (!charts.has(key)) return;
    entry.data = answer;
    chart.range = entry.range;
    chart.set(seriesOf(answer, key), settings);
  }

  function makeChart(key) {
    const entry = { range: null, data: null };
    entry.chart = new LineChart(holder, {
      height: compare ? 300 : 360,
      name: compare ? `metric-${key}` : `run-${runIds[0].slice(0, 10)}-metrics`,
      title: compare ? key : "",
      onzoom: (range) => {
        entry.range = range;
        fetchRange(entry, key);
      },
    });
    entry.chart.root.dataset.metric = key;
    charts.set(key, entry);
    return entry;
  }

  // Charts for the chosen metrics: made, dropped, redrawn; refetched when `again`.
  function drawAll(again) {
    const keys = compare ? names().filter((n) => chosen.has(n)) : (chosen.size ? ["all"] : []);
    for (const [key, entry] of charts) {
      if (!keys.includes(key)) {
        entry.chart.destroy();
        charts.delete(key);
      }
    }
    for (const key of keys) {
      const entry = charts.get(key) || makeChart(key);
      holder.appendChild(entry.chart.root); // in order
      if (again || (entry.range && !entry.data)) {
        fetchRange(entry, key);
      } else if (!entry.range) {
        entry.data = data;
        entry.chart.set(seriesOf(data, key), settings);
      }
    }
    if (compare) summaryTable();
  }

  function drawPicker() {
    clear(picker);
    const all = names();
    if (!all.length) {
      picker.append(el("span", { class: "muted", text: "no metrics logged" }));
      return;
    }
    for (const name of all) {
      const box = el("input", {
        type: "checkbox",
        checked: chosen.has(name),
        onchange: () => {
          if (box.checked) chosen.add(name);
          else chosen.delete(name);
          saveUrl();
          drawAll(false);
        },
      });
      picker.append(el("label", { class: "chip", dataset: { metric: name } }, box, " ", name));
    }
  }

  // Each run's last, min and max of every chosen metric; the best of each column marked
  // (lowest for names like loss or error, highest otherwise).
  function summaryTable() {
    clear(summaryBox);
    const metrics = names().filter((n) => chosen.has(n));
    if (!metrics.length) return;
    const stats = ["last", "min", "max"];
    const best = {};
    for (const m of metrics) {
      const lower = lowerIsBetter(m);
      for (const stat of stats) {
        const values = runIds.map((id) => ((data.runs[id] || {})[m] || {}).summary?.[stat]).filter((v) => typeof v === "number");
        if (values.length > 1) best[`${m}.${stat}`] = lower ? Math.min(...values) : Math.max(...values);
      }
    }
    summaryBox.append(el("h3", { text: "Summary" }), el("table", { class: "kv summary-table", id: "metric-summary" },
      el("thead", {},
        el("tr", {}, el("th", { text: "run" }), metrics.map((m) => el("th", { colSpan: 3, text: `${m} (${lowerIsBetter(m) ? "lower" : "higher"} is better)` }))),
        el("tr", {}, el("th"), metrics.map(() => stats.map((s) => el("th", { text: s }))))),
      el("tbody", {}, runIds.map((id, r) => el("tr", { dataset: { id } },
        el("td", {}, el("span", { class: "swatch", style: { background: PALETTE[r % PALETTE.length] } }), " ", labels[id]),
        metrics.map((m) => stats.map((stat) => {
          const value = ((data.runs[id] || {})[m] || {}).summary?.[stat];
          const isBest = typeof value === "number" && best[`${m}.${stat}`] === value;
          return el("td", { class: `num${isBest ? " best" : ""}`, dataset: { metric: m, stat }, text: typeof value === "number" ? fmtNumber(value) : "" });
        })))))));
  }

  async function fetchData(first, again) {
    try {
      data = await api("/api/metrics", { runs: runIds.join(","), points: 1200, x: settings.xType });
    } catch (err) {
      toast(err.message, "error");
      return;
    }
    if (!view.alive) return;
    if (first && !chosen) chosen = new Set(names().slice(0, compare ? 6 : 4));
    if (first) drawPicker();
    drawAll(!!again);
  }
  fetchData(true);
  if (options.poll) {
    view.timers.push(setInterval(() => view.alive && !document.hidden && options.poll() && fetchData(false), 5000));
  }
}
