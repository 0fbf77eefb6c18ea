// Compare two or more runs: metrics overlaid, the config side by side, and for a pair of
// them (A against B) the code, environment and output diffs of `gitxp diff`.

import { el, clear, api, fmtTime, fmtValue, statusBadge, tabs, errorBox } from "./util.js";
import { PALETTE } from "./chart.js";
import { renderDiff } from "./diff.js";
import { metricPanel } from "./metrics.js";
import { listLink } from "./run.js";

const TABS = [["metrics", "Metrics"], ["config", "Config"], ["code", "Code"], ["env", "Environment"], ["output", "Output"]];

export function mountCompare(main, ids, tab) {
  const page = el("div", { class: "page compare-page" }, el("div", { class: "loading", text: "loading…" }));
  main.appendChild(page);
  const view = { tab: tab || "metrics", timers: [], cleanups: [], alive: true, pair: null, diffs: new Map() };
  const content = el("div", { class: "tab-content" });
  let data = null;
  let bar = null;

  function show(name) {
    view.tab = TABS.some(([n]) => n === name) ? name : "metrics";
    bar.select(view.tab);
    for (const timer of view.timers) clearInterval(timer);
    for (const done of view.cleanups) done();
    view.timers = [];
    view.cleanups = [];
    clear(content);
    const panel = el("div", { class: `panel panel-${view.tab}` });
    content.append(panel);
    if (view.tab === "metrics") {
      const labels = Object.fromEntries(data.runs.map((r) => [r.id, short(r)]));
      metricPanel(panel, data.runs.map((r) => r.id), labels, view, { compare: true, poll: live });
    } else if (view.tab === "config") {
      configTable(panel, data);
    } else {
      pairView(panel, data, view);
    }
  }

  async function start() {
    try {
      data = await api("/api/compare", { runs: ids.join(",") });
    } catch (err) {
      clear(page).append(errorBox(err));
      return;
    }
    view.pair = [data.runs[0].id, data.runs[1].id];
    bar = tabs(TABS, view.tab, (name) => {
      history.replaceState(null, "", `#/compare/${ids.join(",")}/${name}`);
      show(name);
    });
    clear(page).append(
      el("div", { class: "run-head" },
        el("h1", { text: `Compare ${data.runs.length} runs` }),
        el("div", { class: "spacer" }),
        el("a", { class: "btn", href: listLink() }, "← all runs")),
      el("table", { class: "runs compact", id: "compare-runs" },
        el("thead", {}, el("tr", {}, ["", "run", "experiment / name", "status", "started", "result"].map((h, i) => el("th", { class: i ? "" : "pick", text: h })))),
        el("tbody", {}, data.runs.map((r, i) => el("tr", {},
          el("td", { class: "pick" }, el("span", { class: "swatch", style: { background: PALETTE[i % PALETTE.length] } })),
          el("td", { class: "mono" }, el("a", { href: `#/run/${r.id}`, text: r.id.slice(0, 10), title: r.id })),
          el("td", { text: [r.experiment, r.name].filter(Boolean).join(" / ") }),
          el("td", { class: "status", dataset: { id: r.id } }, statusBadge(r.status)),
          el("td", { class: "nowrap", text: fmtTime(r.start_time) }),
          el("td", { class: "mono", text: fmtValue(r.result) }))))),
      bar.node,
      content,
    );
    show(view.tab);
    watcher = setInterval(refresh, 5000);
  }

  // Runs that go on: their status (and, in the metrics tab, their curves) kept current.
  let watcher = null;
  const LIVE = ["RUNNING", "PROBABLY_DEAD", "QUEUED"];
  function live() {
    return data.runs.some((r) => LIVE.includes(r.status));
  }
  async function refresh() {
    if (!view.alive || document.hidden || !live()) return;
    let fresh;
    try {
      fresh = await api("/api/compare", { runs: ids.join(",") });
    } catch (err) {
      return;
    }
    if (!view.alive) return;
    const ended = fresh.runs.some((r, i) => data.runs[i] && r.status !== data.runs[i].status);
    data = { ...fresh };
    for (const r of data.runs) {
      const cell = page.querySelector(`#compare-runs td.status[data-id="${r.id}"]`);
      if (cell) clear(cell).append(statusBadge(r.status));
    }
    if (ended) {
      view.diffs.clear();
      show(view.tab);
    }
  }

  start();
  return {
    route(newIds, newTab) {
      if (newIds.join(",") !== ids.join(",") || !data) return false;
      if ((newTab || "metrics") !== view.tab) show(newTab || "metrics");
      return true;
    },
    destroy() {
      view.alive = false;
      clearInterval(watcher);
      for (const done of view.cleanups) done();
    },
  };
}

