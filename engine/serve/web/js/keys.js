/* Keyboard paths beside the tabs' arrow keys and "/" for the search box: j and k move
 * to the next and previous paper of the list in view (results, the feed, recommendations,
 * a topic's papers), o opens it (as Enter on its focused title does), l likes it, u marks
 * it "less like this", 1-5 switch tabs, and ? shows them all. Letters never act while
 * the reader types. */

import { $$ } from "./dom.js";
import { VIEWS, setView } from "./views.js";

const listedHits = () => $$(".view:not([hidden]) .hit");
const focusedHit = () => (document.activeElement && document.activeElement.closest ? document.activeElement.closest(".hit") : null);

function move(step) {
  const hits = listedHits();
  if (!hits.length) return;
  const at = hits.indexOf(focusedHit());
  const next = hits[at < 0 ? 0 : Math.max(0, Math.min(hits.length - 1, at + step))];
  next.querySelector(".hit-title").focus();
  next.scrollIntoView({ block: "nearest" });
}

function press(selector) {
  const hit = focusedHit();
  const target = hit && hit.querySelector(selector);
  if (target) target.click();
}

const ACTIONS = {
  j: () => move(1),
  k: () => move(-1),
  o: () => press(".hit-title"),
  l: () => press(".fb-like"),
  u: () => press(".fb-unlike"),
  "?": () => showHelp(),
};

function showHelp() {
  const dialog = document.getElementById("keys-help");
  if (!dialog.open) dialog.showModal();
}

export function wireKeys() {
  document.getElementById("keys-button").addEventListener("click", showHelp);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
    const tab = /^[1-5]$/.test(event.key) ? VIEWS[Number(event.key) - 1] : null;
    if (ACTIONS[event.key]) {
      event.preventDefault();
      ACTIONS[event.key]();
    } else if (tab && !document.getElementById(`tab-${tab}`).disabled) {
      event.preventDefault();
      setView(tab, { focus: true });
    }
  });
}
