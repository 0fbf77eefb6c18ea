// Charts, drawn by Apache ECharts (vendor/, see vendor/README.md): line charts of metrics
// (x by step or time, linear or log y, smoothing with the raw line faint behind, drag a
// range to zoom, double-click to reset), and any chart exported as PNG or SVG. Labels
// from runs reach ECharts as plain strings and its tooltips are drawn on the canvas
// (richText), never as HTML.

import * as echarts from "./vendor/echarts-6.1.0.esm.min.js";
import { el, fmtNumber, fmtDuration } from "./util.js";

export const PALETTE = [
  "#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed",
  "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4b5563",
  "#0d9488", "#9333ea",
];

export function smooth(values, weight) {
  if (!weight) return values.slice();
  const out = [];
  let last = 0;
  let count = 0;
  for (const y of values) {
    if (y === null || !Number.isFinite(y)) {
      out.push(null);
      continue;
    }
    last = last * weight + (1 - weight) * y;
    count += 1;
    out.push(last / (1 - Math.pow(weight, count)));
  }
  return out;
}

// Seconds since a run started, for the time axis: 0.25s, 42s, 3m05s, 2h10m.
export function fmtSeconds(x) {
  if (Math.abs(x) < 60) return `${Number(x.toPrecision(3))}s`;
  return fmtDuration(x);
}

const BASE = {
  animation: false,
  textStyle: { fontFamily: "system-ui, sans-serif" },
  tooltip: { renderMode: "richText", confine: true },
};

function download(name, href) {
  const link = el("a", { href, download: name });
  document.body.appendChild(link);
  link.click();
  link.remove();
}

// A chart in a card with PNG and SVG buttons. option: an ECharts option (set with set()).
export class ChartBox {
  constructor(container, { height = 340, name = "chart", title = "" } = {}) {
    this.name = name;
    this.height = height;
    this.box = el("div", { class: "echart", style: { height: `${height}px` } });
    const head = el("div", { class: "chart-head" },
      title ? el("span", { class: "chart-title", text: title }) : null,
      el("span", { class: "spacer" }),
      el("button", { class: "mini export-png", title: "save as PNG", onclick: () => this.exportPng() }, "PNG"),
      el("button", { class: "mini export-svg", title: "save as SVG", onclick: () => this.exportSvg() }, "SVG"));
    this.root = el("div", { class: "chart-wrap" }, head, this.box);
    container.appendChild(this.root);
    this.chart = echarts.init(this.box, null, { renderer: "canvas" });
    this.resize = new ResizeObserver(() => this.chart.resize());
    this.resize.observe(this.box);
  }

  set(option, replace = true) {
    this.chart.setOption({ ...BASE, ...option }, { notMerge: replace, lazyUpdate: false });
    this.box.dataset.drawn = String((Number(this.box.dataset.drawn) || 0) + 1);
  }

  width() {
    return this.box.clientWidth || 600;
  }

