/* paperscope web page: search, the feed of new papers, paper details, recommendations,
 * topics and the topic map.
 *
 * Native ES modules, no build step, no requests to other hosts. This module wires them
 * up and fills the header. The feature modules import one another's functions in a few
 * cycles (a paper links to the map, the map opens papers); that is safe because none of
 * them calls another's functions while being imported: everything starts from start(). */

import { adoptTokenFromUrl, api, showTokenPrompt, token } from "./api.js";
import { $, clear, h, icon, showBanner } from "./dom.js";
import { feedUrlPart, wireFeed } from "./feed.js";
import { fillTopicSelect, renderActiveFilters } from "./filters.js";
import { plural } from "./format.js";
import { wireKeys } from "./keys.js";
import { libraryPicker, refreshLibraries } from "./library.js";
import { mapMessage, mapUrlPart, wireMap } from "./map.js";
import { paperUrlPart, renderDetailEmpty } from "./paper.js";
import { marksChanged, wireRecommendations } from "./recommend.js";
import { registerView, restoreView, wireHistory } from "./router.js";
import { renderSearchWelcome, searchUrlPart, wireSearch } from "./search.js";
import { app, loadMarks } from "./state.js";
import { wireTheme } from "./theme.js";
import { ensureTopics, topicUrlPart, wireTopics } from "./topics.js";
import { viewUrlPart, wireTabs } from "./views.js";

/** "arxiv87k · 87,412 papers · 63 topics in 35 broad", from /api/health alone. */
function showIndexInfo(health) {
  const info = $('[data-testid="index-info"]');
  const sep = () => h("span", { class: "sep", "aria-hidden": "true" }, "·");
  const fine = Number(health.fine_topics) || 0;
  const coarse = Number(health.coarse_topics) || 0;
  clear(
    info,
    health.name ? [h("span", { class: "index-name", testid: "index-name" }, health.name), sep()] : null,
    h("strong", { testid: "index-papers" }, plural(health.papers, "paper")),
    fine ? [sep(), h("span", { testid: "index-topics" }, plural(fine, "topic"), coarse ? h("span", { class: "muted" }, ` in ${coarse} broad`) : null)] : null,
  );
  info.title = `index ${health.name ? `${health.name} ` : ""}${health.version} · ${health.index_type || "?"} index · ${health.backend || "?"} embeddings · paperscope server up ${Math.round(health.uptime_s)} s`;
  info.dataset.papers = String(health.papers);
}

async function loadHealth() {
  const info = $('[data-testid="index-info"]');
  try {
    const health = await api("/api/health");
    app.health = health;
    showIndexInfo(health);
    if (!health.topics) {
      for (const view of ["topics", "map"]) {
        const tab = $(`#tab-${view}`);
        tab.disabled = true;
        tab.title = "This index has no topics (paperscope topics --refit builds them)";
      }
      $("#f-topic").closest("label").hidden = true;
    }
    // /api/health answers without the token, so this is where a missing one shows first
    if (health.token_required && !token()) showTokenPrompt("This server needs an access token: open the page as /#token=… or enter it here.");
    return health;
  } catch (err) {
    info.textContent = "Server unreachable";
    info.classList.add("bad");
    showBanner(icon("alert"), h("span", { class: "banner-text", role: "alert", testid: "banner-message" }, err.message));
    return null;
  }
}

/** The topic lists for the search's topic menu and the welcome's suggestions; the page
 * works without them, so this never holds anything up. */
async function loadTopicsInBackground() {
  try {
    await Promise.all([ensureTopics("fine"), ensureTopics("coarse").catch(() => null)]);
    fillTopicSelect();
    renderActiveFilters();
    if (!$("#results").dataset.state) {
      clear($("#results"));
      renderSearchWelcome();
    }
  } catch {
    /* the Topics view shows the error when opened */
  }
}

async function start() {
  wireTheme();
  adoptTokenFromUrl();
  wireTabs();
  wireKeys();
  wireSearch();
  wireTopics();
  wireMap();
  wireRecommendations();
  wireFeed();
  $("#feed-library-picker").append(libraryPicker("feed-library"));
  $("#foryou-library-picker").append(libraryPicker("foryou-library"));
  renderDetailEmpty();
  mapMessage();
  marksChanged();
  // the address's parts, in the order a view is restored: the search and the feed's
  // window before the tab that shows them, the topic and the map's view after it
  for (const part of [searchUrlPart, feedUrlPart, viewUrlPart, topicUrlPart, paperUrlPart, mapUrlPart]) registerView(part);
  wireHistory();
  const health = await loadHealth();
  await loadMarks();
  refreshLibraries();
  // links from digests and Atom feeds (/?tab=feed, /?paper=ID) are addresses like any other
  await restoreView();
  if (!$("#results").dataset.state) renderSearchWelcome();
  if (health && health.topics) loadTopicsInBackground();
  document.body.dataset.ready = "true";
}

start();
