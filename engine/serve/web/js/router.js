/* Every view is a URL. Each feature module registers what of its state belongs in the
 * address (the search with its mode, filters and sort; the open paper; the topic shown;
 * the feed's window; the map's level and view) and how to go back to it. A move the
 * reader makes pushes one history entry, however many modules report it in the same
 * task, so Back and Forward step through searches, papers and views; panning the map
 * only replaces the entry (Back should not replay every drag). A copied link reopens
 * the same view.
 *
 * This module imports no feature module: they import it, so it has no cycles. */

const parts = []; // { read() -> {param: value | [values]}, apply(params) }
const state = { restoring: 0, push: false, scheduled: false, replaceTimer: 0 };

/** A part of the view: ``read()`` gives its params (empty values are left out);
 * ``apply(params)`` brings it to what ``params`` (URLSearchParams) say. Parts apply in
 * the order they register. */
export function registerView(part) {
  parts.push(part);
}

/** The address of the view on screen. */
export function viewUrl() {
  const params = new URLSearchParams();
  for (const part of parts) {
    for (const [key, value] of Object.entries(part.read() || {})) {
      if (value === null || value === undefined || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
      else params.set(key, String(value));
    }
  }
  const query = params.toString();
  return `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`;
}

const here = () => window.location.pathname + window.location.search + window.location.hash;

function write() {
  state.scheduled = false;
  const push = state.push;
  state.push = false;
  const url = viewUrl();
  if (url === here()) return;
  if (push) window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
}

/** The reader went somewhere (a search, a paper, a tab): one history entry. */
export function navigated() {
  if (state.restoring) return;
  state.push = true;
  if (!state.scheduled) {
    state.scheduled = true;
    setTimeout(write, 0);
  }
}

/** The view was adjusted in place (the map panned): the entry is updated, not added. */
export function adjusted() {
  if (state.restoring) return;
  clearTimeout(state.replaceTimer);
  state.replaceTimer = setTimeout(() => {
    if (!state.scheduled) write();
  }, 250);
}

/** Brings every part to what the address says (on load, Back and Forward); what the
 * parts do meanwhile pushes nothing. */
export async function restoreView() {
  state.restoring++;
  try {
    const params = new URL(window.location.href).searchParams;
    for (const part of parts) await part.apply(params);
  } finally {
    state.restoring--;
  }
}

export function wireHistory() {
  window.addEventListener("popstate", () => {
    restoreView();
  });
}
