// One run: overview (status, result, failure, info, meta, tags and note), config with
// docs, metric charts, captured output (followed live while it runs), artifacts, the
// code (what was uncommitted, and the snapshot's files), host and environment.

import {
  el, clear, api, post, runUrl, fmtTime, fmtDuration, fmtAge, fmtValue, fmtBytes, pretty,
  statusBadge, toast, facts, tabs, errorBox, ansiNodes,
} from "./util.js";
import { metricPanel } from "./metrics.js";
import { renderDiff } from "./diff.js";
import { confirmDelete } from "./dialogs.js";

const TABS = [
  ["overview", "Overview"], ["config", "Config"], ["metrics", "Metrics"], ["output", "Output"],
  ["artifacts", "Artifacts"], ["code", "Code"], ["host", "Host"], ["env", "Environment"],
];
const IMAGE = /\.(png|jpe?g|gif|webp|bmp|svg|ico)$/i;

// The run list as it was last shown (its filter, sort and columns are in its URL).
export function listLink() {
  return sessionStorage.getItem("gitxp.board.list-hash") || "#/";
}

export function mountRun(main, id, tab) {
  const page = el("div", { class: "page run-page" }, el("div", { class: "loading", text: "loading…" }));
  main.appendChild(page);
  const view = { run: null, tab: tab || "overview", timers: [], cleanups: [], alive: true };
  const content = el("div", { class: "tab-content" });
  let tabBar = null;

  function show(name) {
    view.tab = TABS.some(([n]) => n === name) ? name : "overview";
    tabBar.select(view.tab);
    for (const timer of view.timers) clearInterval(timer);
    view.timers = [];
    for (const done of view.cleanups) done();
    view.cleanups = [];
    clear(content);
    const panel = el("div", { class: `panel panel-${view.tab}` });
    content.appendChild(panel);
    const draw = { overview, config, metrics, output, artifacts, code, host, env }[view.tab];
    draw(panel, view.run, view);
  }

  async function start() {
    try {
      view.run = await api(`/api/runs/${encodeURIComponent(id)}`);
    } catch (err) {
      clear(page).appendChild(errorBox(err));
      return;
    }
    const run = view.run;
    const info = run.info;
    const title = [info.experiment, info.name].filter(Boolean).join(" / ") || "run";
    tabBar = tabs(TABS.map(([n, l]) => [n, n === "metrics" ? `${l} (${Object.keys(run.metrics).length})`
      : n === "artifacts" ? `${l} (${run.artifacts.length})` : l]), view.tab,
    (name) => {
      history.replaceState(null, "", `#/run/${run.id}/${name}`);
      show(name);
    });
    badge = el("span", { id: "run-status" }, statusBadge(run.status));
    clear(page).append(
      el("div", { class: "run-head" },
        el("div", {},
          el("h1", {}, el("span", { text: title }), " ", badge),
          el("div", { class: "mono muted", text: run.id })),
        el("div", { class: "spacer" }),
        el("a", { class: "btn", href: listLink() }, "← all runs"),
        el("button", {
          class: "btn danger",
          id: "delete-run",
          onclick: async () => {
            const done = await confirmDelete([run.id]);
            if (done && done.length) location.hash = "#/";
          },
        }, "Delete")),
      tabBar.node,
      content,
    );
    show(view.tab);
    watch();
  }

  // While the run goes on, look at it every few seconds; when it has ended, show what it
  // recorded (status, result, failure, final output and metrics) without a reload.
  let badge = null;
  let watcher = null;
  function watch() {
    const live = () => ["RUNNING", "PROBABLY_DEAD", "QUEUED"].includes(view.run.status);
    if (!live()) return;
    watcher = setInterval(async () => {
      if (!view.alive || document.hidden) return;
      let fresh;
      try {
        fresh = await api(`/api/runs/${encodeURIComponent(id)}`);
      } catch (err) {
        return;
      }
      if (!view.alive || fresh.status === view.run.status) return;
      view.run = { ...fresh, note_tags: view.run.note_tags, note: view.run.note };
      clear(badge).append(statusBadge(fresh.status));
      const typing = content.contains(document.activeElement) && view.tab === "overview";
      if (!typing) show(view.tab);
      if (!live()) clearInterval(watcher);
    }, 3000);
  }

  start();
  return {
    route(newId, newTab) {
      if (newId !== id || !view.run) return false;
      if ((newTab || "overview") !== view.tab) show(newTab || "overview");
      return true;
    },
    destroy() {
      view.alive = false;
      clearInterval(watcher);
      for (const timer of view.timers) clearInterval(timer);
      for (const done of view.cleanups) done();
    },
  };
}

