/* The five views behind the tabs (Search, Feed, For you, Topics, Map), as an ARIA tab list:
 * arrow keys, Home and End move between tabs. */

import { $$ } from "./dom.js";
import { openFeedView } from "./feed.js";
import { openMapView, prefetchMap } from "./map.js";
import { openForYouView } from "./recommend.js";
import { navigated } from "./router.js";
import { openTopicsView } from "./topics.js";

/** The tabs, in order (keys 1-5 follow it). */
export const VIEWS = ["search", "feed", "foryou", "topics", "map"];

/** The view on screen. */
export const currentView = () => document.body.dataset.view || "search";

/** Shows ``view``; ``load`` fetches what it needs (topics, map) on first showing. */
export function setView(view, { load = true, focus = false } = {}) {
  for (const tab of $$('[role="tab"]')) {
    const on = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
  }
  for (const panel of $$(".view")) panel.hidden = panel.id !== `view-${view}`;
  document.body.dataset.view = view;
  navigated();
  if (!load) return;
  if (view === "feed") openFeedView();
  if (view === "foryou") openForYouView();
  if (view === "topics") openTopicsView();
  if (view === "map") openMapView();
}

export function wireTabs() {
  const tabs = $$('[role="tab"]');
  const mapTab = document.getElementById("tab-map");
  for (const intent of ["pointerenter", "focus", "touchstart"]) mapTab.addEventListener(intent, prefetchMap, { passive: true });
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      if (!tab.disabled) setView(tab.dataset.view);
    });
    tab.addEventListener("keydown", (event) => {
      const i = tabs.indexOf(tab);
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
      else if (event.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") next = tabs[0];
      else if (event.key === "End") next = tabs[tabs.length - 1];
      if (next && !next.disabled) {
        event.preventDefault();
        setView(next.dataset.view, { focus: true });
      }
    });
  }
}

/** The tab's part of the address (Search is the default: no parameter). */
export const viewUrlPart = {
  read: () => ({ tab: currentView() !== "search" ? currentView() : null }),
  apply(params) {
    const wanted = VIEWS.includes(params.get("tab")) ? params.get("tab") : "search";
    const tab = document.getElementById(`tab-${wanted}`);
    const view = tab && tab.disabled ? "search" : wanted; // an index without topics has no map
    if (view !== currentView() || !document.body.dataset.view) setView(view);
  },
};