function short(run) {
  const label = run.name || run.experiment;
  return label ? `${run.id.slice(0, 10)} ${label}` : run.id.slice(0, 10);
}

function configTable(panel, data) {
  const only = el("input", { type: "checkbox", checked: true, onchange: () => draw() });
  const table = el("table", { class: "kv config-compare", id: "config-diff" });
  const differing = data.config.filter((r) => r.differs).length;
  panel.append(el("div", { class: "toolbar" },
    el("span", { class: "muted", text: `${differing} of ${data.config.length} keys differ` }),
    el("div", { class: "spacer" }),
    el("label", { class: "ctl" }, only, " only differences")), table);
  function draw() {
    clear(table).append(
      el("thead", {}, el("tr", {}, el("th", { text: "key" }), data.runs.map((r) => el("th", { class: "mono", text: short(r) })))),
      el("tbody", {}, data.config.filter((r) => !only.checked || r.differs).map((r) => el("tr", { class: r.differs ? "differs" : "" },
        el("td", { class: "mono", text: r.key }),
        r.values.map((v, i) => el("td", { class: r.present[i] ? "mono" : "mono missing", text: r.present[i] ? fmtValue(v) : "—" }))))));
    if (only.checked && !differing) table.append(el("caption", { text: "the configs are identical" }));
  }
  draw();
}

function pairView(panel, data, view) {
  const pick = (index) => {
    const select = el("select", {
      class: "ctl",
      onchange: () => {
        view.pair[index] = select.value;
        load();
      },
    }, data.runs.map((r) => el("option", { value: r.id, text: short(r) })));
    select.value = view.pair[index];
    return select;
  };
  const body = el("div", { class: "pair-body" });
  panel.append(el("div", { class: "toolbar" }, el("b", { text: "A" }), pick(0), el("span", { text: "against" }), el("b", { text: "B" }), pick(1)), body);
  async function load() {
    const [a, b] = view.pair;
    clear(body).append(el("div", { class: "loading", text: "loading…" }));
    const key = `${a}..${b}`;
    try {
      if (!view.diffs.has(key)) view.diffs.set(key, await api("/api/diff", { a, b }));
    } catch (err) {
      clear(body).append(errorBox(err));
      return;
    }
    const diff = view.diffs.get(key);
    clear(body);
    if (view.tab === "code") {
      const c = diff.code;
      body.append(el("p", { class: "lead", text: c.files.length ? `${c.files.length} files changed, +${c.additions} −${c.deletions}` : "the sources are identical" }),
        el("div", { id: "compare-code" }, renderDiff(c.patch, c.files, { truncated: c.truncated, empty: "the sources are identical" })));
    } else if (view.tab === "env") {
      envDiff(body, diff.environment);
    } else {
      body.append(el("div", { id: "compare-output" }, renderDiff(diff.output.patch, null, { truncated: diff.output.truncated, empty: "the outputs are identical" })));
    }
  }
  load();
}

function envDiff(body, env) {
  const rows = [];
  if (env.python) rows.push(["python", env.python[0], env.python[1]]);
  for (const [key, [a, b]] of Object.entries(env.host || {})) rows.push([key, a, b]);
  const packages = env.packages;
  for (const [name, [a, b]] of Object.entries(packages.changed).sort()) rows.push([name, a, b]);
  for (const [name, v] of Object.entries(packages.removed).sort()) rows.push([name, v, "—"]);
  for (const [name, v] of Object.entries(packages.added).sort()) rows.push([name, "—", v]);
  if (!rows.length) {
    body.append(el("div", { class: "empty", text: "the environments are identical (python, packages, CPU, GPU, OS)" }));
    return;
  }
  body.append(el("table", { class: "kv", id: "env-diff" },
    el("thead", {}, el("tr", {}, ["", "A", "B"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows.map(([name, a, b]) => el("tr", { class: "differs" },
      el("td", { class: "mono", text: name }), el("td", { class: "mono", text: a ?? "" }), el("td", { class: "mono", text: b ?? "" }))))));
}