// -- overview -----------------------------------------------------------------------------

function overview(panel, run) {
  const info = run.info;
  const base = info.base_commit
    ? `${info.base_commit.slice(0, 12)}${info.branch ? ` on ${info.branch}` : info.detached ? " (detached)" : ""}${info.dirty ? " + uncommitted changes" : ""}`
    : "no commits yet";
  const beat = info.heartbeat ? `${fmtTime(info.heartbeat)} (${fmtAge(run.now - Date.parse(info.heartbeat) / 1000)})` : "";
  const start = Date.parse(info.start_time);
  const end = Date.parse(info.stop_time || info.heartbeat);
  panel.append(
    el("div", { class: "grid-2" },
      el("div", { class: "card" },
        el("h2", { text: "Run" }),
        facts([
          ["status", statusBadge(run.status)],
          ["result", info.result === null || info.result === undefined ? "" : el("span", { class: "mono", id: "result", text: fmtValue(info.result) })],
          ["experiment", info.experiment],
          ["name", info.name],
          ["command", el("code", { text: (info.command || []).join(" ") })],
          ["cwd", info.cwd],
          ["started", fmtTime(info.start_time)],
          ["stopped", fmtTime(info.stop_time)],
          ["duration", Number.isFinite(end - start) ? fmtDuration((end - start) / 1000) : ""],
          ["heartbeat", beat],
          ["exit code", info.exit_code],
          ["seed", info.seed],
          ["comment", info.comment],
          ["sweep", sweepOf(info) ? el("a", { href: `#/sweep/${encodeURIComponent(sweepOf(info))}`, id: "sweep-link", text: sweepOf(info) }) : ""],
          ["base commit", el("span", { class: "mono", text: base })],
          ["ref", el("span", { class: "mono", text: run.ref })],
          ["commit", el("span", { class: "mono", text: run.commit })],
          ["snapshot", el("span", { class: "mono", text: run.snapshot_commit })],
        ])),
      notesCard(run)),
  );
  if (info.fail_trace || run.output_trace) {
    const trace = el("pre", { class: "trace", id: "fail-trace" });
    if (info.fail_trace) trace.append(ansiNodes(info.fail_trace));
    if (run.output_trace) {
      if (info.fail_trace) trace.append("\n\n");
      trace.append(ansiNodes(run.output_trace));
    }
    panel.append(el("div", { class: "card failure" }, el("h2", { text: "Failure" }),
      run.output_trace ? el("p", { class: "muted small", text: "The traceback at the end of the run's output:" }) : null,
      trace));
  }
  if ((run.attestations || []).length) panel.append(reproductions(run));
  if (info.info && Object.keys(info.info).length) {
    panel.append(el("div", { class: "card" }, el("h2", { text: "Info" }), el("pre", { class: "json", text: pretty(info.info) })));
  }
  if (Object.keys(run.meta).length) {
    panel.append(el("div", { class: "card" }, el("h2", { text: "Meta" }), el("pre", { class: "json", text: pretty(run.meta) })));
  }
  if ((info.skipped_files || []).length) {
    panel.append(el("div", { class: "card" }, el("h2", { text: "Left out of the snapshot" }),
      el("ul", { class: "mono small" }, info.skipped_files.map((s) => el("li", { text: `${s.path} (${s.reason === "secret" ? `looks like a secret: ${s.pattern}` : `too large: ${fmtBytes(s.size)}`})` })))));
  }
}

// Who reproduced this run, where, and did it match (attestations, refs/gitxp/attestations/).
function reproductions(run) {
  const rows = run.attestations.map((a) => {
    const mine = a.original === run.id;
    const other = mine ? a.reproduction : a.original;
    return el("tr", { class: a.reproduced ? "match" : "differs" },
      el("td", { text: mine ? "reproduced by" : "reproduces" }),
      el("td", {}, el("a", { href: `#/run/${encodeURIComponent(other)}`, class: "mono", text: other.slice(0, 12) })),
      el("td", { text: a.by }),
      el("td", { text: a.host }),
      el("td", { text: fmtTime(a.time) }),
      el("td", { text: a.summary }));
  });
  return el("div", { class: "card", id: "reproductions" },
    el("h2", { text: "Reproductions" }),
    el("table", { class: "facts" }, el("tbody", {}, rows)),
    el("p", { class: "muted small", text: "Attestations in git: refs/gitxp/attestations/ (gitxp verify checks their signatures)" }));
}

function sweepOf(info) {
  const sweep = info.sweep;
  if (sweep && typeof sweep === "object") return sweep.id ? String(sweep.id) : "";
  return sweep ? String(sweep) : "";
}

