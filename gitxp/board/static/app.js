// The router: #/ (the run list), #/run/ID[/TAB], #/compare/ID,ID,…[/TAB], #/analyze,
// #/sweep/[ID]. What follows a "?" in the hash is the view's state (filter, sort,
// columns, chart settings): a link to it opens the same view.

import { clear } from "./util.js";
import { mountList } from "./list.js";

// The views with charts load the charting library (1 MB): only when first opened, so the
// run list is on screen without it.
const VIEWS = {
  run: () => import("./run.js").then((m) => (w) => m.mountRun(main, w.id, w.tab)),
  compare: () => import("./compare.js").then((m) => (w) => m.mountCompare(main, w.ids, w.tab)),
  analyze: () => import("./analysis.js").then((m) => () => m.mountAnalysis(main)),
  sweep: () => import("./sweep.js").then((m) => (w) => m.mountSweep(main, w.id)),
};
let routing = 0;

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

async function route() {
  const where = parse();
  const mine = ++routing;
  if (current && current.kind === where.kind && current.view.route) {
    const same = where.kind === "run"
      ? current.view.route(where.id, where.tab)
      : where.kind === "compare" && current.view.route(where.ids, where.tab);
    if (same) return;
  }
  const mount = where.kind === "list" ? null : await VIEWS[where.kind]();
  if (mine !== routing) return; // another route began meanwhile
  if (current) current.view.destroy();
  clear(main);
  const view = mount ? mount(where) : { destroy: mountList(main) };
  current = { kind: where.kind, view };
  document.title = where.kind === "run" ? `run ${where.id.slice(0, 10)} · gitxp board` : `${TITLES[where.kind]} · gitxp board`;
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", route);
route();
document.body.classList.add("ready");
