/* The detail pane: one paper in full (abstract, authors, topic, links) and the papers
 * nearest to it. Opening a paper from the pane keeps a stack, so Back returns. */

import { api } from "./api.js";
import { $, append, clear, errorBox, h, icon, loadingLines } from "./dom.js";
import { encodeId } from "./format.js";
import { categoryPills, dateEl, feedbackButtons, hitItem, markSelected, newestFirst, sortSwitch, topicChip } from "./hits.js";
import { highlightOnMap, showOnMap } from "./map.js";
import { because } from "./reasons.js";
import { navigated } from "./router.js";
import { app } from "./state.js";
import { rich } from "./tex.js";

const MAX_BACK = 50;
const AUTHORS_SHOWN = 12;

/** ``seq`` numbers the requests: a slow answer for a paper no longer open is dropped. */
const detail = { id: null, stack: [], seq: 0, sort: "relevance" };

/** The id of the paper in the pane, or null. */
export const openPaperId = () => detail.id;

export function renderDetailEmpty() {
  const pane = $("#detail");
  pane.dataset.state = "empty";
  clear(
    pane,
    h(
      "div",
      { class: "detail-empty", testid: "detail-empty" },
      h("div", { class: "detail-empty-art", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
      h("p", { class: "empty-title" }, "No paper open"),
      h("p", { class: "muted" }, "Choose a title to read its abstract and the papers nearest to it. Mark papers with ", icon("heart", "icon inline like"), " or ", icon("ban", "icon inline"), " to tune your recommendations."),
    ),
  );
}

export async function openPaper(id, { push = true } = {}) {
  if (!id) return;
  const d = detail;
  if (push && d.id && d.id !== id) {
    d.stack.push(d.id);
    if (d.stack.length > MAX_BACK) d.stack.shift();
  }
  d.id = id;
  const seq = ++d.seq;
  navigated();
  markSelected();
  highlightOnMap(id);
  const pane = $("#detail");
  pane.dataset.state = "loading";
  pane.dataset.id = id;
  clear(pane, h("div", { class: "detail-inner" }, loadingLines(2), h("div", { class: "gap" }), loadingLines(6)));
  pane.scrollTop = 0;
  // below the two-column width the pane sits under the list: bring it into view
  if (window.matchMedia("(max-width: 980px)").matches) pane.scrollIntoView({ block: "start" });
  // both requests leave at once; the related list fills in when it comes
  const paperReq = api(`/api/papers/${encodeId(id)}`);
  const relatedReq = api(`/api/papers/${encodeId(id)}/related?k=10`);
  let paper;
  try {
    paper = await paperReq;
  } catch (err) {
    relatedReq.catch(() => {});
    if (seq !== d.seq) return;
    pane.dataset.state = "error";
    clear(pane, h("div", { class: "detail-inner" }, detailNav(id), errorBox(err, "Could not open this paper", "detail-error")));
    return;
  }
  if (seq !== d.seq) return;
  renderPaper(paper);
  pane.dataset.state = "paper";
  const relatedBox = $("#related");
  try {
    const related = await relatedReq;
    if (seq !== d.seq) return;
    relatedBox.dataset.state = "ready";
    renderRelated(related);
  } catch (err) {
    if (seq !== d.seq) return;
    relatedBox.dataset.state = "error";
    clear(relatedBox, errorBox(err, "Could not load related papers", "related-error"));
  }
}

/** The related papers, by relevance or newest first (the reader's choice, kept while papers change). */
function renderRelated(related) {
  const box = $("#related");
  if (!related.hits.length) {
    clear(box, h("p", { class: "muted" }, "No related papers."));
    return;
  }
  const hits = detail.sort === "date" ? newestFirst(related.hits) : related.hits;
  const resort = (sort) => {
    detail.sort = sort;
    renderRelated(related);
  };
  clear(
    box,
    sortSwitch(detail.sort, resort, "related-sort"),
    h("ol", { class: "hit-list compact-list", testid: "related-list" }, hits.map((hit) => hitItem(hit, { compact: true, testid: "related", score: related.score || "cosine", to: "paper", extra: because(hit.because) }))),
  );
}

export function closePaper() {
  detail.id = null;
  detail.stack = [];
  detail.seq++;
  navigated();
  markSelected();
  highlightOnMap(null);
  renderDetailEmpty();
}

/** The open paper's part of the address. */
export const paperUrlPart = {
  read: () => ({ paper: detail.id }),
  apply(params) {
    const id = params.get("paper");
    if (id && id !== detail.id) openPaper(id, { push: false });
    else if (!id && detail.id) closePaper();
  },
};

function detailNav(id, hasMap = false) {
  const d = detail;
  const back = d.stack.length
    ? h("button", { type: "button", class: "btn-link back", testid: "detail-back", onclick: () => openPaper(d.stack.pop(), { push: false }) }, icon("back"), "Back")
    : null;
  // an id of another shape (a local corpus) has no arXiv page: no link rather than a broken one
  const external = /^[\w.\-/]+$/.test(id)
    ? [
        h("a", { class: "ext", href: `https://arxiv.org/abs/${encodeId(id)}`, target: "_blank", rel: "noopener noreferrer", testid: "arxiv-link" }, "arXiv", icon("external")),
        h("a", { class: "ext", href: `https://arxiv.org/pdf/${encodeId(id)}`, target: "_blank", rel: "noopener noreferrer" }, "PDF", icon("external")),
      ]
    : [];
  return h(
    "div",
    { class: "detail-nav" },
    back,
    h("span", { class: "paper-id", testid: "detail-id" }, id),
    h("span", { class: "spacer" }),
    hasMap ? h("button", { type: "button", class: "btn-link", testid: "show-on-map", title: "Show this paper on the topic map", onclick: () => showOnMap(id) }, icon("map"), "Map") : null,
    external,
    h("button", { type: "button", class: "icon-btn", "aria-label": "Close the paper", title: "Close", testid: "detail-close", onclick: closePaper }, icon("close")),
  );
}

function authorsLine(authors) {
  if (!authors || !authors.length) return null;
  const line = h("p", { class: "detail-authors", testid: "detail-authors" });
  if (authors.length > AUTHORS_SHOWN) {
    const full = authors.join(", ");
    line.append(`${authors.slice(0, AUTHORS_SHOWN).join(", ")} `);
    line.append(h("button", { type: "button", class: "link", onclick: () => { line.textContent = full; } }, `+ ${authors.length - AUTHORS_SHOWN} more`));
  } else line.textContent = authors.join(", ");
  return line;
}

function renderPaper(p) {
  const pane = $("#detail");
  const facts = h("dl", { class: "facts" });
  const fact = (term, ...value) => append(facts, [h("dt", null, term), h("dd", null, value)]);
  const dates = [dateEl(p.date, "detail-date")];
  if (p.updated && p.updated !== p.date) dates.push(h("span", { class: "muted" }, " · updated "), dateEl(p.updated));
  if (p.version) dates.push(h("span", { class: "muted" }, ` · ${p.version}`));
  fact("Published", dates);
  if (p.categories && p.categories.length) fact("Categories", categoryPills(p, "detail-categories"));
  if (p.topic) {
    const parent = p.topic.parent && p.topic.parent.label && p.topic.parent.label !== p.topic.label ? p.topic.parent : null;
    fact("Topic", h("span", { class: "chips" }, topicChip(p.topic, { testid: "detail-topic" }), parent ? h("span", { class: "chip-group" }, h("span", { class: "muted small" }, "in"), topicChip(parent, { level: "coarse", testid: "detail-parent-topic" })) : null));
  }
  if (p.comment) fact("Comment", h("span", { testid: "detail-comment" }, rich(p.comment)));
  const hasMap = app.health && app.health.topics;
  clear(
    pane,
    h(
      "article",
      { class: "detail-inner", testid: "paper-detail", dataset: { id: p.id } },
      detailNav(p.id, hasMap),
      h("h2", { class: "detail-title", testid: "detail-title" }, rich(p.title)),
      authorsLine(p.authors),
      h("div", { class: "detail-actions" }, feedbackButtons(p, { compact: false, prefix: "detail" })),
      facts,
      h("section", { class: "abstract-section" }, h("h3", null, "Abstract"), h("p", { class: "abstract", testid: "detail-abstract" }, p.abstract ? rich(p.abstract) : h("span", { class: "muted" }, "No abstract in the index."))),
      h("section", { class: "related-section" }, h("h3", null, "Related papers"), h("div", { id: "related", testid: "related-box", dataset: { state: "loading" } }, loadingLines(4))),
    ),
  );
}