function notesCard(run) {
  const chips = el("div", { class: "tag-row", id: "tags" });
  const input = el("input", { type: "text", id: "tag-input", placeholder: "add a tag", onkeydown: (e) => e.key === "Enter" && add() });
  const note = el("textarea", { id: "note", rows: "5", placeholder: "notes about this run", value: run.note || "" });
  note.value = run.note || "";
  const saved = el("span", { class: "muted small" });
  async function store(tags) {
    try {
      const result = await post(runUrl(run.id, "note"), { tags, note: note.value });
      run.note_tags = result.note_tags;
      run.note = result.note;
      saved.textContent = `saved as a git note on ${result.snapshot_commit.slice(0, 12)} (refs/notes/gitxp)`;
      draw();
    } catch (err) {
      toast(err.message, "error");
    }
  }
  function add() {
    const tag = input.value.trim();
    if (!tag) return;
    input.value = "";
    store([...run.note_tags, tag]);
  }
  function draw() {
    clear(chips);
    for (const tag of run.run_tags) {
      chips.appendChild(el("span", { class: "tag fixed", title: "given with gitxp run -t (in run.json)", text: tag }));
    }
    for (const tag of run.note_tags) {
      chips.appendChild(el("span", { class: "tag" }, tag,
        el("button", { class: "x", title: `remove ${tag}`, onclick: () => store(run.note_tags.filter((t) => t !== tag)) }, "×")));
    }
    if (!run.run_tags.length && !run.note_tags.length) chips.appendChild(el("span", { class: "muted", text: "no tags" }));
  }
  draw();
  return el("div", { class: "card" },
    el("h2", { text: "Tags and notes" }),
    chips,
    el("div", { class: "inline" }, input, el("button", { class: "btn", id: "tag-add", onclick: add }, "Add tag")),
    note,
    el("div", { class: "inline" }, el("button", { class: "btn primary", id: "note-save", onclick: () => store(run.note_tags) }, "Save note"), saved),
    el("p", { class: "muted small", text: "Stored in git: git notes --ref gitxp show " + run.snapshot_commit.slice(0, 12) }));
}

// -- config -------------------------------------------------------------------------------

function flatten(value, prefix, out) {
  for (const [key, sub] of Object.entries(value || {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (sub && typeof sub === "object" && !Array.isArray(sub) && Object.keys(sub).length) {
      out.push({ group: path });
      flatten(sub, path, out);
    } else {
      out.push({ key: path, value: sub });
    }
  }
  return out;
}

function config(panel, run) {
  const docs = run.config_docs || {};
  const updates = new Set(Object.keys(run.info.config_updates || {}));
  const rows = flatten(run.config, "", []);
  if (!rows.length) {
    panel.append(el("div", { class: "empty", text: "no config recorded" }));
    return;
  }
  panel.append(el("table", { class: "kv", id: "config" },
    el("thead", {}, el("tr", {}, el("th", { text: "key" }), el("th", { text: "value" }), el("th", { text: "doc" }))),
    el("tbody", {}, rows.map((r) => r.group !== undefined
      ? el("tr", { class: "group" }, el("td", { class: "mono", text: r.group }), el("td", {}), el("td", { class: "doc", text: docs[r.group] || "" }))
      : el("tr", {},
        el("td", { class: "mono", text: r.key }),
        el("td", { class: "mono value" }, fmtValue(r.value), updates.has(r.key) ? el("span", { class: "pill", title: "set on the command line (with …)", text: "with" }) : null),
        el("td", { class: "doc", text: docs[r.key] || "" }))))));
}

// -- metrics ------------------------------------------------------------------------------

function metrics(panel, run, view) {
  metricPanel(panel, [run.id], { [run.id]: run.id.slice(0, 8) }, view, { poll: () => view.run.info.status === "RUNNING" });
}

// -- output -------------------------------------------------------------------------------

function output(panel, run, view) {
  const pre = el("pre", { class: "output", id: "output" });
  const note = el("span", { class: "muted small" });
  const follow = el("input", { type: "checkbox", checked: run.info.status === "RUNNING" });
  let key = null;
  let text = "";
  const download = el("button", {
    class: "btn",
    onclick: () => {
      const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })), download: `${run.id}-output.log` });
      link.click();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    },
  }, "Download");
  panel.append(el("div", { class: "toolbar" }, note, el("div", { class: "spacer" }),
    el("label", { class: "ctl" }, follow, " follow"), download), pre);
  async function poll() {
    let data;
    try {
      data = await api(runUrl(run.id, "output", key ? { known: key } : {}));
    } catch (err) {
      note.textContent = err.message;
      return;
    }
    if (data.unchanged) return;
    key = data.key;
    text = data.text;
    clear(pre).append(ansiNodes(text || ""));
    if (!text) pre.appendChild(el("span", { class: "muted", text: "(no output)" }));
    const cut = data.length > text.length ? `the last ${text.length} of ${data.length} characters; ` : "";
    note.textContent = data.live
      ? `${cut}live from the run in progress, refreshed every 2 s`
      : `${cut}${run.info.status === "RUNNING" ? "as of the last heartbeat, refreshed every 2 s" : "as recorded"}`;
    if (follow.checked) pre.scrollTop = pre.scrollHeight;
  }
  poll();
  if (run.info.status === "RUNNING") every(view, 2, () => view.run.info.status === "RUNNING" && poll());
}

