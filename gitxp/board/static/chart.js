// Line charts on a canvas: several series, x by step or by time, linear or log y,
// exponential smoothing (the raw line stays faint behind), a legend that hides series,
// and a hover read-out. Labels from runs go into the DOM legend as text only.

import { el, clear, fmtNumber, fmtDuration } from "./util.js";

export const PALETTE = [
  "#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed",
  "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4b5563",
  "#0d9488", "#9333ea",
];

const MARGIN = { left: 64, right: 18, top: 14, bottom: 34 };

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

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
  10800, 21600, 43200, 86400, 172800, 604800];

function linearTicks(min, max, count, time) {
  let step;
  if (time && max - min >= 2) {
    const raw = (max - min) / Math.max(1, count);
    step = TIME_STEPS.find((s) => s >= raw) || niceStep(max - min, count);
  } else {
    step = niceStep(max - min, count);
  }
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

function logTicks(min, max) {
  const low = Math.floor(Math.log10(min));
  const high = Math.ceil(Math.log10(max));
  const ticks = [];
  const multiples = high - low <= 2 ? [1, 2, 5] : [1];
  for (let p = low; p <= high; p++) {
    for (const m of multiples) {
      const v = m * Math.pow(10, p);
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

export class Chart {
  constructor(container, options) {
    this.options = Object.assign({ height: 320 }, options || {});
    this.canvas = el("canvas", { class: "chart-canvas", "aria-label": "metrics chart" });
    this.tip = el("div", { class: "chart-tip" });
    this.legend = el("div", { class: "chart-legend" });
    this.box = el("div", { class: "chart" }, this.canvas, this.tip);
    this.root = el("div", { class: "chart-wrap" }, this.box, this.legend);
    container.appendChild(this.root);
    this.series = [];
    this.hidden = new Set();
    this.settings = { xType: "step", logY: false, smoothing: 0 };
    this.hover = null;
    this.resize = new ResizeObserver(() => this.draw());
    this.resize.observe(this.box);
    this.canvas.addEventListener("mousemove", (e) => this.onMove(e));
    this.canvas.addEventListener("mouseleave", () => {
      this.hover = null;
      this.tip.style.display = "none";
      this.draw();
    });
  }

  destroy() {
    this.resize.disconnect();
    this.root.remove();
  }

  // series: [{label, color, steps, values, timestamps}]
  set(series, settings) {
    this.series = series;
    Object.assign(this.settings, settings || {});
    this.renderLegend();
    this.draw();
  }

  renderLegend() {
    clear(this.legend);
    for (const [index, s] of this.series.entries()) {
      const item = el(
        "button",
        {
          class: "legend-item" + (this.hidden.has(index) ? " off" : ""),
          title: "show or hide",
          onclick: () => {
            if (this.hidden.has(index)) this.hidden.delete(index);
            else this.hidden.add(index);
            this.renderLegend();
            this.draw();
          },
        },
        s.dash && s.dash.length
          ? el("span", { class: "swatch dashed", style: { borderColor: s.color } })
          : el("span", { class: "swatch", style: { background: s.color } }),
        el("span", { text: s.label }),
      );
      this.legend.appendChild(item);
    }
  }

  // The points of series s as [x, y] with x by the chosen axis, y maybe smoothed.
  points(s) {
    const xs = this.settings.xType === "time" ? this.timeAxis(s) : s.steps;
    const ys = s.values.map((v) => (typeof v === "number" ? v : null));
    const smoothed = smooth(ys, this.settings.smoothing);
    const raw = [];
    const line = [];
    for (let i = 0; i < ys.length; i++) {
      const x = xs[i];
      if (typeof x !== "number" || !Number.isFinite(x)) continue;
      raw.push([x, ys[i]]);
      line.push([x, smoothed[i]]);
    }
    return { raw, line };
  }

  timeAxis(s) {
    const stamps = s.timestamps || [];
    const first = stamps.find((t) => typeof t === "number");
    return stamps.map((t) => (typeof t === "number" ? t - first : null));
  }

  usable(y) {
    return y !== null && Number.isFinite(y) && (!this.settings.logY || y > 0);
  }

  draw() {
    const width = this.box.clientWidth || 600;
    const height = this.options.height;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const shown = this.series
      .map((s, index) => ({ s, index, ...this.points(s) }))
      .filter((d) => !this.hidden.has(d.index));
    let xmin = Infinity;
    let xmax = -Infinity;
    let ymin = Infinity;
    let ymax = -Infinity;
    for (const d of shown) {
      for (const [x, y] of d.raw) {
        if (!this.usable(y)) continue;
        xmin = Math.min(xmin, x);
        xmax = Math.max(xmax, x);
        ymin = Math.min(ymin, y);
        ymax = Math.max(ymax, y);
      }
    }
    this.frame = null;
    if (!Number.isFinite(xmin)) {
      ctx.fillStyle = "#6b7280";
      ctx.font = "14px system-ui, sans-serif";
      ctx.textAlign = "center";
      const why = this.settings.logY ? "no positive values to draw on a log scale" : "no values";
      ctx.fillText(why, width / 2, height / 2);
      return;
    }
    const log = this.settings.logY;
    if (xmin === xmax) {
      xmin -= 1;
      xmax += 1;
    }
    if (ymin === ymax) {
      const pad = log ? ymin * 0.5 : Math.abs(ymin) * 0.1 || 1;
      ymin -= pad;
      ymax += pad;
    } else if (!log) {
      const pad = (ymax - ymin) * 0.05;
      ymin -= pad;
      ymax += pad;
    }
    const plot = {
      x0: MARGIN.left,
      x1: width - MARGIN.right,
      y0: height - MARGIN.bottom,
      y1: MARGIN.top,
    };
    const ty = log
      ? (y) => Math.log10(y)
      : (y) => y;
    const lo = ty(ymin);
    const hi = ty(ymax);
    const px = (x) => plot.x0 + ((x - xmin) / (xmax - xmin)) * (plot.x1 - plot.x0);
    const py = (y) => plot.y0 - ((ty(y) - lo) / (hi - lo)) * (plot.y0 - plot.y1);
    this.frame = { plot, px, xmin, xmax, shown };
    this.axes(ctx, plot, { xmin, xmax, ymin, ymax, px, py, log });
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x0, plot.y1 - 2, plot.x1 - plot.x0, plot.y0 - plot.y1 + 4);
    ctx.clip();
    const smoothing = this.settings.smoothing > 0;
    for (const d of shown) {
      ctx.setLineDash(d.s.dash || []);
      if (smoothing) this.line(ctx, d.raw, d.s.color, 0.22, 1.2, px, py);
      this.line(ctx, d.line, d.s.color, 1, 2, px, py);
      ctx.setLineDash([]);
      const count = d.line.filter(([, y]) => this.usable(y)).length;
      if (count <= 40) this.dots(ctx, d.line, d.s.color, px, py);
    }
    if (this.hover !== null) {
      ctx.strokeStyle = "rgba(17,24,39,.35)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(px(this.hover) + 0.5, plot.y1);
      ctx.lineTo(px(this.hover) + 0.5, plot.y0);
      ctx.stroke();
    }
    ctx.restore();
  }

  line(ctx, points, color, alpha, width, px, py) {
    ctx.globalAlpha = alpha;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let pen = false;
    for (const [x, y] of points) {
      if (!this.usable(y)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(px(x), py(y));
      else ctx.moveTo(px(x), py(y));
      pen = true;
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  dots(ctx, points, color, px, py) {
    ctx.fillStyle = color;
    for (const [x, y] of points) {
      if (!this.usable(y)) continue;
      ctx.beginPath();
      ctx.arc(px(x), py(y), 2.6, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  axes(ctx, plot, { xmin, xmax, ymin, ymax, px, py, log }) {
    const time = this.settings.xType === "time";
    ctx.font = "12px system-ui, sans-serif";
    ctx.lineWidth = 1;
    const yticks = log ? logTicks(ymin, ymax) : linearTicks(ymin, ymax, 6, false);
    const xcount = Math.max(2, Math.floor((plot.x1 - plot.x0) / 90));
    const xticks = linearTicks(xmin, xmax, xcount, time).filter((x) => time || Number.isInteger(x) || xmax - xmin < 10);
    ctx.strokeStyle = "#e5e7eb";
    ctx.fillStyle = "#4b5563";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const y of yticks) {
      const at = Math.round(py(y)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(plot.x0, at);
      ctx.lineTo(plot.x1, at);
      ctx.stroke();
      ctx.fillText(fmtNumber(y), plot.x0 - 8, at);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const x of xticks) {
      const at = Math.round(px(x)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(at, plot.y1);
      ctx.lineTo(at, plot.y0);
      ctx.stroke();
      ctx.fillText(time ? fmtSeconds(x) : fmtNumber(x), at, plot.y0 + 7);
    }
    ctx.strokeStyle = "#9ca3af";
    ctx.beginPath();
    ctx.moveTo(plot.x0 + 0.5, plot.y1);
    ctx.lineTo(plot.x0 + 0.5, plot.y0 + 0.5);
    ctx.lineTo(plot.x1, plot.y0 + 0.5);
    ctx.stroke();
    ctx.fillStyle = "#6b7280";
    ctx.textAlign = "right";
    ctx.fillText(time ? "time since start" : "step", plot.x1, plot.y0 + 20);
  }

  onMove(event) {
    if (!this.frame) return;
    const { plot, xmin, xmax, shown } = this.frame;
    const rect = this.canvas.getBoundingClientRect();
    const mx = event.clientX - rect.left;
    if (mx < plot.x0 || mx > plot.x1) return;
    const x = xmin + ((mx - plot.x0) / (plot.x1 - plot.x0)) * (xmax - xmin);
    const lines = [];
    let snapped = null;
    for (const d of shown) {
      const near = nearest(d.line, x);
      if (!near || !this.usable(near[1])) continue;
      if (snapped === null || Math.abs(near[0] - x) < Math.abs(snapped - x)) snapped = near[0];
      lines.push([d.s.color, d.s.label, near]);
    }
    if (snapped === null) return;
    this.hover = snapped;
    clear(this.tip);
    const time = this.settings.xType === "time";
    this.tip.appendChild(
      el("div", { class: "tip-x", text: time ? `${fmtSeconds(snapped)} since start` : `step ${snapped}` }),
    );
    for (const [color, label, [, y]] of lines.slice(0, 12)) {
      this.tip.appendChild(
        el("div", { class: "tip-row" },
          el("span", { class: "swatch", style: { background: color } }),
          el("span", { class: "tip-label", text: label }),
          el("b", { text: fmtNumber(y) })),
      );
    }
    this.tip.style.display = "block";
    const left = mx + 14 + 240 > rect.width ? mx - 14 - this.tip.offsetWidth : mx + 14;
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${MARGIN.top}px`;
    cancelAnimationFrame(this.frameRequest);
    this.frameRequest = requestAnimationFrame(() => this.draw());
  }
}

function nearest(points, x) {
  let lo = 0;
  let hi = points.length - 1;
  if (hi < 0) return null;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < x) lo = mid;
    else hi = mid;
  }
  return Math.abs(points[lo][0] - x) <= Math.abs(points[hi][0] - x) ? points[lo] : points[hi];
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
  const logBox = el("input", { type: "checkbox", checked: settings.logY, onchange: () => update() });
  const slider = el("input", {
    type: "range",
    min: "0",
    max: "0.99",
    step: "0.01",
    value: String(settings.smoothing),
    oninput: () => update(),
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
