/* The Topics view (the list of a level's topics, one topic with its papers), and the
 * topic lists the rest of the page reads: the search's topic filter, the welcome's
 * suggestions. The lists come without their members' ids (papers=false): those are
 * most of the answer (~1.2 MB at 87k papers) and the page never uses them. */

import { api } from "./api.js";
import { $, $$, clear, emptyState, errorBox, h, icon, loadingLines } from "./dom.js";
import { plural, topicColor } from "./format.js";
import { exportButtons } from "./exports.js";
import { hitItem, topicChip } from "./hits.js";
import { showTopicOnMap } from "./map.js";
import { adjusted, navigated } from "./router.js";
import { filterByTopic } from "./search.js";
import { app, currentLibrary } from "./state.js";
import { emergingBadge, ensureTrends, trendChart, trendOf } from "./trends.js";
import { currentView, setView } from "./views.js";

const FIRST_PAPERS = 25; // a screenful or two; "Show all" lists the rest
const MAX_PAPERS = 1000; // the API's limit

const lists = { fine: null, coarse: null }; // biggest first
const loading = {};
/** ``seq`` drops a slow answer for a topic no longer shown. */
const shown = { level: "fine", topic: null, seq: 0 };

/** A level's topics, biggest first, or null until ensureTopics(level) has them. */
export const topicList = (level) => lists[level];

/** A level's topics, fetched once (concurrent callers share the request). */
export async function ensureTopics(level) {
  if (lists[level]) return lists[level];
  if (!loading[level]) {
    loading[level] = api(`/api/topics?level=${level}&papers=false`)
      .then((answer) => {
        lists[level] = answer.topics.slice().sort((a, b) => b.size - a.size || a.id - b.id);
        return lists[level];
      })
      .finally(() => {
        delete loading[level];
      });
  }
  return loading[level];
}

export function topicLabel(id, level) {
  const t = (lists[level] || []).find((x) => x.id === id);
  return t ? t.label : `topic ${id}`;
}

export async function openTopicsView() {
  const list = $("#topic-list");
  if (!lists[shown.level]) clear(list, loadingLines(8));
  try {
    await ensureTopics(shown.level);
  } catch (err) {
    clear(list, errorBox(err, "Could not load the topics", "topics-error"));
    return;
  }
  renderTopicList();
  const level = shown.level;
  ensureTrends(level)
    .then(() => {
      if (shown.level === level) renderTopicList();
    })
    .catch(() => {}); // no trends (an old server): the list simply has no charts
  if (!shown.topic || shown.topic.level !== shown.level) {
    const first = lists[shown.level][0];
    if (first) showTopic(first.id, shown.level, { switchView: false, chosen: false });
    else clear($("#topic-body"), emptyState("No topics", "This index has no topics at this level."));
  }
}

/** Moves the list's mark to the topic shown; false when the list is not this level's
 * yet (then it must be drawn: ~60 topics with a chart each, too much per click). */
function markCurrentTopic() {
  const items = $$("[data-testid=topic-item]", $("#topic-list"));
  if (!items.length || items.some((item) => item.dataset.level !== shown.level)) return false;
  for (const item of items) {
    const current = shown.topic && Number(item.dataset.topicId) === shown.topic.id && item.dataset.level === shown.topic.level;
    if (current) item.setAttribute("aria-current", "true");
    else item.removeAttribute("aria-current");
  }
  return true;
}

function renderTopicList() {
  const list = $("#topic-list");
  const level = shown.level;
  const topics = lists[level] || [];
  const needle = $("#topic-filter").value.trim().toLowerCase();
  const matching = needle ? topics.filter((t) => `${t.label} ${(t.keywords || []).join(" ")}`.toLowerCase().includes(needle)) : topics;
  if (!matching.length) {
    clear(list, h("p", { class: "muted pad" }, needle ? "No topic matches." : "No topics."));
    return;
  }
  const item = (t) =>
    h(
      "button",
      {
        type: "button",
        class: "topic-item",
        testid: "topic-item",
        dataset: { topicId: String(t.id), level: t.level || level },
        "aria-current": shown.topic && shown.topic.id === t.id && shown.topic.level === level ? "true" : null,
        onclick: () => showTopic(t.id, level, { switchView: false }),
      },
      h("span", { class: "dot", style: `background:${topicColor(t.id)}` }),
      h("span", { class: "topic-text" }, h("span", { class: "topic-label" }, t.label), h("span", { class: "topic-keywords" }, (t.keywords || []).slice(0, 3).join(" · "))),
      h("span", { class: "topic-side-info" }, h("span", { class: "count", title: plural(t.size, "paper") }, t.size.toLocaleString("en")), trendChart(trendOf(level, t.id)), emergingBadge(trendOf(level, t.id))),
    );
  clear(list, h("ul", { class: "topics" }, matching.map((t) => h("li", null, item(t)))));
}

function setTopicLevel(level) {
  shown.level = level;
  for (const b of $$("[data-level]", $(".topics-side"))) b.setAttribute("aria-pressed", String(b.dataset.level === level));
}

