/* Why a related or recommended paper was chosen, from the answer's ``because``: the
 * liked paper it is closest to (recommendations only), the
 * words they share that weigh most, and, in an index built with sentence vectors, the
 * pair of sentences that matched best. */

import { h } from "./dom.js";
import { openPaper } from "./paper.js";
import { rich } from "./tex.js";

export function because(reason) {
  if (!reason) return null;
  // the cosine is the hit's relevance, shown on its meta line: not repeated here
  const source = reason.like
    ? ["Because you liked ", h("button", { type: "button", class: "link", testid: "because-title", dataset: { id: reason.like }, onclick: () => openPaper(reason.like) }, rich(reason.title || reason.like))]
    : [];
  const words = reason.words && reason.words.length ? h("span", { class: "shared", testid: "because-words" }, source.length ? " · shared words " : "Shared words ", reason.words.map((w) => h("span", { class: "word" }, w))) : null;
  const pair = reason.sentences
    ? h(
        "span",
        { class: "pair", testid: "because-sentences", title: `These sentences match best (cosine ${reason.sentences.similarity.toFixed(2)})` },
        h("q", { class: "pair-source" }, rich(reason.sentences.source)),
        h("span", { class: "pair-arrow", "aria-label": "matches" }, " ↔ "),
        h("q", { class: "pair-hit" }, rich(reason.sentences.hit)),
      )
    : null;
  return h("p", { class: "because", testid: "because" }, ...source, words, pair);
}