function every(view, seconds, action) {
  view.timers.push(setInterval(() => view.alive && !document.hidden && action(), seconds * 1000));
}

// -- artifacts ----------------------------------------------------------------------------

function artifacts(panel, run) {
  if (!run.artifacts.length) {
    panel.append(el("div", { class: "empty", text: "no artifacts" }));
    return;
  }
  const previews = el("div", { class: "previews" });
  const table = el("table", { class: "kv", id: "artifacts" },
    el("thead", {}, el("tr", {}, ["name", "size", "type", ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, run.artifacts.map((a) => {
      const raw = runUrl(run.id, "artifact", { name: a.name });
      return el("tr", {},
        el("td", { class: "mono", text: a.name }),
        el("td", { class: "num", text: fmtBytes(a.size) }),
        el("td", { class: "muted", text: a.content_type || "" }),
        el("td", {}, el("div", { class: "actions" },
          el("button", { class: "mini", onclick: () => preview(a) }, "view"),
          el("a", { class: "mini", href: runUrl(run.id, "artifact", { name: a.name, download: "1" }), download: a.name.split("/").pop() }, "download"),
          el("a", { class: "mini", href: raw, target: "_blank", rel: "noopener" }, "open"))));
    })));
  panel.append(table, previews);
  const open = new Map();
  async function preview(a, quiet) {
    if (open.has(a.name)) {
      if (!quiet) open.get(a.name).scrollIntoView({ behavior: "smooth", block: "nearest" });
      return;
    }
    const box = el("div", { class: "card preview", dataset: { name: a.name } },
      el("div", { class: "file-head" }, el("span", { class: "mono", text: a.name }), el("span", { class: "spacer" }),
        el("button", { class: "mini", title: "close", onclick: () => { box.remove(); open.delete(a.name); } }, "✕")));
    open.set(a.name, box);
    previews.append(box);
    if (IMAGE.test(a.name)) {
      box.append(el("img", { src: runUrl(run.id, "artifact", { name: a.name }), alt: a.name }));
      return;
    }
    try {
      const response = await fetch(runUrl(run.id, "artifact", { name: a.name, view: "text" }), { credentials: "same-origin" });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok) throw new Error(`${response.status}`);
      if (!type.startsWith("text/plain")) {
        box.append(el("p", { class: "muted", text: "binary file: use download" }));
        return;
      }
      const text = await response.text();
      box.append(el("pre", { class: "output", text: text.length > 200000 ? text.slice(0, 200000) + "\n…" : text }));
    } catch (err) {
      box.append(errorBox(err));
    }
  }
  const small = (a) => IMAGE.test(a.name) || (a.size !== null && a.size <= 65536 && /^text\/|json|yaml|csv/.test(a.content_type || "text/"));
  for (const a of run.artifacts.filter(small).slice(0, 6)) preview(a, true);
}

// -- code ---------------------------------------------------------------------------------

function code(panel, run) {
  let body = el("div", {});
  const sub = tabs([["changes", "Uncommitted changes"], ["files", "Files"]], "changes", (name) => {
    sub.select(name);
    const fresh = el("div", {}); // a late answer for the other sub-tab lands in the old one
    body.replaceWith(fresh);
    body = fresh;
    (name === "files" ? files : changes)(body, run);
  });
  panel.append(sub.node, body);
  changes(body, run);
}

async function changes(body, run) {
  let data;
  try {
    data = await api(runUrl(run.id, "changes"));
  } catch (err) {
    body.append(errorBox(err));
    return;
  }
  if (!data.available) {
    body.append(el("div", { class: "warn", text: `cannot show the changes: ${data.why}` }));
    return;
  }
  const where = data.base ? `base commit ${data.base.slice(0, 12)}${data.branch ? ` on ${data.branch}` : ""}` : "an empty repository (no commits yet)";
  const head = data.files.length
    ? `What was uncommitted when the run started: ${data.files.length} file${data.files.length === 1 ? "" : "s"} changed against ${where}.`
    : `The working tree was clean: the run's sources are exactly ${where}.`;
  body.append(el("p", { class: "lead", text: head }));
  if (data.skipped.length) {
    body.append(el("div", { class: "warn", text: `left out of the snapshot (too large, or looks like a secret): ${data.skipped.map((s) => s.path).join(", ")}` }));
  }
  body.append(el("div", { id: "code-diff" }, renderDiff(data.patch, data.files, { truncated: data.truncated, empty: "no changes" })));
}

async function files(body, run) {
  let data;
  try {
    data = await api(runUrl(run.id, "files"));
  } catch (err) {
    body.append(errorBox(err));
    return;
  }
  const viewer = el("div", { class: "file-view" }, el("div", { class: "muted pad", text: "choose a file" }));
  const tree = el("ul", { class: "file-tree", id: "file-tree" });
  const folders = new Map([["", tree]]);
  function folder(path) {
    if (folders.has(path)) return folders.get(path);
    const cut = path.lastIndexOf("/");
    const parent = folder(cut < 0 ? "" : path.slice(0, cut));
    const list = el("ul", {});
    parent.append(el("li", { class: "dir" }, el("details", { open: path.split("/").length < 2 },
      el("summary", { text: path.slice(cut + 1) + "/" }), list)));
    folders.set(path, list);
    return list;
  }
  for (const f of data.files) {
    const cut = f.path.lastIndexOf("/");
    const parent = folder(cut < 0 ? "" : f.path.slice(0, cut));
    parent.append(el("li", {}, el("a", {
      href: "#",
      class: "file",
      text: f.path.slice(cut + 1),
      title: f.path,
      onclick: (e) => {
        e.preventDefault();
        for (const a of tree.querySelectorAll("a.active")) a.classList.remove("active");
        e.target.classList.add("active");
        open(f.path);
      },
    })));
  }
  body.append(el("div", { class: "files-pane" }, el("div", { class: "tree-box" }, tree), viewer));
  async function open(path) {
    clear(viewer).append(el("div", { class: "muted pad", text: "loading…" }));
    try {
      const file = await api(runUrl(run.id, "file", { path }));
      const head = el("div", { class: "file-head" }, el("span", { class: "mono", text: path }),
        el("span", { class: "muted small", text: fmtBytes(file.size) }), el("span", { class: "spacer" }),
        el("a", { class: "mini", href: runUrl(run.id, "source", { path, download: "1" }) }, "download"));
      const text = file.binary
        ? el("div", { class: "muted pad", text: "binary file" })
        : el("pre", { class: "source", id: "file-text" }, sourceLines(file.text).map((line, i) => el("span", { class: "src-line", dataset: { n: i + 1 }, text: line + "\n" })));
      clear(viewer).append(head, text);
    } catch (err) {
      clear(viewer).append(errorBox(err));
    }
  }
}

function sourceLines(text) {
  const lines = (text || "").split("\n");
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

// -- host and environment -----------------------------------------------------------------

function host(panel, run) {
  const rows = [];
  const add = (key, value) => {
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      for (const [sub, inner] of Object.entries(value)) add(`${key}.${sub}`, inner);
    } else if (Array.isArray(value) && value.some((v) => v && typeof v === "object")) {
      rows.push([key, el("pre", { class: "json", text: pretty(value) })]);
    } else if (Array.isArray(value)) {
      rows.push([key, value.length ? value.map(fmtValue).join(", ") : "none"]);
    } else {
      rows.push([key, typeof value === "number" && /bytes$/.test(key) ? `${fmtBytes(value)} (${value})` : fmtValue(value)]);
    }
  };
  for (const [key, value] of Object.entries(run.host || {})) add(key, value);
  panel.append(rows.length ? el("div", { class: "card" }, facts(rows)) : el("div", { class: "empty", text: "no host facts" }));
}

function env(panel, run) {
  const lines = (run.env_lock || "").split("\n");
  const count = lines.filter((l) => l && !l.startsWith("#")).length;
  const pre = el("pre", { class: "output", id: "env-lock" });
  const search = el("input", { type: "search", class: "where", placeholder: "find a package", oninput: () => draw() });
  function draw() {
    const needle = search.value.trim().toLowerCase();
    pre.textContent = lines.filter((l) => !needle || l.toLowerCase().includes(needle)).join("\n");
  }
  panel.append(el("div", { class: "toolbar" }, el("span", { class: "muted", text: `${count} packages · pip install -r env.lock` }), el("div", { class: "spacer" }), search), pre);
  draw();
}
