/* The Feed: papers new since the last visit (or a chosen window), ranked for the current
 * library by the recommender measured best on its likes, each with why and the passage
 * of its abstract that matched; "mark read" takes a paper out of the feed for good. */

import { api } from "./api.js";
import { $, clear, emptyState, errorBox, h, loadingLines } from "./dom.js";
import { exportButtons } from "./exports.js";
import { plural } from "./format.js";
import { hitItem, newestFirst, sortSwitch } from "./hits.js";
import { refreshLibraries } from "./library.js";
import { navigated } from "./router.js";
import { currentLibrary, currentMarks, libraryExists, onMarksChange } from "./state.js";
import { rich } from "./tex.js";
import { currentView } from "./views.js";

const FEED_SIZE = 50;
const SCORE_KINDS = { fused: "fused", svm: "svm margin", rocchio: "cosine" };
const feedState = { seq: 0, library: null, answer: null, sort: "relevance" };

const libraryPath = () => `/api/libraries/${encodeURIComponent(currentLibrary())}`;

/** Loads the feed of the current library; opening the view counts as a visit. */
export async function openFeedView() {
  const seq = ++feedState.seq;
  const box = $("#feed");
  const since = $("#feed-since").value;
  feedState.library = currentLibrary();
  box.dataset.state = "loading";
  box.setAttribute("aria-busy", "true");
  clear(box, loadingLines(4));
  renderTools();
  try {
    // a library with marks exists: only an empty one needs asking (saves a round trip)
    const marks = currentMarks();
    if (!marks.like.length && !marks.unlike.length && !(await libraryExists())) {
      const missing = new Error("no such library");
      missing.status = 404;
      throw missing;
    }
    const query = new URLSearchParams({ library: currentLibrary(), since, k: String(FEED_SIZE), visit: "true" });
    const answer = await api(`/api/feed?${query}`);
    if (seq !== feedState.seq) return;
    renderFeed(answer);
    box.dataset.state = "ready";
  } catch (err) {
    if (seq !== feedState.seq) return;
    $("#feed-summary").textContent = "";
    if (err.status === 404) {
      clear(box, emptyState(`No library “${currentLibrary()}” yet`, "Like a paper (♥) anywhere on the page: this library starts with it, and its feed ranks new papers by what you like."));
      box.dataset.state = "empty";
    } else {
      clear(box, errorBox(err, "Could not load the feed", "feed-error"));
      box.dataset.state = "error";
    }
  } finally {
    if (seq === feedState.seq) box.removeAttribute("aria-busy");
  }
}

function renderTools() {
  const name = currentLibrary();
  clear(
    $("#feed-exports"),
    exportButtons({ library: name }, { testid: "library-export", label: `Export “${name}”` }),
    h("a", { class: "btn-link", href: `/feeds/library/${encodeURIComponent(name)}.atom`, testid: "feed-atom", title: "Follow this library's new papers in a feed reader" }, "Atom feed"),
  );
}

function renderFeed(answer) {
  const box = $("#feed");
  feedState.answer = answer;
  box.dataset.method = answer.method;
  box.dataset.since = answer.since;
  const gone = answer.follows.gone.length ? ` · followed topics gone since a refit: ${answer.follows.gone.join(", ")}` : "";
  $("#feed-summary").textContent =
    `${plural(answer.unread, "unread paper")} of ${answer.new.toLocaleString("en")} new since ${answer.since} (newest ${answer.newest}) · ` +
    `ranked by ${answer.method_reason}${gone}`;
  if (!answer.items.length) {
    clear(box, emptyState("Nothing new", answer.new ? "Every new paper in this window is read or already in the library." : "No papers in this window. Try a longer one."));
    return;
  }
  // with no likes the feed is newest first already: nothing to re-sort
  const ranked = answer.method !== "newest";
  const items = ranked && feedState.sort === "date" ? newestFirst(answer.items) : answer.items;
  const list = h(
    "ol",
    { class: "hit-list", testid: "feed-list" },
    items.map((item) => {
      const extra = [
        h("p", { class: "why", testid: "feed-why" }, rich(item.why)),
        h("button", { type: "button", class: "btn-link", testid: "mark-read", onclick: (event) => markRead([item.id], event.target.closest("li")) }, "Mark read"),
      ];
      return hitItem(item, { extra, testid: "feed-item", score: SCORE_KINDS[answer.method] || "cosine", to: "liked" });
    }),
  );
  const sorting = ranked
    ? sortSwitch(feedState.sort, (sort) => {
        feedState.sort = sort;
        renderFeed(feedState.answer);
      }, "feed-sort")
    : null;
  clear(box, sorting, list);
}

async function markRead(ids, row) {
  try {
    await api(`${libraryPath()}/read`, { method: "POST", body: { ids } });
    if (row) {
      row.remove();
      if (!$("#feed [data-testid=feed-item]")) openFeedView();
    } else openFeedView();
  } catch (err) {
    clear($("#feed"), errorBox(err, "Could not mark as read", "feed-error"));
  }
}

/** The feed's window, while the Feed is on screen ("last", the default, says nothing). */
export const feedUrlPart = {
  read: () => ({ window: currentView() === "feed" && $("#feed-since").value !== "last" ? $("#feed-since").value : null }),
  apply(params) {
    const wanted = params.get("window") || "last";
    const select = $("#feed-since");
    const known = Array.from(select.options).some((o) => o.value === wanted);
    const value = known ? wanted : "last";
    if (select.value !== value) {
      select.value = value;
      if (currentView() === "feed" && params.get("tab") === "feed") openFeedView();
    }
  },
};

export function wireFeed() {
  $("#feed-since").addEventListener("change", () => {
    navigated();
    openFeedView();
  });
  $("#feed-mark-all").addEventListener("click", () => {
    const ids = Array.from(document.querySelectorAll("#feed [data-testid=feed-item]"), (el) => el.dataset.id);
    if (ids.length) markRead(ids, null);
  });
  // another library chosen: its feed, if the Feed is what the reader is looking at
  onMarksChange(() => {
    if (feedState.library !== currentLibrary() && !$("#view-feed").hidden) {
      refreshLibraries();
      openFeedView();
    }
  });
}
