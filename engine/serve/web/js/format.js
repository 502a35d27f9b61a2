/* Numbers, dates, names and colours as the page writes them. */

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
  "#9c755f", "#6b8fd6", "#d37295", "#8cd17d", "#b6992d", "#499894", "#e17c05", "#86bcb6",
  "#a0cbe8", "#ffbe7d", "#d4a6c8", "#79706e",
];
const OUTLIER = "#c9ced6";

/** "2025-03-14" as "14 Mar 2025": unambiguous whatever the reader's locale. */
export function formatDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
  if (!m) return iso || "";
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1] || m[2]} ${m[1]}`;
}

export function authorsText(authors, limit = 6) {
  if (!authors || !authors.length) return "";
  if (authors.length <= limit) return authors.join(", ");
  return `${authors.slice(0, limit - 1).join(", ")} + ${authors.length - limit + 1} more`;
}

export const plural = (n, one, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

/** A topic's colour, the same in chips, the topic list and the map; grey for outliers. */
export const topicColor = (id) => (id === null || id === undefined || id < 0 ? OUTLIER : PALETTE[id % PALETTE.length]);

/** An arXiv id in a URL path: old-style ids (hep-th/9901001) keep their slash. */
export function encodeId(id) {
  return String(id).split("/").map(encodeURIComponent).join("/");
}
