// Unified diffs (git's patch text) as readable blocks: one per file, line numbers on
// both sides, additions and deletions coloured. Lines go into the page as text.

import { el } from "./util.js";

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

// Split git's patch text into files: {name, lines}.
export function splitPatch(patch) {
  const files = [];
  if (!patch || !patch.trim()) return files;
  let current = null;
  for (const line of (patch || "").split("\n")) {
    if (line.startsWith("diff --git ") || (line.startsWith("--- ") && !current)) {
      current = { name: nameOf(line), header: [line], lines: [] };
      files.push(current);
      continue;
    }
    if (!current) {
      current = { name: "", header: [], lines: [] };
      files.push(current);
    }
    if (current.lines.length === 0 && !line.startsWith("@@") && !HUNK.test(line)) {
      if (line.startsWith("+++ ")) current.name = line.slice(4).replace(/^b\//, "");
      else if (line.startsWith("--- ") && current.name === "") current.name = line.slice(4).replace(/^a\//, "");
      current.header.push(line);
      continue;
    }
    current.lines.push(line);
  }
  for (const file of files) {
    if (file.name === "/dev/null") file.name = nameOf(file.header[0] || "");
    while (file.lines.length && file.lines[file.lines.length - 1] === "") file.lines.pop();
  }
  return files.filter((f) => f.header.length || f.lines.length);
}

function nameOf(line) {
  const git = /^diff --git a\/(.*) b\/(.*)$/.exec(line);
  if (git) return git[2];
  return line.replace(/^--- (a\/)?/, "");
}

// One file's patch lines as a table-like block with old/new line numbers.
function fileBlock(file) {
  const rows = [];
  let oldNo = 0;
  let newNo = 0;
  const notes = file.header.filter((h) => /^(new|deleted) file mode|^rename |^Binary files|^similarity/.test(h));
  for (const line of file.lines) {
    const hunk = HUNK.exec(line);
    let kind = "ctx";
    let left = "";
    let right = "";
    if (hunk) {
      oldNo = Number(hunk[1]);
      newNo = Number(hunk[2]);
      kind = "hunk";
    } else if (line.startsWith("+")) {
      kind = "add";
      right = newNo++;
    } else if (line.startsWith("-")) {
      kind = "del";
      left = oldNo++;
    } else if (line.startsWith("\\")) {
      kind = "meta";
    } else {
      left = oldNo++;
      right = newNo++;
    }
    rows.push(
      el("div", { class: `dl ${kind}` },
        el("span", { class: "ln", text: left }),
        el("span", { class: "ln", text: right }),
        el("span", { class: "code", text: line || " " })),
    );
  }
  return el(
    "section",
    { class: "diff-file" },
    el("header", { class: "diff-name" }, el("span", { class: "mono", text: file.name }),
      notes.map((n) => el("span", { class: "diff-note", text: n }))),
    rows.length ? el("div", { class: "diff-lines" }, rows) : el("div", { class: "muted pad", text: "no text changes (binary or mode only)" }),
  );
}

// A whole diff: a file summary (click to jump) and the blocks.
export function renderDiff(patch, files, options) {
  const opts = options || {};
  const blocks = splitPatch(patch);
  if (!blocks.length && !(files && files.length)) {
    return el("div", { class: "empty", text: opts.empty || "no differences" });
  }
  const sections = blocks.map(fileBlock);
  const byName = new Map(blocks.map((b, i) => [b.name, sections[i]]));
  const summary = files && files.length
    ? el("table", { class: "diff-summary" },
      el("tbody", {}, files.map((f) => el("tr", {},
        el("td", { class: `fs fs-${String(f.status).toLowerCase()}`, text: f.status }),
        el("td", {},
          el("a", {
            href: "#",
            class: "mono",
            text: f.path === f.old_path ? f.path : `${f.old_path} → ${f.path}`,
            onclick: (e) => {
              e.preventDefault();
              const target = byName.get(f.path);
              if (target) target.scrollIntoView({ behavior: "smooth", block: "start" });
            },
          })),
        el("td", { class: "num add-n", text: f.binary ? "binary" : `+${f.additions}` }),
        el("td", { class: "num del-n", text: f.binary ? "" : `−${f.deletions}` })))))
    : null;
  return el("div", { class: "diff" }, summary, sections,
    opts.truncated ? el("div", { class: "warn", text: "the diff is too long: the rest is cut off" }) : null);
}
