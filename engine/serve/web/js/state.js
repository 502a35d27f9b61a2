/* What outlives a single view: the server's health answer, the reader's marks
 * (likes and unlikes, kept in localStorage so they survive reloads and stay on this
 * machine), and the search kept in the URL so a results page can be shared or reloaded. */

import { storage } from "./api.js";

const STORE_MARKS = "paperscope.feedback.v1";

/** ``health``: /api/health's answer once it arrived (null before, or if it failed). */
export const app = { health: null };

// ------------------------------------------------------------------- marks

let marks = loadMarks();
const listeners = [];

function loadMarks() {
  const empty = { like: [], unlike: [] };
  try {
    const store = storage("local");
    const raw = JSON.parse((store && store.getItem(STORE_MARKS)) || "null");
    if (!raw || typeof raw !== "object") return empty;
    // the stored value may come from an older page or a hand edit: keep what is usable
    const clean = (list) =>
      Array.isArray(list)
        ? list.filter((e) => e && typeof e.id === "string" && e.id).map((e) => ({ id: e.id, title: typeof e.title === "string" ? e.title : e.id }))
        : [];
    return { like: clean(raw.like), unlike: clean(raw.unlike) };
  } catch {
    return empty;
  }
}

function saveAndTell() {
  const store = storage("local");
  if (store) {
    try {
      store.setItem(STORE_MARKS, JSON.stringify(marks));
    } catch {
      /* storage full or disabled: the marks last for this page only */
    }
  }
  for (const listener of listeners) listener();
}

/** ``{like: [{id, title}], unlike: [...]}``, oldest first; titles let the chips show without a request. */
export const currentMarks = () => marks;

/** Calls ``listener`` after every change, here or (through the storage event) in another tab. */
export function onMarksChange(listener) {
  listeners.push(listener);
}

export const marked = (id, kind) => marks[kind].some((e) => e.id === id);

/** Toggles ``kind`` (like / unlike) on a paper; a paper is never both. */
export function mark(paper, kind) {
  const other = kind === "like" ? "unlike" : "like";
  const on = marked(paper.id, kind);
  marks[other] = marks[other].filter((e) => e.id !== paper.id);
  marks[kind] = marks[kind].filter((e) => e.id !== paper.id);
  if (!on) marks[kind].push({ id: paper.id, title: paper.title || paper.id });
  saveAndTell();
}

export function unmark(id) {
  marks.like = marks.like.filter((e) => e.id !== id);
  marks.unlike = marks.unlike.filter((e) => e.id !== id);
  saveAndTell();
}

export function clearMarks() {
  marks = { like: [], unlike: [] };
  saveAndTell();
}

window.addEventListener("storage", (event) => {
  if (event.key === STORE_MARKS) {
    marks = loadMarks();
    for (const listener of listeners) listener();
  }
});

// --------------------------------------------------------------- URL state

/** The query and mode the page was opened with (?q=…&mode=…). */
export function searchInUrl() {
  const params = new URL(window.location.href).searchParams;
  return { q: params.get("q"), mode: params.get("mode") };
}

/** Writes the search into the URL without a history entry per keystroke-and-Enter. */
export function putSearchInUrl(q, mode) {
  const url = new URL(window.location.href);
  url.searchParams.set("q", q);
  if (mode !== "hybrid") url.searchParams.set("mode", mode);
  else url.searchParams.delete("mode");
  history.replaceState(null, "", url.pathname + url.search + url.hash);
}
