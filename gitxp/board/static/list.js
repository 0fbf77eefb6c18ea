// The run list, paged by the server: it filters (the `where` expressions of
// `gitxp ls --where`, status chips) and sorts; the table asks for the rows that scroll into
// view, a page at a time, and draws only those (fixed-height rows between two spacers), so
// 20,000 runs scroll like 20. The filter, sort, status chips and columns are in the URL;
// the columns you choose are kept per repository. A refresh updates the rows in place.

import {
  el, clear, api, fmtTime, fmtDuration, fmtAge, fmtValue, statusBadge, toast, load,
  save, errorBox, hashParams, setHashParams, label,
} from "./util.js";
import { columnDialog, confirmDelete } from "./dialogs.js";

const REFRESH_KEY = "gitxp.board.refresh";
const SCROLL_KEY = "gitxp.board.list-scroll";
const PAGE = 200; // rows in one answer
const OVERSCAN = 12; // rows drawn beyond each edge of the view
export const STATUSES = ["RUNNING", "PROBABLY_DEAD", "COMPLETED", "FAILED", "INTERRUPTED", "DIED", "QUEUED"];
// A Python string literal for a where expression.
export function pyString(text) {
  if (!text.includes("'")) return `'${text.replace(/\\/g, "\\\\")}'`;
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function td(cls, text) {
  const node = document.createElement("td");
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

function readState() {
  const params = hashParams();
  const status = params.get("status");
  return {
    where: params.get("where") || "",
    on: params.get("on") || "",
    sort: params.get("sort") || "-start",
    statuses: status === null ? null : new Set(status.split(",").filter(Boolean)),
    columns: params.get("cols") ? params.get("cols").split(",").filter(Boolean) : null,
  };
}

export function mountList(main) {
  const state = {
    ...readState(),
    refresh: load(REFRESH_KEY, { on: true, seconds: 10 }),
    selected: new Set(),
    meta: null, // the last answer without its rows: columns, matched, counts, defaults…
    error: null,
    skew: 0,
  };
  const cache = new Map(); // row index → row (values by meta.columns)
  const versions = new Map(); // page → version of its last answer
  const inflight = new Map(); // page → promise
  let generation = 0; // bumped when the query changes: older answers are dropped
  let rowHeight = load("gitxp.board.row-height", 34);

  const whereInput = el("input", {
    type: "search", id: "where", class: "where", value: state.where, spellcheck: "false",
    placeholder: "filter: config.lr > 0.01 and metrics.loss.min < 0.5   (gitxp ls --where)",
    onkeydown: (e) => e.key === "Enter" && applyWhere(whereInput.value),
  });
  const whereError = el("div", { class: "where-error" });
  // Runs of one branch's code, rebased or squashed too (gitxp ls --on BRANCH).
  const onSelect = el("select", {
    id: "on-branch", title: "only runs whose code is on this branch (gitxp ls --on)",
    onchange: () => { state.on = onSelect.value; setHashParams({ on: state.on || null }); reload(); },
  }, el("option", { value: "" }, "all branches"));
  function fillBranches(branches) {
    const have = [...onSelect.options].map((o) => o.value).slice(1);
    if (have.join("\n") === branches.join("\n")) return;
    onSelect.replaceChildren(el("option", { value: "" }, "all branches"),
      ...branches.map((b) => el("option", { value: b }, `on ${b}`)));
    if (state.on && !branches.includes(state.on)) onSelect.append(el("option", { value: state.on }, `on ${state.on}`));
    onSelect.value = state.on;
  }
  const chips = el("div", { class: "chips" });
  const chipBoxes = {};
  for (const status of STATUSES) {
    const box = el("input", { type: "checkbox", checked: !state.statuses || state.statuses.has(status), onchange: () => pickStatus() });
    const count = el("span", { class: "n", text: "0" });
    chipBoxes[status] = { box, count };
    chips.appendChild(el("label", { class: `chip st-${status.toLowerCase()}`, dataset: { status } },
      box, ` ${status === "PROBABLY_DEAD" ? "probably dead" : status.toLowerCase()} `, count));
  }
  const info = el("span", { class: "muted count", id: "run-count" });
  const compareButton = el("button", { class: "btn", id: "compare", onclick: () => compare() }, "Compare");
  const deleteButton = el("button", { class: "btn danger", id: "delete", onclick: () => remove() }, "Delete");
  const analyzeLink = el("a", { class: "btn", id: "analyze", href: "#/analyze" }, "Analyze");
  const refreshBox = el("input", {
    type: "checkbox", id: "auto-refresh", checked: state.refresh.on,
    onchange: () => { state.refresh.on = refreshBox.checked; save(REFRESH_KEY, state.refresh); schedule(); },
  });
  const intervalSelect = el("select", {
    class: "ctl", "aria-label": "refresh interval",
    onchange: () => { state.refresh.seconds = Number(intervalSelect.value); save(REFRESH_KEY, state.refresh); schedule(); },
  }, [2, 5, 10, 30, 60].map((s) => el("option", { value: String(s), text: `${s}s` })));
  intervalSelect.value = String(state.refresh.seconds);
  const thead = el("thead");
  const tbody = el("tbody");
  const topSpace = el("tr", { class: "spacer" }, el("td"));
  const bottomSpace = el("tr", { class: "spacer" }, el("td"));
  tbody.append(topSpace, bottomSpace);
  const table = el("table", { class: "runs", id: "runs" }, thead, tbody);
  const box = el("div", { class: "table-box", id: "table-box" }, table);
  const empty = el("div", { class: "empty", hidden: true });
  main.appendChild(el("div", { class: "page list-page" },
    el("div", { class: "toolbar" },
      el("div", { class: "where-box" }, whereInput,
        el("button", { class: "btn primary", id: "apply-where", onclick: () => applyWhere(whereInput.value) }, "Filter"),
        el("button", { class: "btn", onclick: () => { whereInput.value = ""; applyWhere(""); } }, "Clear")),
      whereError),
    el("div", { class: "toolbar second" }, chips, onSelect,
      el("div", { class: "spacer" }),
      info, compareButton, deleteButton, analyzeLink,
      el("button", { class: "btn", id: "columns", onclick: () => chooseColumns() }, "Columns"),
      el("label", { class: "ctl" }, refreshBox, " auto-refresh "), intervalSelect,
      el("button", { class: "btn", title: "refresh now", onclick: () => refresh() }, "↻")),
    box, empty));

  let alive = true;
  let timer = null;
  let shownColumns = null; // the columns the header was drawn with
  const drawn = new Map(); // row index → <tr>
  let first = 0; // index of the first drawn row
  let last = 0; // one past the last
  const scrollMemo = load(SCROLL_KEY, null, sessionStorage);
  let restore = scrollMemo && scrollMemo.hash === listHash() ? scrollMemo.top : null;

  function listHash() {
    return location.hash.split("?")[1] || "";
  }

  function now() {
    return Date.now() + state.skew;
  }

  function query(offset, limit, known) {
    return {
      where: state.where,
      on: state.on || undefined,
      sort: state.sort,
      status: state.statuses ? [...state.statuses].join(",") : undefined,
      offset, limit, known,
    };
  }

  function storageKey() {
    return `gitxp.board.columns.${state.meta ? state.meta.repo_key : "?"}`;
  }

  function visibleColumns() {
    const meta = state.meta;
    const wanted = state.columns || load(storageKey(), null) || meta.defaults;
    const have = new Set(meta.columns);
    const out = wanted.filter((c) => have.has(c));
    return out.includes("id") ? out : ["id", ...out];
  }

  // -- answers ------------------------------------------------------------------------------

  function take(data, page) {
    const { rows, ...meta } = data;
    if (meta.branches) fillBranches(meta.branches);
    if (data.unchanged) {
      Object.assign(state.meta, meta);
    } else {
      state.meta = meta;
      versions.set(page, data.version);
      rows.forEach((row, i) => cache.set(data.offset + i, row));
    }
    state.skew = data.now * 1000 - Date.now();
    state.error = null;
    if (meta.repo) document.getElementById("repo-name").textContent = meta.repo;
  }

  function fetchPage(page, known) {
    if (inflight.has(page)) return inflight.get(page);
    const mine = generation;
    const promise = api("/api/runs", query(page * PAGE, PAGE, known)).then((data) => {
      if (mine !== generation || !alive) return false;
      take(data, page);
      return !data.unchanged;
    }).catch((err) => {
      if (mine !== generation || !alive) return false;
      if (err.status === 400) {
        state.error = err;
        return true;
      }
      toast(`refresh failed: ${err.message}`, "error");
      return false;
    }).finally(() => inflight.delete(page));
    inflight.set(page, promise);
    return promise;
  }

  // A new query (filter, sort, status): forget every row, fetch the page in view.
  async function reload() {
    generation += 1;
    cache.clear();
    versions.clear();
    inflight.clear();
    const top = restore ?? 0;
    await fetchPage(Math.floor(top / rowHeight / PAGE));
    if (!alive) return;
    render();
    if (restore !== null) {
      box.scrollTop = restore;
      restore = null;
      paint();
    } else {
      box.scrollTop = 0;
    }
    schedule();
  }

  // Auto-refresh: the pages in view again; changed rows are updated where they are.
  async function refresh() {
    clearTimeout(timer);
    const pages = new Set();
    for (let i = first; i < Math.max(last, first + 1); i += 1) pages.add(Math.floor(i / PAGE));
    const answers = await Promise.all([...pages].map((p) => fetchPage(p, state.error ? undefined : versions.get(p))));
    if (!alive) return;
    if (answers.some(Boolean) || state.error) {
      for (const key of [...cache.keys()]) if (!pages.has(Math.floor(key / PAGE))) cache.delete(key);
      render();
    } else {
      drawChips();
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    if (alive && state.refresh.on) timer = setTimeout(() => refresh(), state.refresh.seconds * 1000);
  }

  // -- drawing --------------------------------------------------------------------------------

  function render() {
    whereError.textContent = state.error ? state.error.message : "";
    whereInput.classList.toggle("bad", !!state.error);
    if (!state.meta) return;
    drawChips();
    const columns = visibleColumns();
    if (!shownColumns || shownColumns.join() !== columns.join() || thead.dataset.sort !== state.sort) drawHead(columns);
    const count = state.error ? 0 : state.meta.matched;
    for (const [index, tr] of drawn) {
      if (index >= count) {
        tr.remove();
        drawn.delete(index);
      }
    }
    paint(true);
    empty.hidden = count > 0;
    clear(empty);
    if (!count) {
      empty.appendChild(state.error ? errorBox(state.error)
        : el("span", { text: state.meta.total ? "no run matches" : "no runs yet: record one with 'gitxp run SCRIPT.py'" }));
    }
    updateSelection();
    sessionStorage.setItem("gitxp.board.list-hash", location.hash || "#/");
    performance.mark("gitxp-list-rendered");
  }

  function drawChips() {
    const { counts, matched, total } = state.meta;
    for (const status of STATUSES) chipBoxes[status].count.textContent = String(counts[status] || 0);
    info.textContent = matched === total ? `${total} run${total === 1 ? "" : "s"}` : `${matched} of ${total} runs`;
  }

  function drawHead(columns) {
    shownColumns = columns;
    thead.dataset.sort = state.sort;
    const sortColumn = state.sort.replace(/^[-+]/, "");
    const descending = state.sort.startsWith("-");
    const allBox = el("input", {
      type: "checkbox", id: "select-all", "aria-label": "select all shown",
      onchange: () => {
        for (const [index] of drawn) {
          const row = cache.get(index);
          if (!row) continue;
          if (allBox.checked) state.selected.add(row[0]);
          else state.selected.delete(row[0]);
        }
        for (const [index, tr] of drawn) fillRow(tr, index, true);
        updateSelection();
      },
    });
    thead.replaceChildren(el("tr", {}, el("th", { class: "pick" }, allBox), columns.map((c) => {
      const active = sortColumn === c;
      return el("th", {
        class: (active ? "sorted" : "") + (c === "id" ? " sticky-id" : ""),
        title: `${c} — click to sort`,
        dataset: { column: c },
        onclick: () => {
          const down = active ? !descending : c === "start";
          state.sort = `${down ? "-" : ""}${c}`;
          setHashParams({ sort: state.sort === "-start" ? null : state.sort });
          reload();
        },
      }, label(c), active ? el("span", { class: "arrow", text: descending ? " ▼" : " ▲" }) : null);
    })));
    for (const [index, tr] of drawn) fillRow(tr, index, true);
    const span = columns.length + 1;
    topSpace.firstChild.colSpan = span;
    bottomSpace.firstChild.colSpan = span;
  }

  // Draw the rows in view (and a few beyond), fetching the pages they are on.
  function paint(force) {
    if (!state.meta) return;
    const count = state.error ? 0 : state.meta.matched;
    const height = box.clientHeight || 600;
    const from = Math.max(0, Math.floor(box.scrollTop / rowHeight) - OVERSCAN);
    const to = Math.min(count, Math.ceil((box.scrollTop + height) / rowHeight) + OVERSCAN);
    for (const [index, tr] of drawn) {
      if (index < from || index >= to) {
        tr.remove();
        drawn.delete(index);
      }
    }
    let anchor = bottomSpace;
    for (let index = to - 1; index >= from; index -= 1) {
      let tr = drawn.get(index);
      if (!tr) {
        tr = document.createElement("tr");
        tr.className = "row";
        drawn.set(index, tr);
        tbody.insertBefore(tr, anchor);
        fillRow(tr, index, true);
      } else if (force) {
        fillRow(tr, index, false);
      }
      anchor = tr;
    }
    first = from;
    last = to;
    topSpace.firstChild.style.height = `${from * rowHeight}px`;
    bottomSpace.firstChild.style.height = `${Math.max(0, count - to) * rowHeight}px`;
    const missing = new Set();
    for (let index = from; index < to; index += 1) if (!cache.has(index)) missing.add(Math.floor(index / PAGE));
    for (const page of missing) {
      fetchPage(page).then((changed) => changed && alive && paint(true));
    }
    const sample = drawn.get(from);
    if (sample && cache.has(from)) {
      const measured = sample.getBoundingClientRect().height;
      if (measured > 10 && Math.abs(measured - rowHeight) > 0.5) {
        rowHeight = measured;
        save("gitxp.board.row-height", measured);
        requestAnimationFrame(() => paint(false));
      }
    }
  }

  // Fill one row in place: only cells whose value changed are redrawn, and the
  // checkbox (which may have the keyboard focus) is kept.
  function fillRow(tr, index, rebuild) {
    const row = cache.get(index);
    const columns = shownColumns || [];
    const at = Object.fromEntries(state.meta.columns.map((c, i) => [c, i]));
    tr.classList.toggle("loading", !row);
    let pickCell = tr.firstChild;
    if (!pickCell) {
      pickCell = td("pick");
      const pick = document.createElement("input");
      pick.type = "checkbox";
      pickCell.appendChild(pick);
      tr.appendChild(pickCell);
    }
    const pick = pickCell.firstChild;
    const id = row ? row[at.id] : "";
    tr.dataset.id = id;
    pick.setAttribute("aria-label", `select ${id}`);
    pick.checked = state.selected.has(id);
    pick.disabled = !row;
    tr.classList.toggle("picked", pick.checked);
    const keys = columns.map((c) => (row ? JSON.stringify(row[at[c]] ?? null) : ""));
    if (rebuild || tr.cells.length !== columns.length + 1) {
      while (tr.cells.length > 1) tr.lastChild.remove();
      columns.forEach((c, i) => tr.appendChild(cell(c, row, at, keys[i])));
      return;
    }
    columns.forEach((c, i) => {
      const old = tr.cells[i + 1];
      if (old.dataset.key !== keys[i] || c === "heartbeat") old.replaceWith(cell(c, row, at, keys[i]));
    });
  }

  // One cell; built without el() because many are made on every scroll.
  function cell(column, row, at, key) {
    const value = row ? row[at[column]] : null;
    let node;
    if (!row) {
      node = td(column === "id" ? "id" : "", column === "id" ? "…" : "");
    } else if (column === "id") {
      node = td("mono id");
      const link = document.createElement("a");
      link.href = `#/run/${value}`;
      link.textContent = value.slice(0, 10);
      link.title = value;
      node.appendChild(link);
    } else if (column === "status") {
      node = td("");
      node.appendChild(statusBadge(value));
    } else if (column === "start" || column === "stop") {
      node = td("nowrap", fmtTime(value));
    } else if (column === "duration") {
      node = td("num", fmtDuration(value));
    } else if (column === "heartbeat") {
      node = td("num nowrap", value ? fmtAge((now() - value) / 1000) : "");
    } else if (column === "tags") {
      node = td("");
      for (const tag of value || []) {
        const chip = document.createElement("span");
        chip.className = "tag filter";
        chip.textContent = tag;
        chip.title = `show the runs tagged ${tag}`;
        chip.dataset.tag = tag;
        node.appendChild(chip);
      }
    } else if (column === "base_commit") {
      node = td("mono", value ? value.slice(0, 10) : "");
    } else {
      const text = fmtValue(value);
      node = td(typeof value === "number" ? "num" : "clip", text.length > 80 ? text.slice(0, 79) + "…" : text);
      if (text.length > 30) node.title = text;
    }
    node.dataset.key = key;
    return node;
  }

  function updateSelection() {
    const count = state.selected.size;
    compareButton.disabled = count < 2;
    compareButton.textContent = `Compare${count ? ` (${count})` : ""}`;
    deleteButton.disabled = count < 1;
    deleteButton.textContent = `Delete${count ? ` (${count})` : ""}`;
    const where = state.where ? `?where=${encodeURIComponent(state.where)}` : "";
    analyzeLink.href = `#/analyze${where}`;
  }

  // -- what the user does -------------------------------------------------------------------

  function applyWhere(text) {
    state.where = text.trim();
    whereInput.value = state.where;
    setHashParams({ where: state.where });
    reload();
  }

  function pickStatus() {
    const chosen = STATUSES.filter((s) => chipBoxes[s].box.checked);
    state.statuses = chosen.length === STATUSES.length ? null : new Set(chosen);
    setHashParams({ status: state.statuses ? chosen.join(",") || "none" : null });
    reload();
  }

  tbody.addEventListener("change", (event) => {
    const pick = event.target;
    const tr = pick.closest("tr.row");
    if (!tr || pick.type !== "checkbox" || !tr.dataset.id) return;
    if (pick.checked) state.selected.add(tr.dataset.id);
    else state.selected.delete(tr.dataset.id);
    tr.classList.toggle("picked", pick.checked);
    updateSelection();
  });
  tbody.addEventListener("click", (event) => {
    const chip = event.target.closest(".tag.filter");
    if (chip) {
      const test = `tags.contains(${pyString(chip.dataset.tag)})`;
      applyWhere(state.where && !state.where.includes(test) ? `(${state.where}) and ${test}` : test);
      return;
    }
    const tr = event.target.closest("tr.row");
    if (!tr || !tr.dataset.id || event.target.closest("input, a, button")) return;
    location.hash = `#/run/${tr.dataset.id}`;
  });
  let scrollFrame = 0;
  box.addEventListener("scroll", () => {
    cancelAnimationFrame(scrollFrame);
    scrollFrame = requestAnimationFrame(() => paint(false));
    save(SCROLL_KEY, { hash: listHash(), top: box.scrollTop }, sessionStorage);
  });

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
      reload();
    }
  }

  function chooseColumns() {
    columnDialog(state.meta.columns, visibleColumns(), (chosen) => {
      state.columns = chosen;
      if (chosen) save(storageKey(), chosen);
      else localStorage.removeItem(storageKey());
      setHashParams({ cols: chosen ? chosen.join(",") : null });
      render();
    });
  }

  reload();
  const ticker = setInterval(() => {
    if (!alive || !state.meta || document.hidden) return;
    for (const [index, tr] of drawn) fillRow(tr, index, false);
  }, 15000);
  return () => {
    alive = false;
    clearTimeout(timer);
    clearInterval(ticker);
  };
}
