/* What outlives a single view: the server's health answer, the reader's marks (likes
 * and unlikes, kept by the server in a library, the same one `paperscope library`
 * reads and writes). Only the name of the library the reader works in stays in this browser. */

import { api, storage } from "./api.js";
import { showBanner } from "./dom.js";

const STORE_LIBRARY = "paperscope.library";
const OLD_MARKS = "paperscope.feedback.v1"; // where marks lived before libraries: moved to the server once
export const DEFAULT_LIBRARY = "likes";

/** ``health``: /api/health's answer once it arrived (null before, or if it failed). */
export const app = { health: null };

// ------------------------------------------------------------------- marks

let marks = { like: [], unlike: [] };
const listeners = [];

/** The library the page marks papers in (the reader can switch; "likes" by default). */
export function currentLibrary() {
  const store = storage("local");
  const name = store && store.getItem(STORE_LIBRARY);
  return name && name.length <= 64 ? name : DEFAULT_LIBRARY; // the server checks the rest
}

export async function useLibrary(name) {
  const store = storage("local");
  if (store) store.setItem(STORE_LIBRARY, name);
  await loadMarks();
}

const libraryPath = (name = currentLibrary()) => `/api/libraries/${encodeURIComponent(name)}`;

/** The library's entries as marks, oldest first (the API lists newest first). */
function adopt(listing) {
  const entries = (listing && listing.entries) || [];
  const of = (kind) => entries.filter((e) => e.verdict === kind).reverse().map((e) => ({ id: e.paper_id, title: e.title || e.paper_id }));
  marks = { like: of("like"), unlike: of("unlike") };
  for (const listener of listeners) listener();
}

/** Whether the current library exists yet (asking for one that does not is a 404,
 * which the browser would log as an error: a new reader's library is simply empty). */
export async function libraryExists() {
  const { libraries } = await api("/api/libraries");
  return libraries.some((l) => l.name === currentLibrary());
}

/** Reads the library from the server (an unknown library is an empty one). */
export async function loadMarks() {
  try {
    await moveOldMarks();
    adopt((await libraryExists()) ? await api(libraryPath()) : null);
  } catch (err) {
    if (err.status === 404) adopt(null);
    else showBanner(`Could not load the library: ${err.message}`);
  }
}

/** Marks an older page kept in this browser go to the server's library, once. */
async function moveOldMarks() {
  const store = storage("local");
  const raw = store && store.getItem(OLD_MARKS);
  if (!raw) return;
  try {
    const old = JSON.parse(raw) || {};
    for (const kind of ["like", "unlike"]) {
      for (const e of Array.isArray(old[kind]) ? old[kind] : []) {
        if (e && typeof e.id === "string") await api(`${libraryPath()}/papers/${encodeURIComponent(e.id)}`, { method: "PUT", body: { verdict: kind } }).catch(() => null);
      }
    }
  } catch {
    /* unreadable: nothing to move */
  }
  store.removeItem(OLD_MARKS);
}

/** ``{like: [{id, title}], unlike: [...]}``, oldest first; titles let the chips show without a request. */
export const currentMarks = () => marks;

/** Calls ``listener`` after every change (here, or seen when the page comes back into view). */
export function onMarksChange(listener) {
  listeners.push(listener);
}

export const marked = (id, kind) => marks[kind].some((e) => e.id === id);

let sent = 0; // changes sent; only the newest one's answer is adopted

/** Sends a change to the server; the page shows it at once and then the server's answer.
 * An answer to an older change (overtaken by a quicker click) would undo the newer
 * change on screen until its own answer came, so it is dropped: the server applies
 * changes in order, and the newest answer holds them all. */
async function send(path, init) {
  const mine = ++sent;
  try {
    const answer = await api(path, init);
    if (mine === sent) adopt(answer);
  } catch (err) {
    showBanner(`Could not change the library: ${err.message}`);
    await loadMarks();
  }
}

/** Toggles ``kind`` (like / unlike) on a paper; a paper is never both. */
export function mark(paper, kind) {
  const other = kind === "like" ? "unlike" : "like";
  const on = marked(paper.id, kind);
  marks[other] = marks[other].filter((e) => e.id !== paper.id);
  marks[kind] = marks[kind].filter((e) => e.id !== paper.id);
  if (!on) marks[kind].push({ id: paper.id, title: paper.title || paper.id });
  for (const listener of listeners) listener();
  const path = `${libraryPath()}/papers/${encodeURIComponent(paper.id)}`;
  return send(path, on ? { method: "DELETE" } : { method: "PUT", body: { verdict: kind } });
}

export function unmark(id) {
  marks.like = marks.like.filter((e) => e.id !== id);
  marks.unlike = marks.unlike.filter((e) => e.id !== id);
  for (const listener of listeners) listener();
  return send(`${libraryPath()}/papers/${encodeURIComponent(id)}`, { method: "DELETE" });
}

export async function clearMarks() {
  try {
    if (await libraryExists()) await api(libraryPath(), { method: "DELETE" });
  } catch (err) {
    if (err.status !== 404) showBanner(`Could not clear the library: ${err.message}`);
  }
  await loadMarks();
}

// the CLI or another tab may have changed the library while this one was hidden
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") loadMarks();
});
