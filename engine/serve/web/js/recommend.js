/* "For you": the reader's marks as chips, and papers recommended from them. The list
 * follows every change of the marks (a like in the results, a chip removed, another tab). */

import { api } from "./api.js";
import { $, clear, emptyState, errorBox, h, icon, loadingLines } from "./dom.js";
import { plural } from "./format.js";
import { hitItem, newestFirst, refreshFeedbackButtons, sortSwitch } from "./hits.js";
import { because } from "./reasons.js";
import { clearMarks, currentMarks, onMarksChange, unmark } from "./state.js";
import { plain, rich } from "./tex.js";

const MAX_EXAMPLES = 100; // the API's limit on liked / unliked papers per request
const SETTLE_MS = 150; // several quick clicks make one request

const recs = { seq: 0, timer: 0, answer: null, sort: "relevance" };

/** Brings the page up to date with the marks: buttons, tab badge, chips, recommendations. */
export function marksChanged() {
  refreshFeedbackButtons();
  const { like, unlike } = currentMarks();
  const badge = $('[data-testid="feedback-count"]');
  badge.textContent = String(like.length);
  badge.hidden = like.length === 0;
  badge.title = `${plural(like.length, "liked paper")}`;
  $("#feedback-clear").hidden = like.length + unlike.length === 0;
  renderExamples();
  clearTimeout(recs.timer);
  recs.timer = setTimeout(loadRecommendations, SETTLE_MS);
}

/** The For you view opened: a reload waiting for more clicks to settle goes now. */
export function openForYouView() {
  if (!recs.timer) return;
  clearTimeout(recs.timer);
  loadRecommendations();
}

function renderExamples() {
  const box = $("#examples");
  const { like, unlike } = currentMarks();
  if (!like.length && !unlike.length) {
    clear(box);
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const chips = (list, kind) =>
    h(
      "ul",
      { class: `example-list ${kind}`, testid: `examples-${kind}` },
      list.map((e) =>
        h(
          "li",
          { class: `example ${kind}`, dataset: { id: e.id } },
          h("button", { type: "button", class: "example-title", title: plain(e.title), onclick: () => openPaper(e.id) }, rich(e.title)),
          h("button", { type: "button", class: "example-remove", "aria-label": `Remove ${plain(e.title)}`, title: "Remove", onclick: () => unmark(e.id) }, icon("close")),
        ),
      ),
    );
  clear(
    box,
    like.length ? h("div", { class: "example-group" }, h("h2", { class: "label-like" }, icon("heart"), `Liked · ${like.length}`), chips(like, "like")) : null,
    unlike.length ? h("div", { class: "example-group" }, h("h2", { class: "label-unlike" }, icon("ban"), `Less like this · ${unlike.length}`), chips(unlike, "unlike")) : null,
  );
}

async function loadRecommendations() {
  recs.timer = 0;
  const seq = ++recs.seq;
  const box = $("#recommendations");
  // the newest marks win when there are more than one request may carry
  const like = currentMarks().like.slice(-MAX_EXAMPLES).map((e) => e.id);
  const unlike = currentMarks().unlike.slice(-MAX_EXAMPLES).map((e) => e.id);
  box.dataset.likes = String(like.length);
  box.dataset.unlikes = String(unlike.length);
  if (!like.length) {
    box.dataset.state = "empty";
    clear(
      box,
      emptyState(
        unlike.length ? "Like at least one paper" : "No recommendations yet",
        unlike.length
          ? "Papers marked “less like this” steer recommendations away, but they need a paper you like to start from."
          : "Open a paper and press “More like this”, or use the heart on any result. Recommendations appear here and follow every change.",
      ),
    );
    return;
  }
  box.dataset.state = "loading";
  box.setAttribute("aria-busy", "true");
  // keep the old list (dimmed by the CSS) while the new one comes, rather than flashing
  if (!box.querySelector(".hit-list")) clear(box, loadingLines(4));
  try {
    const answer = await api("/api/recommend", { method: "POST", body: { like, unlike, k: 20 } });
    if (seq !== recs.seq) return;
    renderRecommendations(answer);
    box.dataset.state = "ready";
  } catch (err) {
    if (seq !== recs.seq) return;
    clear(box, errorBox(err, "Could not load recommendations", "recommend-error"));
    box.dataset.state = "error";
  } finally {
    if (seq === recs.seq) box.removeAttribute("aria-busy");
  }
}

function renderRecommendations(answer) {
  const box = $("#recommendations");
  recs.answer = answer;
  if (!answer.hits.length) {
    clear(box, emptyState("Nothing to recommend", "No other paper in the index is close to the ones you like, with these marks."));
    return;
  }
  const hits = recs.sort === "date" ? newestFirst(answer.hits) : answer.hits;
  const list = h(
    "ol",
    { class: "hit-list", testid: "recommendation-list" },
    hits.map((hit) => hitItem(hit, { extra: because(hit.because), testid: "recommendation", score: answer.score || "cosine", to: "liked" })),
  );
  const resort = (sort) => {
    recs.sort = sort;
    renderRecommendations(recs.answer);
  };
  clear(
    box,
    h(
      "div",
      { class: "status-line" },
      h("span", null, `${plural(answer.hits.length, "paper")} based on ${plural(answer.like.length, "liked paper")}`, answer.unlike.length ? ` and ${answer.unlike.length.toLocaleString("en")} marked “less like this”` : ""),
      sortSwitch(recs.sort, resort, "recommendation-sort"),
    ),
    list,
  );
}

export function wireRecommendations() {
  onMarksChange(marksChanged);
  $("#feedback-clear").addEventListener("click", clearMarks);
}
