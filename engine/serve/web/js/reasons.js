/* Why a related or recommended paper was chosen, from the answer's ``because``: the
 * liked paper it is closest to (recommendations only), their cosine similarity, the
 * words they share that weigh most, and, in an index built with sentence vectors, the
 * pair of sentences that matched best. */

import { h } from "./dom.js";
import { openPaper } from "./paper.js";
import { rich } from "./tex.js";

export function because(reason) {
  if (!reason) return null;
  const similarity = typeof reason.similarity === "number" ? `similarity ${reason.similarity.toFixed(2)}` : null;
  const source = reason.like
    ? [
        "Because you liked ",
        h("button", { type: "button", class: "link", testid: "because-title", dataset: { id: reason.like }, onclick: () => openPaper(reason.like) }, rich(reason.title || reason.like)),
        similarity ? h("span", { class: "muted" }, ` · ${similarity}`) : null,
      ]
    : [similarity ? h("span", { class: "muted" }, similarity[0].toUpperCase() + similarity.slice(1)) : null];
  const words = reason.words && reason.words.length ? h("span", { class: "shared", testid: "because-words" }, " · shared words ", reason.words.map((w) => h("span", { class: "word" }, w))) : null;
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
