// The run list: sort by any column, filter with the same `where` expressions as
// `gitxp ls --where`, filter by status (probably dead included), choose and order the
// columns (kept in localStorage), select runs to compare or delete, auto-refresh.

import {
  el, clear, api, post, fmtTime, fmtDuration, fmtAge, fmtValue, statusBadge, toast, load,
  save, errorBox,
} from "./util.js";

const COLUMNS_KEY = "gitxp.board.columns";
const SORT_KEY = "gitxp.board.sort";
const REFRESH_KEY = "gitxp.board.refresh";
const PAGE_ROWS = 200;
const COLLATOR = new Intl.Collator(undefined, { numeric: true });
const STATUSES = ["RUNNING", "PROBABLY_DEAD", "COMPLETED", "FAILED", "INTERRUPTED", "DIED", "QUEUED"];
const LABELS = {
  id: "ID", experiment: "experiment", name: "name", status: "status", start: "started",
  stop: "stopped", duration: "duration", heartbeat: "last beat", result: "result",
  exit_code: "exit", host: "host", base_commit: "base", branch: "branch", dirty: "dirty",
  seed: "seed", tags: "tags", note: "note", comment: "comment",
};

const state = {
  where: sessionStorage.getItem("gitxp.board.where") || "",
  statuses: new Set(load("gitxp.board.statuses", STATUSES)),
  sort: load(SORT_KEY, { column: "start", descending: true }),
  columns: load(COLUMNS_KEY, null),
  refresh: load(REFRESH_KEY, { on: true, seconds: 10 }),
  selected: new Set(),
  data: null,
  error: null,
  skew: 0,
};

export function label(column) {
  if (LABELS[column]) return LABELS[column];
  if (column.startsWith("config.")) return column.slice(7);
  const metric = /^metrics\.(.*)\.(last|min|max)$/.exec(column);
  if (metric) return `${metric[1]} (${metric[2]})`;
  return column;
}

function now() {
  return Date.now() + state.skew;
}

// The status shown: RUNNING with a stale heartbeat is PROBABLY_DEAD.
function shownStatus(row, index) {
  const status = row[index.status] || "UNKNOWN";
  const beat = row[index.heartbeat];
  if (status === "RUNNING" && beat && now() - beat > state.data.stale_after * 1000) {
    return "PROBABLY_DEAD";
  }
  return status;
}

function defaultColumns(columns, rows) {
  const index = Object.fromEntries(columns.map((c, i) => [c, i]));
  const fixed = ["id", "status", "experiment", "name", "start", "duration", "heartbeat", "result", "tags"];
  const varying = columns.filter((c) => {
    if (!c.startsWith("config.") || c === "config.seed") return false;
    const seen = new Set(rows.map((r) => JSON.stringify(r[index[c]] ?? null)));
    return seen.size > 1;
  });
  const metrics = columns.filter((c) => c.startsWith("metrics.") && c.endsWith(".last"));
  return [...fixed, ...varying.slice(0, 6), ...metrics.slice(0, 4)];
}

function visibleColumns() {
  const columns = state.data.columns;
  const wanted = state.columns || defaultColumns(columns, state.data.rows);
  const have = new Set(columns);
  const out = wanted.filter((c) => have.has(c));
  return out.includes("id") ? out : ["id", ...out];
}

function sortValue(row, column, index) {
  if (column === "status") return shownStatus(row, index);
  const value = row[index[column]];
  if (value === null || value === undefined) return null;
  if (typeof value === "number" || typeof value === "string") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return JSON.stringify(value);
}

function sortedRows(rows, index) {
  const { column, descending } = state.sort;
  if (!(column in index) && column !== "status") return rows;
  const keyed = rows.map((row) => [sortValue(row, column, index), row]);
  keyed.sort((a, b) => {
    const [x] = a;
    const [y] = b;
    if (x === null && y === null) return 0;
    if (x === null) return 1; // missing values last, either way
    if (y === null) return -1;
    let order;
    if (typeof x === "number" && typeof y === "number") order = x - y;
    else order = COLLATOR.compare(String(x), String(y));
    return descending ? -order : order;
  });
  return keyed.map(([, row]) => row);
}

