/* One paper in a list (search results, related papers, a topic's papers, recommendations),
 * and the pieces it is made of: date, category pills, topic chip, score, like buttons. */

import { $$, append, h, icon } from "./dom.js";
import { authorsText, formatDate, topicColor } from "./format.js";
import { openPaper, openPaperId } from "./paper.js";
import { mark, marked } from "./state.js";
import { rich, plain } from "./tex.js";
import { showTopic } from "./topics.js";

/* What a hit's score measures (answers name it: cosine, bm25, rrf, fused, svm margin). The
 * page does not show it: it orders the list and differs by mode. What a reader sees is
 * the hit's relevance, the same figure everywhere (see relevanceEl); the score stays in
 * the element's data and tooltip, and in the CLI's --json. */
const SCORES = {
  cosine: "cosine similarity",
  bm25: "BM25 keyword score",
  rrf: "rank fusion of the semantic and keyword rankings",
  fused: "cosine, shared words and matching sentences, standardized and summed",
  "svm margin": "margin of a linear SVM fitted to the papers you like",
};

/** What the relevance is measured against, by list. */
export const RELEVANCE_TO = {
  query: "your query",
  paper: "the open paper",
  liked: "the liked paper it is closest to",
  topic: "the topic's centre",
};

/** "62% match" with a five-step meter: the cosine of the paper to what was asked. */
export function relevanceEl(hit, { to = "query", score = "cosine", testid = "hit" } = {}) {
  if (typeof hit.relevance !== "number") return null;
  const percent = Math.round(hit.relevance * 100);
  const steps = Math.max(0, Math.min(5, Math.round(hit.relevance * 5)));
  const order = typeof hit.score === "number" ? ` Ordered by ${SCORES[score] || score} (${hit.score}).` : "";
  return h(
    "span",
    {
      class: "relevance",
      testid: `${testid}-relevance`,
      dataset: { relevance: String(hit.relevance), score: typeof hit.score === "number" ? String(hit.score) : "", kind: score },
      title: `Match ${percent}%: how close this paper's meaning is to ${RELEVANCE_TO[to] || to} (cosine similarity of their embeddings; the same measure in every mode and list).${order}`,
    },
    h("span", { class: "meter", "aria-hidden": "true" }, [1, 2, 3, 4, 5].map((i) => h("span", { class: i <= steps ? "on" : null }))),
    `${percent}%`,
    h("span", { class: "visually-hidden" }, " match"),
  );
}

/** The matched passage of an abstract, its matched words in <mark> (spans from the
 * server; the text is never parsed as HTML). Marks inside $…$ are dropped so every
 * piece between marks keeps its maths whole. */
export function snippetEl(snippet, testid = "snippet") {
  if (!snippet || !snippet.text) return null;
  const text = snippet.text;
  const maths = [...text.matchAll(/\$[^$]*\$/g)].map((m) => [m.index, m.index + m[0].length]);
  const marks = (snippet.marks || []).filter(([a, b]) => Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b <= text.length && a < b && !maths.some(([s, e]) => a < e && b > s));
  const el = h("p", { class: "snippet", testid });
  let at = 0;
  for (const [a, b] of marks) {
    if (a < at) continue;
    if (a > at) el.append(rich(text.slice(at, a)));
    el.append(h("mark", null, text.slice(a, b)));
    at = b;
  }
  if (at < text.length) el.append(rich(text.slice(at)));
  return el;
}

/** ``hits`` newest first (undated last; a stable sort keeps relevance order within a day). */
export function newestFirst(hits) {
  return hits.slice().sort((a, b) => (b.date || "").localeCompare(a.date || ""));
}

/** "Relevance | Newest": how a list is ordered; ``onChange(sort)`` re-renders it. */
export function sortSwitch(sort, onChange, testid) {
  const button = (value, label) =>
    h("button", { type: "button", class: "seg", "aria-pressed": String(sort === value), dataset: { sort: value }, onclick: () => sort !== value && onChange(value) }, label);
  return h("div", { class: "segmented sort-switch", role: "group", "aria-label": "Sort by", testid }, button("relevance", "Relevance"), button("date", "Newest"));
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
 * ``score``: what hit.score measures (a key of SCORES); ``to``: what its relevance is
 * measured against (a key of RELEVANCE_TO); ``chip``: a topic chip to show instead of
 * the default one (null for none); ``extra``: more below the meta line (why).
 */
export function hitItem(hit, { extra = null, testid = "hit", compact = false, chip = undefined, score = "cosine", to = "query" } = {}) {
  const item = h("li", { class: `hit${compact ? " compact" : ""}${openPaperId() === hit.id ? " is-selected" : ""}`, testid, dataset: { id: hit.id } });
  const title = h("button", { type: "button", class: "hit-title", testid: `${testid}-title`, onclick: () => openPaper(hit.id) }, rich(hit.title));
  const limit = compact ? 3 : 6;
  const authors = hit.authors && hit.authors.length ? h("p", { class: "authors", testid: `${testid}-authors`, title: hit.authors.length > limit ? hit.authors.join(", ") : null }, authorsText(hit.authors, limit)) : null;
  const relevance = relevanceEl(hit, { to, score, testid });
  const meta = h(
    "div",
    { class: "meta" },
    dateEl(hit.date, `${testid}-date`),
    compact ? relevance : null,
    compact ? null : categoryPills(hit, `${testid}-categories`),
    chip === undefined ? topicChip(hit.topic) : chip,
    compact ? null : h("span", { class: "spacer" }),
    compact ? null : relevance,
  );
  append(
    item,
    h("div", { class: "hit-main" }, compact ? null : h("span", { class: "rank", "aria-hidden": "true" }, String(hit.rank)), h("div", { class: "hit-body" }, title, authors, snippetEl(hit.snippet, `${testid}-snippet`), meta, extra)),
    h("div", { class: "hit-actions" }, feedbackButtons(hit)),
  );
  return item;
}

/** Highlights the open paper wherever it is listed. */
export function markSelected() {
  const id = openPaperId();
  for (const el of $$(".hit[data-id]")) el.classList.toggle("is-selected", el.dataset.id === id);
}
