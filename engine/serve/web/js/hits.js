/* One paper in a list (search results, related papers, a topic's papers, recommendations),
 * and the pieces it is made of: date, category pills, topic chip, score, like buttons. */

import { $$, append, h, icon } from "./dom.js";
import { authorsText, formatDate, topicColor } from "./format.js";
import { openPaper, openPaperId } from "./paper.js";
import { mark, marked } from "./state.js";
import { rich, plain } from "./tex.js";
import { showTopic } from "./topics.js";

/* What a hit's score measures. Answers name it ("score": cosine for semantic search and
 * a topic's papers, bm25 for keywords, rrf for hybrid, fused for related papers and
 * recommendations). Fusion scores only order the list, so they are labelled as such
 * rather than passed off as similarities (a related paper's cosine is in its reason). */
const SCORES = {
  cosine: { name: "similarity", short: "sim", digits: (v) => (Math.abs(v) >= 0.1 ? 2 : 3), about: "Cosine similarity of the query and the paper" },
  bm25: { name: "BM25", short: "BM25", digits: () => 1, about: "BM25 keyword score: higher when the query's rarer words occur more often" },
  rrf: { name: "fusion", short: "fusion", digits: () => 3, about: "Rank fusion of the semantic and keyword rankings, Σ 1/(60 + rank): it orders the list, it is not a similarity" },
  fused: { name: "match", short: "match", digits: () => 2, about: "Cosine similarity, shared words and (with sentence vectors) matching sentences, each standardized over the candidates and summed: it orders the list, it is not a similarity" },
  "svm margin": { name: "margin", short: "margin", digits: () => 2, about: "Margin of a linear SVM fitted to the papers you like: it orders the list" },
};

/** ``score`` as the page shows it, e.g. "similarity 0.83" (or "sim 0.83"), "BM25 12.4", "fusion 0.033". */
function scoreText(score, kind = "cosine", { short = false } = {}) {
  const s = SCORES[kind] || SCORES.cosine;
  return `${short ? s.short : s.name} ${score.toFixed(s.digits(score))}`;
}

export function dateEl(iso, testid) {
  return iso ? h("time", { datetime: iso, testid, class: "date" }, formatDate(iso)) : null;
}

/** A topic as a coloured chip; clicking opens the topic, or runs ``onClick`` (e.g. narrow the search). */
export function topicChip(topic, { onClick, level = "fine", testid = "topic-chip" } = {}) {
  if (!topic) return null;
  const label = topic.label || `topic ${topic.id}`;
  const parent = topic.parent && topic.parent.label && topic.parent.label !== label ? topic.parent.label : null;
  return h(
    "button",
    {
      type: "button",
      class: "chip topic-chip",
      testid,
      dataset: { topicId: String(topic.id), level },
      title: onClick ? onClick.title : `Topic: ${label}${parent ? ` (in ${parent})` : ""}. Show this topic`,
      onclick: (event) => {
        event.stopPropagation();
        if (onClick) onClick.run(topic);
        else showTopic(topic.id, level);
      },
    },
    h("span", { class: "dot", style: `background:${topicColor(topic.id)}` }),
    label,
  );
}

export function categoryPills(hit, testid) {
  const cats = hit.categories || [];
  if (!cats.length) return null;
  return h(
    "span",
    { class: "cats", testid },
    cats.map((c) => h("span", { class: `cat${c === hit.primary_category ? " primary" : ""}`, title: c === hit.primary_category ? "primary category" : null }, c)),
  );
}

/** "More like this" / "Less like this" for a paper; ``compact`` shows icons only. */
export function feedbackButtons(paper, { compact = true, prefix = "" } = {}) {
  const make = (kind) => {
    const like = kind === "like";
    const label = like ? "More like this" : "Less like this";
    return h(
      "button",
      {
        type: "button",
        class: `fb-btn fb-${kind}${compact ? " compact" : ""}`,
        "aria-pressed": String(marked(paper.id, kind)),
        "aria-label": compact ? `${label}: ${plain(paper.title || paper.id)}` : null,
        title: compact ? label : null,
        testid: prefix ? `${prefix}-${kind}` : `${kind}-button`,
        dataset: { paperId: paper.id, kind },
        onclick: (event) => {
          event.stopPropagation();
          mark(paper, kind);
        },
      },
      icon(like ? "heart" : "ban"),
      compact ? null : h("span", null, label),
    );
  };
  return h("div", { class: "fb-group", role: "group", "aria-label": "Recommendation feedback" }, make("like"), make("unlike"));
}

/** Every like button on the page shows the current marks (they change from many places). */
export function refreshFeedbackButtons() {
  for (const button of $$(".fb-btn")) {
    button.setAttribute("aria-pressed", String(marked(button.dataset.paperId, button.dataset.kind)));
  }
}

/**
 * One paper in a list.
 * ``score``: what hit.score measures (a key of SCORES); ``fullName``: "similarity"
 * rather than "sim", where the kind changes with the search mode and so needs saying
 * (elsewhere the short name keeps the score on the line of a paper with many
 * categories); ``about``: the score's tooltip where the default one does not fit
 * ("Cosine similarity to this paper"); ``chip``: a topic chip to show instead of the
 * default one (null for none).
 */
export function hitItem(hit, { extra = null, testid = "hit", compact = false, chip = undefined, score = "cosine", fullName = false, about = "" } = {}) {
  const item = h("li", { class: `hit${compact ? " compact" : ""}${openPaperId() === hit.id ? " is-selected" : ""}`, testid, dataset: { id: hit.id } });
  const title = h("button", { type: "button", class: "hit-title", testid: `${testid}-title`, onclick: () => openPaper(hit.id) }, rich(hit.title));
  const limit = compact ? 3 : 6;
  const authors = hit.authors && hit.authors.length ? h("p", { class: "authors", testid: `${testid}-authors`, title: hit.authors.length > limit ? hit.authors.join(", ") : null }, authorsText(hit.authors, limit)) : null;
  const kind = SCORES[score] ? score : "cosine";
  const scoreEl =
    typeof hit.score === "number"
      ? h(
          "span",
          { class: `score score-${kind}`, testid: `${testid}-score`, dataset: { score: String(hit.score), kind }, title: about || SCORES[kind].about },
          scoreText(hit.score, kind, { short: !fullName }),
        )
      : null;
  const meta = h(
    "div",
    { class: "meta" },
    dateEl(hit.date, `${testid}-date`),
    compact ? scoreEl : null,
    compact ? null : categoryPills(hit, `${testid}-categories`),
    chip === undefined ? topicChip(hit.topic) : chip,
    compact ? null : h("span", { class: "spacer" }),
    compact ? null : scoreEl,
  );
  append(
    item,
    h("div", { class: "hit-main" }, compact ? null : h("span", { class: "rank", "aria-hidden": "true" }, String(hit.rank)), h("div", { class: "hit-body" }, title, authors, meta, extra)),
    h("div", { class: "hit-actions" }, feedbackButtons(hit)),
  );
  return item;
}

/** Highlights the open paper wherever it is listed. */
export function markSelected() {
  const id = openPaperId();
  for (const el of $$(".hit[data-id]")) el.classList.toggle("is-selected", el.dataset.id === id);
}
