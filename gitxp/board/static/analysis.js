// Analysis across the runs a filter keeps (#/analyze?where=…): a parallel-coordinates plot
// of chosen config keys and a metric, a scatter of any column against any metric summary,
// and runs grouped by config keys (all seeds of a setting) with mean ± std curves and a
// summary table. Every choice is in the URL; every chart exports as PNG or SVG.

import { el, clear, api, fmtNumber, fmtValue, errorBox, hashParams, setHashParams, label } from "./util.js";
import { ChartBox, PALETTE } from "./chart.js";
import { lowerIsBetter } from "./metrics.js";
import { listLink } from "./run.js";

const STATUS_COLOURS = { COMPLETED: "#2563eb", FAILED: "#dc2626", RUNNING: "#16a34a", PROBABLY_DEAD: "#d97706" };

// A parallel-coordinates option: one axis per column (text columns as categories), one
// line per run, coloured by the last column (the metric).
export function parallelOption(columns, data) {
  const axes = columns.map((name, dim) => {
    const values = data.columns[name];
    const text = values.some((v) => v !== null && typeof v !== "number");
    const axis = { dim, name: label(name), nameTextStyle: { fontSize: 11 } };
    if (text) axis.type = "category", axis.data = [...new Set(values.map(category))].sort();
    else axis.scale = true;
    return { axis, text };
  });
  const rows = data.ids.map((id, i) => ({
    name: id,
    value: columns.map((name, dim) => {
      const v = data.columns[name][i];
      return axes[dim].text ? category(v) : (typeof v === "number" ? v : null);
    }),
  }));
  const metric = data.columns[columns[columns.length - 1]].filter((v) => typeof v === "number");
  return {
    parallelAxis: axes.map((a) => a.axis),
    parallel: { left: 60, right: 170, top: 50, bottom: 40 },
    visualMap: metric.length ? {
      type: "continuous", dimension: columns.length - 1, min: Math.min(...metric), max: Math.max(...metric),
      right: 10, top: "middle", calculable: true, inRange: { color: ["#2563eb", "#a855f7", "#dc2626"] },
      text: ["high", "low"], textStyle: { fontSize: 11 }, formatter: (v) => fmtNumber(v),
    } : undefined,
    series: [{ type: "parallel", lineStyle: { width: 1.2, opacity: 0.55 }, data: rows, progressive: 2000 }],
  };
}

function category(value) {
  return value === null || value === undefined ? "—" : fmtValue(value);
}