function td(cls, text) {
  const node = document.createElement("td");
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

// One cell; built without el() because a thousand rows make tens of thousands of them.
function cell(column, row, index) {
  const value = row[index[column]];
  if (column === "id") {
    const node = td("mono id");
    const link = document.createElement("a");
    link.href = `#/run/${value}`;
    link.textContent = value.slice(0, 10);
    link.title = value;
    node.appendChild(link);
    return node;
  }
  if (column === "status") {
    const node = td("");
    node.appendChild(statusBadge(shownStatus(row, index)));
    return node;
  }
  if (column === "start" || column === "stop") return td("nowrap", fmtTime(value));
  if (column === "duration") return td("num", fmtDuration(value));
  if (column === "heartbeat") return td("num nowrap", value ? fmtAge((now() - value) / 1000) : "");
  if (column === "tags") {
    const node = td("");
    for (const tag of value || []) {
      const chip = document.createElement("span");
      chip.className = "tag";
      chip.textContent = tag;
      node.appendChild(chip);
    }
    return node;
  }
  if (column === "base_commit") return td("mono", value ? value.slice(0, 10) : "");
  const text = fmtValue(value);
  const node = td(typeof value === "number" ? "num" : "clip", text.length > 80 ? text.slice(0, 79) + "…" : text);
  if (text.length > 30) node.title = text;
  return node;
}

export function mountList(main) {
  const whereInput = el("input", {
    type: "search",
    id: "where",
    class: "where",
    value: state.where,
    placeholder: "filter: config.lr > 0.01 and metrics.loss.min < 0.5   (gitxp ls --where)",
    spellcheck: "false",
    onkeydown: (e) => {
      if (e.key === "Enter") applyWhere();
    },
  });
  const whereError = el("div", { class: "where-error" });
  const chips = el("div", { class: "chips" });
  const info = el("span", { class: "muted count" });
  const compareButton = el("button", { class: "btn", id: "compare", onclick: () => compare() }, "Compare");
  const deleteButton = el("button", { class: "btn danger", id: "delete", onclick: () => remove() }, "Delete");
  const refreshBox = el("input", {
    type: "checkbox",
    id: "auto-refresh",
    checked: state.refresh.on,
    onchange: () => {
      state.refresh.on = refreshBox.checked;
      save(REFRESH_KEY, state.refresh);
      schedule();
    },
  });
  const intervalSelect = el("select", {
    class: "ctl",
    "aria-label": "refresh interval",
    onchange: () => {
      state.refresh.seconds = Number(intervalSelect.value);
      save(REFRESH_KEY, state.refresh);
      schedule();
    },
  }, [2, 5, 10, 30, 60].map((s) => el("option", { value: String(s), text: `${s}s` })));
  intervalSelect.value = String(state.refresh.seconds);
  const table = el("table", { class: "runs", id: "runs" });
  const more = el("button", { class: "more-rows", id: "more-rows", hidden: true });
  const body = el("div", { class: "table-box" }, table, more);
  main.appendChild(el("div", { class: "page list-page" },
    el("div", { class: "toolbar" },
      el("div", { class: "where-box" }, whereInput,
        el("button", { class: "btn primary", id: "apply-where", onclick: () => applyWhere() }, "Filter"),
        el("button", { class: "btn", onclick: () => { whereInput.value = ""; applyWhere(); } }, "Clear")),
      whereError),
    el("div", { class: "toolbar second" }, chips,
      el("div", { class: "spacer" }),
      info,
      compareButton,
      deleteButton,
      el("button", { class: "btn", id: "columns", onclick: () => chooseColumns() }, "Columns"),
      el("label", { class: "ctl" }, refreshBox, " auto-refresh "), intervalSelect,
      el("button", { class: "btn", title: "refresh now", onclick: () => refresh(true) }, "↻")),
    body));

  let timer = null;
  let alive = true;
  let allBox = null;
  let drawn = null;
  let keepRows = 0; // rows the user scrolled to: kept across refreshes

  body.addEventListener("scroll", () => {
    if (drawn && body.scrollTop + body.clientHeight > body.scrollHeight - 600) addRows(PAGE_ROWS);
  });
  more.addEventListener("click", () => addRows(PAGE_ROWS * 5));
  let shownIds = [];

  function updateSelection() {
    const count = state.selected.size;
    compareButton.disabled = count < 2;
    compareButton.textContent = `Compare${count ? ` (${count})` : ""}`;
    deleteButton.disabled = count < 1;
    deleteButton.textContent = `Delete${count ? ` (${count})` : ""}`;
    if (allBox) allBox.checked = shownIds.length > 0 && shownIds.every((id) => state.selected.has(id));
  }

  table.addEventListener("change", (event) => {
    const box = event.target;
    const tr = box.closest("tbody tr");
    if (!tr || box.type !== "checkbox") return;
    if (box.checked) state.selected.add(tr.dataset.id);
    else state.selected.delete(tr.dataset.id);
    tr.classList.toggle("picked", box.checked);
    updateSelection();
  });
  table.addEventListener("click", (event) => {
    const tr = event.target.closest("tbody tr");
    if (!tr || event.target.closest("input, a, button")) return;
    location.hash = `#/run/${tr.dataset.id}`;
  });

  function schedule() {
    clearTimeout(timer);
    if (alive && state.refresh.on) timer = setTimeout(() => refresh(false), state.refresh.seconds * 1000);
  }

  async function refresh(force) {
    clearTimeout(timer);
    let changed = true;
    try {
      const known = force || !state.data || state.error ? undefined : state.data.version;
      const data = await api("/api/runs", { where: state.where, known });
      state.skew = data.now * 1000 - Date.now();
      if (data.repo) document.getElementById("repo-name").textContent = data.repo;
      changed = !data.unchanged || !!state.error;
      if (!data.unchanged) state.data = data;
      state.error = null;
    } catch (err) {
      if (err.status === 400) {
        state.error = err;
        state.data = state.data && { ...state.data, rows: [], version: null };
      } else {
        toast(`refresh failed: ${err.message}`, "error");
      }
    }
    if (!alive) return;
    if (changed) render(); // the 15 s ticker keeps ages and "probably dead" current
    schedule();
  }

  function applyWhere() {
    state.where = whereInput.value.trim();
    sessionStorage.setItem("gitxp.board.where", state.where);
    refresh(true);
  }

  function render() {
    whereError.textContent = state.error ? state.error.message : "";
    whereInput.classList.toggle("bad", !!state.error);
    if (!state.data) return;
    const { columns, rows, total } = state.data;
    const index = Object.fromEntries(columns.map((c, i) => [c, i]));
    const counts = {};
    for (const row of rows) {
      const s = shownStatus(row, index);
      counts[s] = (counts[s] || 0) + 1;
    }
    clear(chips);
    for (const status of STATUSES) {
      const box = el("input", {
        type: "checkbox",
        checked: state.statuses.has(status),
        onchange: () => {
          if (box.checked) state.statuses.add(status);
          else state.statuses.delete(status);
          save("gitxp.board.statuses", [...state.statuses]);
          render();
        },
      });
      chips.appendChild(el("label", { class: `chip st-${status.toLowerCase()}`, dataset: { status } },
        box, ` ${status === "PROBABLY_DEAD" ? "probably dead" : status.toLowerCase()} `,
        el("span", { class: "n", text: counts[status] || 0 })));
    }
    const shown = sortedRows(rows.filter((r) => {
      const s = shownStatus(r, index);
      return state.statuses.has(s) || !STATUSES.includes(s);
    }), index);
    const ids = new Set(rows.map((r) => r[index.id]));
    for (const id of [...state.selected]) if (!ids.has(id)) state.selected.delete(id);
    info.textContent = shown.length === total
      ? `${total} run${total === 1 ? "" : "s"}`
      : `${shown.length} of ${total} runs`;
    shownIds = shown.map((r) => r[index.id]);
    const visible = visibleColumns();
    allBox = el("input", {
      type: "checkbox",
      "aria-label": "select all shown",
      checked: shown.length > 0 && shown.every((r) => state.selected.has(r[index.id])),
      onchange: () => {
        for (const r of shown) {
          if (allBox.checked) state.selected.add(r[index.id]);
          else state.selected.delete(r[index.id]);
        }
        render();
      },
    });
    const head = el("tr", {}, el("th", { class: "pick" }, allBox), visible.map((c) => {
      const active = state.sort.column === c;
      return el("th", {
        class: active ? "sorted" : "",
        title: `${c} — click to sort`,
        dataset: { column: c },
        onclick: () => {
          state.sort = { column: c, descending: active ? !state.sort.descending : c === "start" };
          save(SORT_KEY, state.sort);
          render();
        },
      }, label(c), active ? el("span", { class: "arrow", text: state.sort.descending ? " ▼" : " ▲" }) : null);
    }));
    const makeRow = (row) => {
      const id = row[index.id];
      const tr = document.createElement("tr");
      tr.dataset.id = id;
      const picked = state.selected.has(id);
      if (picked) tr.className = "picked";
      const pickCell = td("pick");
      const pick = document.createElement("input");
      pick.type = "checkbox";
      pick.checked = picked;
      pick.setAttribute("aria-label", `select ${id}`);
      pickCell.appendChild(pick);
      tr.appendChild(pickCell);
      for (const column of visible) tr.appendChild(cell(column, row, index));
      return tr;
    };
    // Rows are drawn a page at a time: the first page now, the next ones as the table is
    // scrolled near its end. A table of thousands of rows would take the browser a
    // noticeable time to lay out on every refresh or sort.
    const tbody = document.createElement("tbody");
    drawn = { shown, makeRow, tbody, next: 0 };
    addRows(Math.max(PAGE_ROWS, drawn.next, keepRows));
    table.replaceChildren(el("thead", {}, head), tbody);
    updateSelection();
    for (const stale of body.querySelectorAll(".empty, .error-box")) stale.remove();
    if (!shown.length) {
      body.appendChild(state.error ? errorBox(state.error)
        : el("div", { class: "empty", text: total ? "no run matches" : "no runs yet: record one with 'gitxp run SCRIPT.py'" }));
    }
    performance.mark("gitxp-list-rendered");
  }

  // Draw up to `count` more rows of the current table.
  function addRows(count) {
    if (!drawn) return;
    const slice = document.createDocumentFragment();
    const end = Math.min(drawn.shown.length, drawn.next + count);
    for (let i = drawn.next; i < end; i++) slice.appendChild(drawn.makeRow(drawn.shown[i]));
    drawn.tbody.appendChild(slice);
    drawn.next = end;
    keepRows = Math.max(keepRows, end);
    more.hidden = end >= drawn.shown.length;
    more.textContent = `showing ${end} of ${drawn.shown.length}: scroll or click for more`;
  }

  function compare() {
    const ids = [...state.selected];
    if (ids.length >= 2) location.hash = `#/compare/${ids.join(",")}`;
  }

  async function remove() {
    const ids = [...state.selected];
    if (!ids.length) return;
    const done = await confirmDelete(ids);
    if (done) {
      for (const id of done) state.selected.delete(id);
      refresh(true);
    }
  }

  function chooseColumns() {
    columnDialog(state.data.columns, visibleColumns(), (chosen) => {
      state.columns = chosen;
      if (chosen) save(COLUMNS_KEY, chosen);
      else localStorage.removeItem(COLUMNS_KEY);
      render();
    });
  }

  refresh(true);
  const ticker = setInterval(() => alive && state.data && !document.hidden && render(), 15000);
  return () => {
    alive = false;
    clearTimeout(timer);
    clearInterval(ticker);
  };
}

// The dialog to choose and order columns: shown ones with ↑ ↓ ✕, the others to add.
function columnDialog(all, visible, onsave) {
  let chosen = visible.slice();
  const search = el("input", { type: "search", placeholder: "find a column", class: "where", oninput: () => draw() });
  const shownList = el("ol", { class: "col-list" });
  const otherList = el("ul", { class: "col-list" });
  const dialog = el("dialog", { class: "dialog wide", id: "column-dialog" },
    el("h2", { text: "Columns" }),
    el("p", { class: "muted", text: "Shown columns in order (↑ ↓ to move). Your choice is kept in this browser." }),
    el("div", { class: "col-panes" },
      el("div", {}, el("h3", { text: "Shown" }), shownList),
      el("div", {}, el("h3", { text: "Add" }), search, otherList)),
    el("div", { class: "dialog-buttons" },
      el("button", { class: "btn", onclick: () => { onsave(null); close(); } }, "Reset to default"),
      el("span", { class: "spacer" }),
      el("button", { class: "btn", onclick: () => close() }, "Cancel"),
      el("button", { class: "btn primary", id: "columns-save", onclick: () => { onsave(chosen); close(); } }, "Save")));
  function close() {
    dialog.close();
    dialog.remove();
  }
  function move(i, by) {
    const j = i + by;
    if (j < 0 || j >= chosen.length) return;
    [chosen[i], chosen[j]] = [chosen[j], chosen[i]];
    draw();
  }
  function draw() {
    clear(shownList);
    chosen.forEach((c, i) => {
      shownList.appendChild(el("li", { dataset: { column: c } },
        el("span", { class: "col-name", text: label(c), title: c }),
        el("button", { class: "mini", title: "move up", onclick: () => move(i, -1) }, "↑"),
        el("button", { class: "mini", title: "move down", onclick: () => move(i, 1) }, "↓"),
        c === "id" ? null : el("button", { class: "mini", title: "hide", onclick: () => { chosen.splice(i, 1); draw(); } }, "✕")));
    });
    clear(otherList);
    const needle = search.value.trim().toLowerCase();
    for (const c of all) {
      if (chosen.includes(c) || (needle && !c.toLowerCase().includes(needle))) continue;
      otherList.appendChild(el("li", { dataset: { column: c } },
        el("button", { class: "mini", title: "show", onclick: () => { chosen.push(c); draw(); } }, "+"),
        el("span", { class: "col-name", text: c })));
    }
  }
  draw();
  document.body.appendChild(dialog);
  dialog.showModal();
}

// Ask before deleting runs; resolves to the ids deleted (or null when cancelled).
export function confirmDelete(ids) {
  return new Promise((resolve) => {
    const force = el("input", { type: "checkbox", id: "delete-force" });
    const message = el("div", { class: "where-error" });
    const go = el("button", { class: "btn danger", id: "delete-confirm" }, `Delete ${ids.length} run${ids.length === 1 ? "" : "s"}`);
    const dialog = el("dialog", { class: "dialog", id: "delete-dialog" },
      el("h2", { text: "Delete runs?" }),
      el("p", { text: "Their refs are deleted (as 'gitxp rm' does); 'gitxp gc' then gives the space back. Copies already pushed elsewhere stay there." }),
      el("ul", { class: "mono small" }, ids.slice(0, 12).map((id) => el("li", { text: id })),
        ids.length > 12 ? el("li", { text: `… and ${ids.length - 12} more` }) : null),
      el("label", { class: "ctl" }, force, " also delete runs that are still RUNNING"),
      message,
      el("div", { class: "dialog-buttons" },
        el("span", { class: "spacer" }),
        el("button", { class: "btn", onclick: () => finish(null) }, "Cancel"),
        go));
    function finish(value) {
      dialog.close();
      dialog.remove();
      resolve(value);
    }
    go.addEventListener("click", async () => {
      go.disabled = true;
      try {
        const result = await post("/api/delete", { runs: ids, force: force.checked });
        const kept = result.kept.length ? `; ${result.kept.length} had changed and were kept` : "";
        toast(`deleted ${result.deleted.length} run${result.deleted.length === 1 ? "" : "s"}${kept}`);
        finish(result.deleted);
      } catch (err) {
        message.textContent = err.message;
        go.disabled = false;
      }
    });
    dialog.addEventListener("cancel", () => resolve(null));
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}
