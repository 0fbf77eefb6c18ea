// The router: #/ (the run list), #/run/ID[/TAB], #/compare/ID,ID,…[/TAB], #/analyze,
// #/sweep/[ID]. What follows a "?" in the hash is the view's state (filter, sort,
// columns, chart settings): a link to it opens the same view.

import { clear } from "./util.js";
import { mountList } from "./list.js";
import { mountRun } from "./run.js";
import { mountCompare } from "./compare.js";
import { mountAnalysis } from "./analysis.js";
import { mountSweep } from "./sweep.js";

const main = document.getElementById("main");
let current = null;

function parse() {
  const path = location.hash.replace(/^#\/?/, "").split("?")[0];
  const parts = path.split("/").map(decodeURIComponent);
  if (parts[0] === "run" && parts[1]) return { kind: "run", id: parts[1], tab: parts[2] };
  if (parts[0] === "compare" && parts[1]) {
    return { kind: "compare", ids: parts[1].split(",").filter(Boolean), tab: parts[2] };
  }
  if (parts[0] === "analyze") return { kind: "analyze", key: location.hash };
  if (parts[0] === "sweep") return { kind: "sweep", id: parts[1] || "" };
  return { kind: "list", key: location.hash };
}

const TITLES = { compare: "compare", analyze: "analysis", sweep: "sweep", list: "runs" };

function route() {
  const where = parse();
  if (current && current.kind === where.kind && current.view.route) {
    const same = where.kind === "run"
      ? current.view.route(where.id, where.tab)
      : where.kind === "compare" && current.view.route(where.ids, where.tab);
    if (same) return;
  }
  if (current) current.view.destroy();
  clear(main);
  let view;
  if (where.kind === "run") view = mountRun(main, where.id, where.tab);
  else if (where.kind === "compare") view = mountCompare(main, where.ids, where.tab);
  else if (where.kind === "analyze") view = mountAnalysis(main);
  else if (where.kind === "sweep") view = mountSweep(main, where.id);
  else view = { destroy: mountList(main) };
  current = { kind: where.kind, view };
  document.title = where.kind === "run" ? `run ${where.id.slice(0, 10)} · gitxp board` : `${TITLES[where.kind]} · gitxp board`;
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", route);
route();
document.body.classList.add("ready");
