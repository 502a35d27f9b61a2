/* Which library the page works in: a picker listing the server's libraries (the same
 * ones `paperscope library list` shows), with a way to start a new one. */

import { api } from "./api.js";
import { $$, clear, h } from "./dom.js";
import { currentLibrary, DEFAULT_LIBRARY, useLibrary } from "./state.js";

const NEW = "\u0000new";
const pickers = [];

/** A <select> of libraries; every picker on the page follows the current one. */
export function libraryPicker(testid) {
  const select = h("select", { testid, title: "Library" });
  select.addEventListener("change", async () => {
    let name = select.value;
    if (name === NEW) {
      name = (window.prompt("Name of the new library (letters, digits, spaces, . + - _)") || "").trim();
      if (!name) {
        select.value = currentLibrary();
        return;
      }
    }
    await useLibrary(name);
    await refreshLibraries();
  });
  pickers.push(select);
  return h("label", { class: "select-label library-picker" }, h("span", { class: "visually-hidden" }, "Library"), select);
}

export async function refreshLibraries() {
  let names = [];
  try {
    names = (await api("/api/libraries")).libraries.map((l) => l.name);
  } catch {
    /* shown where the marks load */
  }
  const current = currentLibrary();
  const all = Array.from(new Set([DEFAULT_LIBRARY, current, ...names])).sort();
  for (const select of pickers) {
    clear(select, all.map((name) => h("option", { value: name }, name)), h("option", { value: NEW }, "New library…"));
    select.value = current;
  }
  for (const el of $$("[data-library-name]")) el.textContent = current;
}
