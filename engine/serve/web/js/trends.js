/* Topics over time: each topic's papers per month as a small bar chart, in the topic
 * list and (larger, with its months) in the topic view, and emerging topics marked.
 * From /api/topics/trends, fetched once per level; a page without it simply shows no
 * charts. */

import { api } from "./api.js";
import { h } from "./dom.js";
import { plural } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const answers = {}; // level -> {months, byId}
const loading = {};

/** A level's trends, fetched once (concurrent callers share the request). */
export async function ensureTrends(level) {
  if (answers[level]) return answers[level];
  if (!loading[level]) {
    loading[level] = api(`/api/topics/trends?level=${level}`)
      .then((answer) => {
        answers[level] = { ...answer, byId: new Map(answer.topics.map((t) => [t.id, t])) };
        return answers[level];
      })
      .finally(() => {
        delete loading[level];
      });
  }
  return loading[level];
}

/** The trend of a topic if its level's trends are here (else null). */
export function trendOf(level, id) {
  const answer = answers[level];
  const item = answer && answer.byId.get(id);
  return item ? { item, months: answer.months, recent: answer.recent_months, complete: answer.complete_months } : null;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

/** The compared recent months stand out; months still being collected fade. */
function barKind(i, trend) {
  if (i >= trend.complete) return "partial";
  return i >= trend.complete - trend.recent ? "recent" : "";
}

/** Papers per month as bars; ``large`` adds the first and last month under them. */
export function trendChart(trend, { large = false, testid = "topic-trend" } = {}) {
  if (!trend || trend.months.length < 2) return null; // one month says nothing about time
  const { item, months } = trend;
  const width = large ? 320 : 56;
  const height = large ? 56 : 16;
  const top = Math.max(1, ...item.counts);
  const step = width / item.counts.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: `trend${large ? " trend-large" : ""}`, "aria-hidden": "true" });
  item.counts.forEach((count, i) => {
    const tall = count ? Math.max(1, (count / top) * height) : 0;
    const bar = svg("rect", { x: (i * step).toFixed(2), y: (height - tall).toFixed(2), width: Math.max(1, step - (large ? 1.5 : 0.6)).toFixed(2), height: tall.toFixed(2), class: barKind(i, trend) });
    const title = svg("title", {});
    title.textContent = `${months[i]}: ${plural(count, "paper")}${i >= trend.complete ? " (still being collected)" : ""}`;
    bar.append(title);
    chart.append(bar);
  });
  const said = `${plural(item.counts.reduce((a, b) => a + b, 0), "paper")} from ${months[0]} to ${months[months.length - 1]}`;
  const growth = item.emerging ? `; emerging: its share of the last ${trend.recent} months is ×${item.growth.toFixed(2)} what it was before` : "";
  return h(
    "span",
    { class: `trend-box${large ? " large" : ""}`, testid, role: "img", "aria-label": `${said}${growth}`, title: large ? null : `${said}${growth}`, dataset: { counts: item.counts.join(","), emerging: String(item.emerging) } },
    chart,
    large ? h("span", { class: "trend-months muted" }, h("span", null, months[0]), h("span", null, months[months.length - 1])) : null,
  );
}

/** "▲ emerging ×2.1" for an emerging topic (else null). */
export function emergingBadge(trend) {
  if (!trend || !trend.item.emerging) return null;
  return h("span", { class: "emerging", testid: "topic-emerging", title: `Its share of the last ${trend.recent} months is ×${trend.item.growth.toFixed(2)} what it was before` }, `▲ ×${trend.item.growth.toFixed(1)}`);
}
