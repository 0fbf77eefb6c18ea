// The router: #/ (the run list), #/run/ID[/TAB], #/compare/ID,ID,…[/TAB].

import { clear } from "./util.js";
import { mountList } from "./list.js";
import { mountRun } from "./run.js";
import { mountCompare } from "./compare.js";

const main = document.getElementById("main");
let current = null;

function parse() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "run" && parts[1]) return { kind: "run", id: parts[1], tab: parts[2] };
  if (parts[0] === "compare" && parts[1]) {
    return { kind: "compare", ids: parts[1].split(",").filter(Boolean), tab: parts[2] };
  }
  return { kind: "list" };
}

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
  else {
    const stop = mountList(main);
    view = { destroy: stop };
  }
  current = { kind: where.kind, view };
  document.title = where.kind === "run" ? `run ${where.id.slice(0, 10)} · gitxp board`
    : where.kind === "compare" ? "compare · gitxp board" : "runs · gitxp board";
  window.scrollTo(0, 0);
}

window.addEventListener("hashchange", route);
route();
document.body.classList.add("ready");
