/* Downloads of papers as BibTeX, CSL-JSON or CSV (GET /api/export). A plain link
 * would not carry the access token, so the file is fetched with it and handed to the
 * browser as a blob. */

import { token } from "./api.js";
import { h, showBanner } from "./dom.js";

const FORMATS = [
  ["bibtex", "BibTeX"],
  ["csl-json", "CSL-JSON"],
  ["csv", "CSV"],
];

function fileName(response, fallback) {
  const header = response.headers.get("content-disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)/i.exec(header);
  return match ? decodeURIComponent(match[1]) : fallback;
}

/** Fetches /api/export with ``params`` (one of library, q, topic, ids) and saves the file. */
export async function download(params, format) {
  const query = new URLSearchParams({ ...params, format });
  const headers = {};
  const secret = token();
  if (secret) headers.Authorization = `Bearer ${secret}`;
  try {
    const response = await fetch(`/api/export?${query}`, { headers, credentials: "same-origin" });
    if (!response.ok) {
      const payload = await response.json().catch(() => null);
      throw new Error((payload && payload.error) || `The server answered ${response.status}`);
    }
    const blob = await response.blob();
    const link = h("a", { href: URL.createObjectURL(blob), download: fileName(response, `paperscope.${format}`), hidden: true });
    document.body.append(link);
    link.click();
    setTimeout(() => {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 1000);
  } catch (err) {
    showBanner(`Could not export: ${err.message}`);
  }
}

/** "Export: BibTeX · CSL-JSON · CSV" for what ``params`` selects. */
export function exportButtons(params, { testid = "export", label = "Export" } = {}) {
  return h(
    "div",
    { class: "export-row", role: "group", "aria-label": label, testid },
    h("span", { class: "muted" }, `${label}:`),
    FORMATS.map(([format, name]) =>
      h("button", { type: "button", class: "btn-link", testid: `${testid}-${format}`, onclick: () => download(params, format) }, name),
    ),
  );
}
