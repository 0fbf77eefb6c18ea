// Dialogs of the run list: choosing and ordering columns, confirming a deletion.

import { el, clear, post, toast, label } from "./util.js";

// The dialog to choose and order columns: shown ones with ↑ ↓ ✕, the others to add.
export function columnDialog(all, visible, onsave) {
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
