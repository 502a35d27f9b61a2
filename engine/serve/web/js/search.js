/* The Search view: the query form, results a page at a time, and the welcome shown
 * before the first search. */

import { api, isAbort } from "./api.js";
import { $, clear, emptyState, errorBox, h, icon, loadingLines } from "./dom.js";
import { exportButtons } from "./exports.js";
import { activeFilterCount, currentFilters, setFilters, setTopicFilter, wireFilters } from "./filters.js";
import { plural, topicColor } from "./format.js";
import { hitItem, sortSwitch, topicChip } from "./hits.js";
import { searchResultsChanged } from "./map.js";
import { navigated } from "./router.js";
import { app } from "./state.js";
import { topicLabel, topicList } from "./topics.js";
import { setView } from "./views.js";

export const MODE_NAMES = { hybrid: "Hybrid", dense: "Semantic", lexical: "Keywords" };
/* What each mode's scores are, for a server that does not name them in its answer. */
const MODE_SCORES = { hybrid: "rrf", dense: "cosine", lexical: "bm25" };
const PAGE = 20; // results per page
const MAX_K = 100; // the API's limit

/** ``seq`` and ``controller``: a newer search cancels the one in flight; ``shown``: the
 * search on screen as the URL says it (null before the first); ``sort``: relevance or date. */
const search = { seq: 0, q: "", k: PAGE, hits: [], controller: null, shown: null, sort: "relevance" };
const SORTS = ["relevance", "date"];

/** The hits shown, for the map's "Show search results". */
export const searchHits = () => search.hits;

function setStatus(...children) {
  clear($("#search-status"), children);
}

export async function runSearch({ k = PAGE } = {}) {
  const q = $("#q").value.trim();
  const mode = $("#mode").value;
  const results = $("#results");
  if (!q) {
    setStatus("Type a few words to search.");
    $("#q").focus();
    return;
  }
  const filters = currentFilters();
  search.shown = { q, mode, sort: search.sort, filters };
  const params = new URLSearchParams({ q, k: String(k), mode, sort: search.sort });
  for (const c of filters.categories) params.append("category", c);
  if (filters.since) params.set("since", filters.since);
  if (filters.until) params.set("until", filters.until);
  if (filters.topic) {
    params.set("topic", String(filters.topic.id));
    params.set("level", filters.topic.level);
  }
  const seq = ++search.seq;
  if (search.controller) search.controller.abort();
  const controller = new AbortController();
  search.controller = controller;
  Object.assign(search, { q, k });
  setView("search");
  results.setAttribute("aria-busy", "true");
  results.dataset.state = "loading";
  setStatus(h("span", { class: "spinner", "aria-hidden": "true" }), "Searching…");
  // "Show more" keeps the list in place; a new search clears it
  if (k === PAGE) clear(results, loadingLines(5));
  navigated();
  try {
    const answer = await api(`/api/search?${params}`, { signal: controller.signal });
    if (seq !== search.seq) return;
    search.hits = answer.hits;
    renderResults(answer, filters);
    results.dataset.state = "ready";
    searchResultsChanged();
  } catch (err) {
    if (isAbort(err) || seq !== search.seq) return;
    search.hits = [];
    setStatus();
    clear(results, errorBox(err, "The search failed", "search-error"));
    results.dataset.state = "error";
  } finally {
    if (seq === search.seq) results.removeAttribute("aria-busy");
  }
}

function renderResults(answer, filters) {
  const results = $("#results");
  if (!answer.hits.length) {
    setStatus();
    clear(
      results,
      emptyState(
        `No papers match “${answer.query}”`,
        activeFilterCount(filters) ? "Try fewer filters, or other words." : "Try other words, or the Semantic mode, which matches meaning rather than words.",
      ),
    );
    return;
  }
  const elapsed = typeof answer.elapsed_ms === "number" ? ` · ${Math.round(answer.elapsed_ms).toLocaleString("en")} ms` : "";
  setStatus(
    h("span", { testid: "result-count" }, plural(answer.hits.length, "result")),
    " for ",
    h("q", null, answer.query),
    h("span", { class: "muted" }, ` · ${MODE_NAMES[answer.mode] || answer.mode}${elapsed}`),
    exportButtons({ ids: answer.hits.slice(0, 500).map((hit) => hit.id).join(",") }, { testid: "search-export" }),
    sortSwitch(search.sort, (sort) => {
      search.sort = sort;
      runSearch();
    }, "search-sort"),
  );
  const score = answer.score || MODE_SCORES[answer.mode];
  const list = h(
    "ol",
    { class: "hit-list results-list", testid: "result-list", dataset: { score } },
    answer.hits.map((hit) =>
      hitItem(hit, {
        testid: "result",
        score,
        chip: topicChip(hit.topic, {
          onClick: { title: `Topic: ${hit.topic ? hit.topic.label : ""}. Narrow this search to it`, run: (topic) => filterByTopic(topic, "fine") },
        }),
      }),
    ),
  );
  const more =
    answer.hits.length >= search.k && search.k < MAX_K
      ? h("button", { type: "button", class: "btn btn-quiet more", testid: "more-results", onclick: () => runSearch({ k: Math.min(MAX_K, search.k + PAGE) }) }, "Show more results")
      : null;
  clear(results, list, more);
}