/** Shows one topic and its papers (the first FIRST_PAPERS, or ``k``). */
export async function showTopic(id, level = "fine", { switchView = true, k = FIRST_PAPERS, chosen = true } = {}) {
  if (switchView) setView("topics", { load: false });
  if (shown.level !== level) setTopicLevel(level);
  shown.topic = { id, level };
  // the reader's choice is a step back can return to; the first topic shown by default is not
  if (chosen) navigated();
  else adjusted();
  const seq = ++shown.seq;
  const body = $("#topic-body");
  body.dataset.state = "loading";
  if (k === FIRST_PAPERS) clear(body, loadingLines(3), h("div", { class: "gap" }), loadingLines(8));
  // the list marks the topic shown, and may not be there yet when a chip brought us here
  ensureTopics(level)
    .then(() => {
      if (shown.level === level && !markCurrentTopic()) renderTopicList();
    })
    .catch((err) => clear($("#topic-list"), errorBox(err, "Could not load the topics", "topics-error")));
  try {
    const trendsReady = ensureTrends(level).catch(() => null);
    const t = await api(`/api/topics/${encodeURIComponent(id)}?level=${level}&k=${k}`);
    await trendsReady;
    if (seq !== shown.seq) return;
    renderTopic(t, level, k);
    body.dataset.state = "ready";
    body.dataset.topicId = String(t.id);
    body.scrollTop = 0;
  } catch (err) {
    if (seq !== shown.seq) return;
    clear(body, errorBox(err, "Could not load this topic", "topic-error"));
    body.dataset.state = "error";
  }
}

function renderTopic(t, level, k) {
  const body = $("#topic-body");
  const parent = t.parent && level === "fine" && t.parent.label ? t.parent : null;
  const hits = t.hits || [];
  clear(
    body,
    h(
      "header",
      { class: "topic-head" },
      h("p", { class: "eyebrow" }, h("span", { class: "dot", style: `background:${topicColor(t.id)}` }), level === "coarse" ? "Broad topic" : "Topic", parent ? [" · in ", topicChip(parent, { level: "coarse", testid: "topic-parent" })] : null),
      h("h1", { testid: "topic-title" }, t.label),
      h("p", { class: "muted" }, plural(t.size, "paper"), t.id < 0 ? " not assigned to any topic" : ""),
      t.keywords && t.keywords.length ? h("ul", { class: "keywords", testid: "topic-keywords", "aria-label": "Keywords" }, t.keywords.map((w) => h("li", null, w))) : null,
      topicTrend(t, level),
      h(
        "div",
        { class: "topic-actions" },
        h("button", { type: "button", class: "btn btn-quiet btn-small", testid: "topic-search", onclick: () => filterByTopic(t, level) }, icon("filter"), "Search in this topic"),
        app.health && app.health.topics ? h("button", { type: "button", class: "btn btn-quiet btn-small", testid: "topic-on-map", onclick: () => showTopicOnMap(t, level) }, icon("map"), "Show on map") : null,
        t.id >= 0 ? followButton(t, level) : null,
        t.id >= 0 ? h("a", { class: "btn-link", href: `/feeds/topic/${level}/${t.id}.atom`, testid: "topic-atom", title: "This topic's new papers in a feed reader" }, "Atom feed") : null,
      ),
      exportButtons({ topic: String(t.id), level }, { testid: "topic-export" }),
    ),
    h("h2", { class: "section-title" }, "Papers, nearest the centre first"),
    hits.length
      ? h("ol", { class: "hit-list", testid: "topic-papers" }, hits.map((hit) => hitItem(hit, { testid: "topic-paper", chip: null, to: "topic" })))
      : emptyState("No papers", null),
    hits.length < t.size && k < MAX_PAPERS
      ? h("button", { type: "button", class: "btn btn-quiet more", testid: "topic-more", onclick: () => showTopic(t.id, level, { switchView: false, k: Math.min(MAX_PAPERS, t.size) }) }, `Show all ${plural(t.size, "paper")}`)
      : null,
  );
}

/** Follows the topic in the current library's feed (which then keeps to followed topics and categories). */
function followButton(t, level) {
  const button = h("button", { type: "button", class: "btn btn-quiet btn-small", testid: "topic-follow" }, "Follow in my feed");
  button.addEventListener("click", async () => {
    try {
      await api(`/api/libraries/${encodeURIComponent(currentLibrary())}/follows/topic/${level}:${t.id}`, { method: "PUT" });
      button.textContent = `Followed in “${currentLibrary()}”`;
      button.disabled = true;
    } catch (err) {
      button.textContent = `Could not follow: ${err.message}`;
    }
  });
  return button;
}

/** Papers per month, with the emerging mark, in the topic view. */
function topicTrend(t, level) {
  const trend = trendOf(level, t.id);
  if (!trend) return null;
  return h("div", { class: "topic-trend" }, h("p", { class: "eyebrow" }, "Papers per month ", emergingBadge(trend)), trendChart(trend, { large: true, testid: "topic-trend-large" }));
}

/** The topic shown in the Topics view, as ``topic=level:id``. */
export const topicUrlPart = {
  read: () => (currentView() === "topics" && shown.topic ? { topic: `${shown.topic.level}:${shown.topic.id}` } : {}),
  apply(params) {
    const found = /^(fine|coarse):(-?\d+)$/.exec(params.get("topic") || "");
    if (!found || params.get("tab") !== "topics") return;
    const [level, id] = [found[1], Number(found[2])];
    if (!shown.topic || shown.topic.id !== id || shown.topic.level !== level) showTopic(id, level, { switchView: false });
  },
};

export function wireTopics() {
  for (const b of $$("[data-level]", $(".topics-side"))) {
    b.addEventListener("click", () => {
      setTopicLevel(b.dataset.level);
      $("#topic-filter").value = "";
      openTopicsView();
    });
  }
  $("#topic-filter").addEventListener("input", renderTopicList);
}
