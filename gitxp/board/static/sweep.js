// A sweep (#/sweep/ID): its progress by status, the best run by a metric, the runs that
// failed, and the parallel-coordinates plot of its varying config keys and that metric.
// #/sweep/ lists the sweeps. Refreshed every 5 s while runs of it are still going.

import { el, clear, api, fmtNumber, fmtValue, statusBadge, errorBox, hashParams, setHashParams, label } from "./util.js";
import { ChartBox } from "./chart.js";
import { parallelOption } from "./analysis.js";
import { listLink } from "./run.js";

const COLOURS = { COMPLETED: "#16a34a", FAILED: "#dc2626", RUNNING: "#2563eb", PROBABLY_DEAD: "#d97706", QUEUED: "#9ca3af", DIED: "#7f1d1d", INTERRUPTED: "#a16207" };

export function mountSweep(main, id) {
  const page = el("div", { class: "page sweep-page" }, el("div", { class: "loading", text: "loading…" }));
  main.appendChild(page);
  let alive = true;
  let chart = null;
  let timer = null;
  let version = null;

  async function sweeps() {
    let data;
    try {
      data = await api("/api/sweeps");
    } catch (err) {
      clear(page).append(errorBox(err));
      return;
    }
    clear(page).append(el("div", { class: "run-head" }, el("h1", { text: "Sweeps" }), el("div", { class: "spacer" }),
      el("a", { class: "btn", href: listLink() }, "← all runs")),
    data.sweeps.length
      ? el("table", { class: "kv", id: "sweeps" }, el("tbody", {}, data.sweeps.map((s) => el("tr", {},
        el("td", {}, el("a", { href: `#/sweep/${encodeURIComponent(s.sweep)}`, class: "mono", text: s.sweep })),
        el("td", { class: "num", text: `${s.runs} runs` })))))
      : el("div", { class: "empty", text: "no sweeps: runs that share a sweep id in their run.json show up here" }));
  }

  async function draw() {
    let data;
    try {
      data = await api("/api/sweep", { id, metric: hashParams().get("metric") || undefined });
    } catch (err) {
      clear(page).append(errorBox(err));
      return;
    }
    if (!alive) return;
    const key = JSON.stringify(data);
    if (key !== version) {
      version = key;
      render(data);
    }
    clearTimeout(timer);
    const going = (data.counts.RUNNING || 0) + (data.counts.QUEUED || 0) + (data.counts.PROBABLY_DEAD || 0);
    if (going) timer = setTimeout(draw, 5000);
  }

  function render(data) {
    if (chart) chart.destroy();
    chart = null;
    const metricSelect = el("select", { class: "ctl", id: "sweep-metric", onchange: () => { setHashParams({ metric: metricSelect.value }); draw(); } },
      data.metrics.map((m) => el("option", { value: m, text: m })));
    metricSelect.value = data.metric || "";
    const bar = el("div", { class: "progress", id: "sweep-progress" },
      Object.entries(data.counts).map(([status, n]) => el("span", {
        title: `${status.toLowerCase()}: ${n}`, dataset: { status },
        style: { width: `${(100 * n) / data.total}%`, background: COLOURS[status] || "#6b7280" },
      })));
    const best = data.best;
    const plot = el("div", { id: "sweep-parallel" });
    clear(page).append(
      el("div", { class: "run-head" },
        el("div", {}, el("h1", {}, "Sweep ", el("span", { class: "mono", text: data.sweep })),
          el("div", { class: "muted", id: "sweep-summary", text: `${data.done} of ${data.total} runs done` })),
        el("div", { class: "spacer" }),
        el("a", { class: "btn", href: listLink() }, "← all runs")),
      el("div", { class: "card" }, bar,
        el("div", { class: "chips" }, Object.entries(data.counts).map(([status, n]) =>
          el("span", { class: "chip" }, statusBadge(status), ` ${n}`)))),
      el("div", { class: "grid-2" },
        el("div", { class: "card", id: "sweep-best" }, el("h2", { text: "Best run" }),
          el("div", { class: "toolbar" }, "by ", metricSelect, el("span", { class: "muted", text: data.lower_is_better ? " (lowest min)" : " (highest max)" })),
          best ? el("p", {}, el("a", { class: "mono", href: `#/run/${best.id}`, text: best.id.slice(0, 10) }),
            ` ${best.stat.replace(/^metrics\./, "")} = `, el("b", { text: fmtNumber(best.value) }))
            : el("p", { class: "muted", text: "no run has logged it yet" })),
        el("div", { class: "card", id: "sweep-failures" }, el("h2", { text: `Failures (${data.failures.length})` }),
          data.failures.length
            ? el("ul", { class: "mono small" }, data.failures.map((f) => el("li", {},
              el("a", { href: `#/run/${f.id}`, text: f.id.slice(0, 10) }), " ", statusBadge(f.status))))
            : el("p", { class: "muted", text: "none" }))),
      el("h2", { text: "Parallel coordinates" }),
      plot,
      runTable(data));
    const columns = [...data.config, data.metric ? `metrics.${data.metric}.last` : null].filter(Boolean);
    if (columns.length >= 2) {
      const values = Object.fromEntries(columns.map((c) => [c, data.runs.map((r) =>
        c.startsWith("metrics.") ? r.metrics[data.metric] : r.config[c])]));
      chart = new ChartBox(plot, { height: 360, name: `sweep-${data.sweep}` });
      chart.set(parallelOption(columns, { ids: data.runs.map((r) => r.id), columns: values }));
      chart.box.dataset.lines = String(data.runs.length);
    } else {
      plot.append(el("p", { class: "muted", text: "the runs of this sweep share one config" }));
    }
  }

  function runTable(data) {
    return el("table", { class: "kv", id: "sweep-runs" },
      el("thead", {}, el("tr", {}, el("th", { text: "run" }), el("th", { text: "status" }),
        data.config.map((c) => el("th", { text: label(c) })), data.metrics.map((m) => el("th", { text: `${m} (last)` })))),
      el("tbody", {}, data.runs.map((r) => el("tr", { class: best(data, r) ? "best-run" : "" },
        el("td", {}, el("a", { class: "mono", href: `#/run/${r.id}`, text: r.id.slice(0, 10) })),
        el("td", {}, statusBadge(r.status)),
        data.config.map((c) => el("td", { class: "mono", text: fmtValue(r.config[c]) })),
        data.metrics.map((m) => el("td", { class: "num", text: typeof r.metrics[m] === "number" ? fmtNumber(r.metrics[m]) : "" }))))));
  }

  function best(data, run) {
    return data.best && data.best.id === run.id;
  }

  if (id) draw();
  else sweeps();
  return {
    destroy() {
      alive = false;
      clearTimeout(timer);
      if (chart) chart.destroy();
    },
  };
}