/** The search's part of the address: what was searched, not what is being typed. */
export const searchUrlPart = {
  read() {
    const shown = search.shown;
    if (!shown) return {};
    const f = shown.filters;
    return {
      q: shown.q,
      mode: shown.mode !== "hybrid" ? shown.mode : null,
      sort: shown.sort !== "relevance" ? shown.sort : null,
      category: f.categories,
      since: f.since,
      until: f.until,
      within: f.topic ? `${f.topic.level}:${f.topic.id}` : null,
    };
  },
  apply(params) {
    const q = (params.get("q") || "").trim();
    const mode = MODE_NAMES[params.get("mode")] ? params.get("mode") : "hybrid";
    const sort = SORTS.includes(params.get("sort")) ? params.get("sort") : "relevance";
    const within = /^(fine|coarse):-?\d+$/.test(params.get("within") || "") ? params.get("within").split(":") : null;
    setFilters({
      categories: params.getAll("category").flatMap((c) => c.split(/[\s,]+/)).filter(Boolean),
      since: params.get("since") || "",
      until: params.get("until") || "",
      topic: within ? { level: within[0], id: Number(within[1]) } : null,
    });
    $("#q").value = q;
    $("#mode").value = mode;
    search.sort = sort;
    if (!q) {
      if (search.shown) resetSearch();
      return;
    }
    const wanted = JSON.stringify({ q, mode, sort, filters: currentFilters() });
    const shown = search.shown && JSON.stringify({ q: search.shown.q, mode: search.shown.mode, sort: search.shown.sort, filters: search.shown.filters });
    if (wanted !== shown) runSearch(); // not awaited: the rest of the view restores meanwhile
  },
};

/** Back to before the first search: the welcome. */
function resetSearch() {
  search.seq++;
  if (search.controller) search.controller.abort();
  Object.assign(search, { shown: null, q: "", hits: [] });
  setStatus();
  clear($("#results"));
  delete $("#results").dataset.state;
  renderSearchWelcome();
  searchResultsChanged();
}

/** Narrows the search to a topic: reruns the query, or asks for one. */
export function filterByTopic(topic, level = "fine") {
  setTopicFilter(topic, level);
  setView("search");
  if ($("#q").value.trim()) runSearch();
  else {
    $("#q").focus();
    setStatus(`Type a query to search within “${topic.label || topicLabel(topic.id, level)}”.`);
  }
}

/** What the page is for, with the biggest topics as ready-made queries once they are known. */
export function renderSearchWelcome() {
  const results = $("#results");
  if (results.childElementCount) return;
  const papers = app.health ? plural(app.health.papers, "paper") : "the index";
  const suggestions = (topicList("fine") || [])
    .filter((t) => t.id >= 0)
    .slice()
    .sort((a, b) => b.size - a.size)
    .slice(0, 8);
  const suggestion = (t) =>
    h("button", { type: "button", class: "chip", onclick: () => { $("#q").value = t.label; runSearch(); } }, h("span", { class: "dot", style: `background:${topicColor(t.id)}` }), t.label);
  clear(
    results,
    h(
      "div",
      { class: "welcome", testid: "welcome" },
      h("h1", null, `Search ${papers}`),
      h("p", { class: "muted" }, "Describe what you are looking for in your own words, or paste an abstract. Hybrid search mixes meaning and keywords; quotes keep a phrase together."),
      h(
        "ul",
        { class: "tips" },
        h("li", null, h("strong", null, "Open a paper"), " to read its abstract and see the papers nearest to it."),
        h("li", null, h("strong", null, "Like papers"), " with ", icon("heart", "icon inline like"), "; ", h("em", null, "For you"), " gathers more like them, and ", icon("ban", "icon inline"), " steers away."),
        app.health && app.health.topics ? h("li", null, h("strong", null, "Topics"), " and the ", h("strong", null, "Map"), " group the index by subject; click a topic chip to search within it.") : null,
      ),
      suggestions.length ? h("div", { class: "suggestions" }, h("span", { class: "muted" }, "Try a topic of this index:"), suggestions.map(suggestion)) : null,
    ),
  );
}

export function wireSearch() {
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runSearch();
  });
  $("#mode").addEventListener("change", () => {
    if (search.q && $("#q").value.trim()) runSearch();
  });
  wireFilters({
    onChange: () => {
      if (search.q) runSearch();
    },
    onSubmit: () => runSearch(),
  });
  // "/" jumps to the search box, as on many sites, unless the reader is typing
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      setView("search", { load: false });
      $("#q").focus();
      $("#q").select();
    }
  });
}