  exportPng() {
    download(`${this.name}.png`, this.chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" }));
  }

  exportSvg() {
    const shadow = echarts.init(null, null, { renderer: "svg", ssr: true, width: this.width(), height: this.height });
    const option = this.chart.getOption();
    delete option.toolbox;
    shadow.setOption({ ...option, animation: false, backgroundColor: "#fff" });
    const text = shadow.renderToSVGString();
    shadow.dispose();
    const url = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
    download(`${this.name}.svg`, url);
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  destroy() {
    this.resize.disconnect();
    this.chart.dispose();
    this.root.remove();
  }
}

// Metric lines. series: [{label, color, steps, values, timestamps, total, shown}];
// settings: {xType: "step"|"time", logY, smoothing}. onzoom({lo, hi}) after a drag-zoom,
// onzoom(null) after the double-click that resets it: the caller fetches the range again
// at full resolution (the server sends at most about two points a pixel).
export class LineChart extends ChartBox {
  constructor(container, options = {}) {
    super(container, options);
    this.onzoom = options.onzoom || (() => {});
    this.settings = { xType: "step", logY: false, smoothing: 0 };
    this.range = null;
    this.chart.on("datazoom", () => this.zoomed());
    this.chart.getZr().on("dblclick", () => this.reset());
  }

  set(series, settings) {
    Object.assign(this.settings, settings || {});
    this.series = series;
    const { xType, logY, smoothing } = this.settings;
    const time = xType === "time";
    const lines = [];
    for (const s of series) {
      const xs = time ? timeAxis(s.timestamps || [], s.t0) : s.steps;
      const ys = s.values.map((v) => (typeof v === "number" && (!logY || v > 0) ? v : null));
      const smoothed = smooth(ys, smoothing);
      const points = (values) => values.map((y, i) => [xs[i], y]).filter(([x]) => typeof x === "number");
      const few = ys.length <= 40;
      const common = { type: "line", name: s.label, color: s.color, showSymbol: few, symbolSize: 5, connectNulls: false, sampling: "lttb" };
      if (smoothing > 0) lines.push({ ...common, data: points(ys), lineStyle: { width: 1.2, opacity: 0.25 }, showSymbol: false, silent: true, tooltip: { show: false } });
      lines.push({ ...common, data: points(smoothed), lineStyle: { width: 2 } });
    }
    const zoom = this.range ? { startValue: this.range.lo, endValue: this.range.hi } : {};
    super.set({
      grid: { left: 64, right: 24, top: 36, bottom: 48 },
      legend: { type: "scroll", top: 0, data: series.map((s) => s.label) },
      tooltip: { ...BASE.tooltip, trigger: "axis", valueFormatter: (v) => (typeof v === "number" ? fmtNumber(v) : "") },
      xAxis: {
        type: "value",
        name: time ? "time since start" : "step",
        nameLocation: "end",
        nameGap: 8,
        min: "dataMin",
        max: "dataMax",
        axisLabel: { formatter: (v) => (time ? fmtSeconds(v) : fmtNumber(v)), hideOverlap: true },
      },
      yAxis: { type: logY ? "log" : "value", scale: true, axisLabel: { formatter: (v) => fmtNumber(v) } },
      toolbox: { show: true, right: 8, top: 0, itemSize: 13, feature: { dataZoom: { yAxisIndex: "none", title: { zoom: "drag a range to zoom", back: "back" } } } },
      dataZoom: [{ type: "inside", xAxisIndex: 0, zoomOnMouseWheel: "shift", moveOnMouseMove: false, moveOnMouseWheel: false, filterMode: "none", ...zoom }],
      series: lines,
    });
    this.chart.dispatchAction({ type: "takeGlobalCursor", key: "dataZoomSelect", dataZoomSelectActive: true });
    this.box.dataset.series = String(series.length);
    this.box.dataset.points = String(series.reduce((n, s) => n + s.values.length, 0));
    this.box.dataset.total = String(series.reduce((n, s) => n + (s.total ?? s.values.length), 0));
    this.box.dataset.zoomed = this.range ? "yes" : "no";
  }

  zoomed() {
    const axis = this.chart.getModel().getComponent("xAxis", 0).axis;
    const [lo, hi] = axis.scale.getExtent();
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    this.range = { lo, hi };
    this.box.dataset.zoomed = "yes";
    this.onzoom(this.range);
  }

  reset() {
    if (!this.range) return;
    this.range = null;
    this.onzoom(null);
  }
}

function timeAxis(stamps, t0) {
  const first = typeof t0 === "number" ? t0 : stamps.find((t) => typeof t === "number");
  return stamps.map((t) => (typeof t === "number" ? t - first : null));
}

// The chart controls: x axis, log scale, smoothing. onchange(settings) on every change.
export function chartControls(settings, onchange) {
  const xSelect = el(
    "select",
    { class: "ctl", "aria-label": "x axis", onchange: () => update() },
    el("option", { value: "step", text: "x: step" }),
    el("option", { value: "time", text: "x: time" }),
  );
  xSelect.value = settings.xType;
  const logBox = el("input", { type: "checkbox", class: "log-y", checked: settings.logY, onchange: () => update() });
  const slider = el("input", {
    type: "range",
    min: "0",
    max: "0.99",
    step: "0.01",
    value: String(settings.smoothing),
    onchange: () => update(),
    oninput: () => (sliderValue.textContent = Number(slider.value).toFixed(2)),
    "aria-label": "smoothing",
  });
  const sliderValue = el("span", { class: "mono", text: Number(settings.smoothing).toFixed(2) });
  function update() {
    settings.xType = xSelect.value;
    settings.logY = logBox.checked;
    settings.smoothing = Number(slider.value);
    sliderValue.textContent = settings.smoothing.toFixed(2);
    onchange(settings);
  }
  return el(
    "div",
    { class: "controls" },
    xSelect,
    el("label", { class: "ctl" }, logBox, " log y"),
    el("label", { class: "ctl" }, "smoothing ", slider, " ", sliderValue),
  );
}
