// Small helpers shared by the views. Every value that comes from a run goes into the
// page as text (textContent, attributes set one by one): never as HTML.

const CSRF = document.querySelector('meta[name="gitxp-csrf"]').content;

// el("div", {class: "x", onclick: f, title: "…"}, child, "text", [more]) → element
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "style") Object.assign(node.style, value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function answer(response) {
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error) || `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status);
  }
  return data;
}

export async function api(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const text = query.toString();
  const response = await fetch(text ? `${path}?${text}` : path, {
    credentials: "same-origin",
    cache: "no-store",
  });
  return answer(response);
}

export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Gitxp-CSRF": CSRF },
    body: JSON.stringify(body),
  });
  return answer(response);
}

export function runUrl(id, what, params) {
  const query = new URLSearchParams(params || {}).toString();
  return `/api/runs/${encodeURIComponent(id)}/${what}${query ? "?" + query : ""}`;
}

const LABELS = {
  id: "ID", experiment: "experiment", name: "name", status: "status", start: "started",
  stop: "stopped", duration: "duration", heartbeat: "last beat", result: "result",
  exit_code: "exit", host: "host", base_commit: "base", branch: "branch", dirty: "dirty",
  seed: "seed", tags: "tags", note: "note", comment: "comment",
};

// The header of a run-list column.
export function label(column) {
  if (LABELS[column]) return LABELS[column];
  if (column.startsWith("config.")) return column.slice(7);
  const metric = /^metrics\.(.*)\.(last|min|max)$/.exec(column);
  if (metric) return `${metric[1]} (${metric[2]})`;
  return column;
}

// -- formatting ------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, "0");

export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === "") return "";
  const d = typeof ms === "string" ? new Date(ms) : new Date(ms);
  if (Number.isNaN(d.getTime())) return String(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const total = Math.floor(seconds);
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes}m${pad(total % 60)}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h${pad(minutes % 60)}m`;
  return `${Math.floor(hours / 24)}d${pad(hours % 24)}h`;
}

export function fmtAge(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "";
  return `${fmtDuration(Math.max(0, seconds))} ago`;
}

export function fmtNumber(value) {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e7)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function fmtValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return fmtNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return JSON.stringify(value);
}

export function fmtBytes(size) {
  if (size === null || size === undefined) return "";
  if (size < 1024) return `${size} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}

export function statusBadge(status) {
  const text = status === "PROBABLY_DEAD" ? "probably dead" : String(status || "?").toLowerCase();
  return el("span", { class: `badge st-${String(status || "unknown").toLowerCase()}`, text });
}

export function toast(message, kind) {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.className = `show ${kind || ""}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.className = ""), kind === "error" ? 6000 : 2500);
}

export function load(key, fallback, storage = localStorage) {
  try {
    const text = storage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch (err) {
    return fallback;
  }
}

export function save(key, value, storage = localStorage) {
  try {
    storage.setItem(key, JSON.stringify(value));
  } catch (err) {
    /* private mode: settings last for this visit only */
  }
}

// A row of tabs; onpick(name) is called on a click. Returns {node, select(name)}.
export function tabs(names, current, onpick) {
  const buttons = {};
  const node = el(
    "div",
    { class: "tabs", role: "tablist" },
    names.map(([name, label]) => {
      const button = el("button", {
        class: "tab",
        role: "tab",
        text: label,
        dataset: { tab: name },
        onclick: () => onpick(name),
      });
      buttons[name] = button;
      return button;
    }),
  );
  const select = (name) => {
    for (const [key, button] of Object.entries(buttons)) {
      button.classList.toggle("active", key === name);
      button.setAttribute("aria-selected", key === name ? "true" : "false");
    }
  };
  select(current);
  return { node, select };
}

// A key/value grid: rows of [label, value-node-or-text]; empty values are left out.
export function facts(rows) {
  return el(
    "dl",
    { class: "facts" },
    rows
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([label, value]) => [el("dt", { text: label }), el("dd", {}, value)]),
  );
}

export function errorBox(err) {
  return el("div", { class: "error-box", text: err && err.message ? err.message : String(err) });
}

// -- state in the URL ----------------------------------------------------------------------
// A view's settings live in the query part of its hash (#/compare/A,B/metrics?x=time), so
// a link shows the same view; views rewrite it with replaceState (no history entry).

export function hashParams() {
  const at = location.hash.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : location.hash.slice(at + 1));
}

export function setHashParams(values) {
  const params = hashParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === "" || value === false) params.delete(key);
    else params.set(key, value === true ? "1" : String(value));
  }
  const base = location.hash.split("?")[0] || "#/";
  const text = params.toString();
  const next = text ? `${base}?${text}` : base;
  if (next !== location.hash) history.replaceState(history.state, "", next);
}

// -- ANSI colours in output ------------------------------------------------------------------
// SGR codes (ESC [ … m) become spans with classes; every other escape is dropped. The text
// itself still goes in as text nodes only.

const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>]/g;

export function ansiNodes(text) {
  const out = document.createDocumentFragment();
  let style = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };
  let last = 0;
  const push = (chunk) => {
    if (!chunk) return;
    const plain = !style.fg && !style.bg && !style.bold && !style.dim && !style.italic && !style.underline;
    if (plain) {
      out.appendChild(document.createTextNode(chunk));
      return;
    }
    const span = document.createElement("span");
    const classes = [];
    if (style.fg) classes.push(`ansi-fg-${style.fg}`);
    if (style.bg) classes.push(`ansi-bg-${style.bg}`);
    if (style.bold) classes.push("ansi-bold");
    if (style.dim) classes.push("ansi-dim");
    if (style.italic) classes.push("ansi-italic");
    if (style.underline) classes.push("ansi-underline");
    span.className = classes.join(" ");
    span.textContent = chunk;
    out.appendChild(span);
  };
  for (const match of text.matchAll(ESCAPE)) {
    push(text.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] === "m") style = sgr(style, match[1]);
  }
  push(text.slice(last));
  return out;
}

function sgr(old, params) {
  const style = { ...old };
  const codes = params === "" ? [0] : params.split(";").map((c) => Number(c) || 0);
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(style, { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false });
    else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 22) style.bold = style.dim = false;
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c >= 30 && c <= 37) style.fg = String(c - 30);
    else if (c >= 90 && c <= 97) style.fg = String(c - 90 + 8);
    else if (c === 39) style.fg = null;
    else if (c >= 40 && c <= 47) style.bg = String(c - 40);
    else if (c >= 100 && c <= 107) style.bg = String(c - 100 + 8);
    else if (c === 49) style.bg = null;
    else if ((c === 38 || c === 48) && codes[i + 1] === 5) {
      const n = codes[i + 2];
      if (n < 16) style[c === 38 ? "fg" : "bg"] = String(n);
      i += 2;
    } else if ((c === 38 || c === 48) && codes[i + 1] === 2) {
      i += 4; // 24-bit colours: shown in the default colour
    }
  }
  return style;
}