export function mountAnalysis(main) {
  const params = hashParams();
  const state = {
    where: params.get("where") || "",
    keys: (params.get("keys") || "").split(",").filter(Boolean),
    metric: params.get("metric") || "",
    x: params.get("x") || "",
    y: params.get("y") || "",
    by: (params.get("by") || "").split(",").filter(Boolean),
    series: params.get("series") || "",
  };
  const page = el("div", { class: "page analysis-page" }, el("div", { class: "loading", text: "loading…" }));
  main.appendChild(page);
  const charts = [];
  let alive = true;

  function saveUrl() {
    setHashParams({
      where: state.where, keys: state.keys.join(","), metric: state.metric, x: state.x, y: state.y,
      by: state.by.join(","), series: state.series,
    });
  }

  async function start() {
    let list;
    try {
      list = await api("/api/runs", { where: state.where, limit: 1 });
    } catch (err) {
      clear(page).append(errorBox(err));
      return;
    }
    if (!alive) return;
    const columns = list.columns;
    const config = columns.filter((c) => c.startsWith("config."));
    const summaries = columns.filter((c) => c.startsWith("metrics."));
    const metricNames = [...new Set(summaries.map((c) => c.replace(/^metrics\./, "").replace(/\.(last|min|max)$/, "")))];
    const defaults = list.defaults.filter((c) => c.startsWith("config."));
    if (!state.keys.length) state.keys = defaults.slice(0, 4);
    if (!state.metric) state.metric = list.defaults.find((c) => c.startsWith("metrics.")) || summaries[0] || "";
    if (!state.x) state.x = state.keys[0] || config[0] || "";
    if (!state.y) state.y = state.metric;
    if (!state.by.length && state.keys.length) state.by = [state.keys[0]];
    if (!state.series) state.series = metricNames[0] || "";
    const multi = (id, options, chosen, onchange) => {
      const select = el("select", { multiple: true, id, onchange: () => onchange([...select.selectedOptions].map((o) => o.value)) },
        options.map((c) => el("option", { value: c, text: label(c), selected: chosen.includes(c) })));
      return select;
    };
    const one = (id, options, chosen, onchange) => {
      const select = el("select", { class: "ctl", id, onchange: () => onchange(select.value) },
        options.map((c) => el("option", { value: c, text: label(c) })));
      select.value = chosen;
      return select;
    };
    const parallelBox = el("div", { id: "parallel" });
    const scatterBox = el("div", { id: "scatter" });
    const groupBox = el("div", { id: "groups" });
    clear(page).append(
      el("div", { class: "run-head" },
        el("h1", { text: "Analysis" }),
        el("span", { class: "muted", text: `${list.matched} run${list.matched === 1 ? "" : "s"}${state.where ? ` where ${state.where}` : ""}` }),
        el("div", { class: "spacer" }),
        el("a", { class: "btn", href: listLink() }, "← all runs")),
      el("h2", { text: "Parallel coordinates" }),
      el("div", { class: "analysis-form" },
        el("label", {}, "config keys ", multi("pc-keys", config, state.keys, (v) => { state.keys = v; saveUrl(); drawParallel(); })),
        el("label", {}, "metric ", one("pc-metric", summaries, state.metric, (v) => { state.metric = v; saveUrl(); drawParallel(); }))),
      parallelBox,
      el("h2", { text: "Scatter" }),
      el("div", { class: "analysis-form" },
        el("label", {}, "x ", one("sc-x", [...config, ...summaries, "duration", "start"], state.x, (v) => { state.x = v; saveUrl(); drawScatter(); })),
        el("label", {}, "y ", one("sc-y", summaries, state.y, (v) => { state.y = v; saveUrl(); drawScatter(); }))),
      scatterBox,
      el("h2", { text: "Grouped by config" }),
      el("div", { class: "analysis-form" },
        el("label", {}, "group by ", multi("gr-by", config, state.by, (v) => { state.by = v; saveUrl(); drawGroups(); })),
        el("label", {}, "metric ", one("gr-metric", metricNames, state.series, (v) => { state.series = v; saveUrl(); drawGroups(); }))),
      groupBox);
    saveUrl();

    async function columnsOf(names) {
      return api("/api/columns", { names: names.join(","), where: state.where });
    }

    function chartIn(box, options) {
      for (const old of charts.filter((c) => box.contains(c.root))) {
        old.destroy();
        charts.splice(charts.indexOf(old), 1);
      }
      clear(box);
      const chart = new ChartBox(box, options);
      charts.push(chart);
      return chart;
    }

    async function drawParallel() {
      const names = [...state.keys, state.metric].filter(Boolean);
      if (names.length < 2) {
        clear(parallelBox).append(el("p", { class: "muted", text: "choose config keys and a metric" }));
        return;
      }
      try {
        const data = await columnsOf(names);
        if (!alive) return;
        const chart = chartIn(parallelBox, { height: 380, name: "parallel-coordinates" });
        chart.set(parallelOption(names, data));
        chart.box.dataset.lines = String(data.ids.length);
      } catch (err) {
        clear(parallelBox).append(errorBox(err));
      }
    }

    async function drawScatter() {
      if (!state.x || !state.y) return;
      try {
        const data = await columnsOf([state.x, state.y]);
        if (!alive) return;
        const xs = data.columns[state.x];
        const text = xs.some((v) => v !== null && typeof v !== "number");
        const points = {};
        data.ids.forEach((id, i) => {
          const y = data.columns[state.y][i];
          if (typeof y !== "number" || xs[i] === null) return;
          (points[data.status[i]] = points[data.status[i]] || []).push({ name: id, value: [text ? fmtValue(xs[i]) : xs[i], y] });
        });
        const chart = chartIn(scatterBox, { height: 340, name: "scatter" });
        chart.set({
          grid: { left: 70, right: 30, top: 40, bottom: 50 },
          legend: { top: 0 },
          tooltip: { renderMode: "richText", trigger: "item", formatter: (p) => `${p.name.slice(0, 10)}\n${label(state.x)}: ${fmtValue(p.value[0])}\n${label(state.y)}: ${fmtNumber(p.value[1])}` },
          xAxis: text ? { type: "category", name: label(state.x), nameLocation: "middle", nameGap: 30 }
            : { type: "value", scale: true, name: label(state.x), nameLocation: "middle", nameGap: 30 },
          yAxis: { type: "value", scale: true, name: label(state.y) },
          series: Object.entries(points).map(([status, values]) => ({
            type: "scatter", name: status.toLowerCase(), data: values, symbolSize: 8,
            itemStyle: { color: STATUS_COLOURS[status] || "#6b7280", opacity: 0.75 },
          })),
        });
        chart.box.dataset.points = String(Object.values(points).reduce((n, v) => n + v.length, 0));
        chart.chart.on("click", (p) => p.name && (location.hash = `#/run/${p.name}`));
      } catch (err) {
        clear(scatterBox).append(errorBox(err));
      }
    }

    async function drawGroups() {
      if (!state.by.length || !state.series) {
        clear(groupBox).append(el("p", { class: "muted", text: "choose config keys to group by and a metric" }));
        return;
      }
      let data;
      try {
        data = await api("/api/groups", { by: state.by.join(","), metric: state.series, where: state.where });
      } catch (err) {
        clear(groupBox).append(errorBox(err));
        return;
      }
      if (!alive) return;
      const name = (g) => state.by.map((b, i) => `${label(b)}=${fmtValue(g.values[i])}`).join(", ");
      const series = [];
      data.groups.forEach((g, i) => {
        const color = PALETTE[i % PALETTE.length];
        const lower = g.steps.map((s, j) => [s, g.mean[j] - g.std[j]]);
        const band = g.steps.map((s, j) => [s, 2 * g.std[j]]);
        series.push({ type: "line", name: name(g), data: g.steps.map((s, j) => [s, g.mean[j]]), color, showSymbol: false, lineStyle: { width: 2 } });
        series.push({ type: "line", name: name(g), data: lower, stack: `band${i}`, lineStyle: { opacity: 0 }, showSymbol: false, silent: true, tooltip: { show: false }, color });
        series.push({ type: "line", name: name(g), data: band, stack: `band${i}`, lineStyle: { opacity: 0 }, areaStyle: { color, opacity: 0.15 }, showSymbol: false, silent: true, tooltip: { show: false }, color });
      });
      const chart = chartIn(groupBox, { height: 340, name: `groups-${state.series}`, title: `${state.series}: mean ± std per group` });
      chart.set({
        grid: { left: 64, right: 24, top: 40, bottom: 48 },
        legend: { type: "scroll", top: 0, data: data.groups.map(name) },
        tooltip: { renderMode: "richText", trigger: "axis", valueFormatter: (v) => (typeof v === "number" ? fmtNumber(v) : "") },
        xAxis: { type: "value", name: "step", min: "dataMin", max: "dataMax" },
        yAxis: { type: "value", scale: true },
        series,
      });
      chart.box.dataset.groups = String(data.groups.length);
      const stat = (s) => (s.mean === null ? "" : `${fmtNumber(s.mean)} ± ${fmtNumber(s.std)}`);
      const lower = lowerIsBetter(state.series);
      const lasts = data.groups.map((g) => g.summary.last.mean).filter((v) => v !== null);
      const best = lasts.length > 1 ? (lower ? Math.min(...lasts) : Math.max(...lasts)) : null;
      groupBox.append(el("table", { class: "kv summary-table", id: "group-table" },
        el("thead", {}, el("tr", {}, state.by.map((b) => el("th", { text: label(b) })),
          ["runs", `last (${lower ? "lower" : "higher"} is better)`, "min", "max"].map((h) => el("th", { text: h })))),
        el("tbody", {}, data.groups.map((g) => el("tr", {},
          g.values.map((v) => el("td", { class: "mono", text: fmtValue(v) })),
          el("td", { class: "num", text: String(g.count) }),
          el("td", { class: `num${g.summary.last.mean === best ? " best" : ""}`, text: stat(g.summary.last) }),
          el("td", { class: "num", text: stat(g.summary.min) }),
          el("td", { class: "num", text: stat(g.summary.max) }))))),
      data.capped ? el("p", { class: "muted small", text: `the newest ${data.runs} runs only` }) : null);
    }

    drawParallel();
    drawScatter();
    drawGroups();
  }

  start();
  return {
    destroy() {
      alive = false;
      for (const chart of charts) chart.destroy();
    },
  };
}
